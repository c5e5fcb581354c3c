package api_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"berth/driver/connect"
	"berth/driver/drivertest"
	"berth/functions/api"

	dcontainer "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
)

// BenchmarkSpawn: POST /v1/containers until the 201 (the container running)
// against the baseline, the same engine client calling ContainerCreate and
// ContainerStart with the configuration Berth produced, alternating.
// Run with -benchtime Nx (make bench uses 60x).
func BenchmarkSpawn(b *testing.B) {
	e := newEnv(b, "docker", nil)
	ctx := context.Background()
	// The baseline's configuration is the one Berth gave a container.
	probe := e.create(admin, map[string]string{"image": "berth/demo"})
	info, err := e.cli.ContainerInspect(ctx, probe.ID)
	if err != nil {
		b.Fatal(err)
	}
	e.do("DELETE", "/v1/containers/"+probe.ID, admin, nil)
	config, hostConfig := info.Config, info.HostConfig
	config.Hostname = "" // the engine picks one, as it did for Berth's

	var berth, engine []time.Duration
	var ids []string
	viaBerth := func() {
		began := time.Now()
		c := e.create(admin, map[string]string{"image": "berth/demo"})
		berth = append(berth, time.Since(began))
		ids = append(ids, c.ID)
	}
	viaEngine := func() {
		began := time.Now()
		resp, err := e.cli.ContainerCreate(ctx, config, hostConfig, &network.NetworkingConfig{}, nil, fmt.Sprintf("bench-%s-%d", e.instance, len(engine)))
		if err == nil {
			err = e.cli.ContainerStart(ctx, resp.ID, dcontainer.StartOptions{})
		}
		engine = append(engine, time.Since(began))
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, resp.ID)
	}
	alternate(b, viaBerth, viaEngine, func() {
		for _, id := range ids {
			if err := e.cli.ContainerRemove(ctx, id, dcontainer.RemoveOptions{Force: true}); err != nil {
				b.Fatal(err)
			}
		}
		ids = ids[:0]
	})
	report(b, "spawn", berth, engine)
}

// BenchmarkList: GET /v1/containers over 200 Berth containers against the
// baseline, one filtered ContainerList on the same client, alternating.
func BenchmarkList(b *testing.B) {
	const n = 200
	e := newEnv(b, "docker", nil)
	ctx := context.Background()
	for i := range n {
		spec := drivertest.Spec(fmt.Sprintf("list%d", i), "admin")
		if _, err := e.driver.Create(ctx, spec); err != nil {
			b.Fatal(err)
		}
	}
	args := filters.NewArgs(filters.Arg("label", "berth.instance="+e.instance))
	var berth, engine []time.Duration
	b.ResetTimer()
	for range b.N {
		began := time.Now()
		resp := e.do("GET", "/v1/containers", admin, nil)
		berth = append(berth, time.Since(began))
		if resp.code != http.StatusOK || strings.Count(string(resp.body), `"container_id"`) != n {
			b.Fatalf("list: %d, %d containers", resp.code, strings.Count(string(resp.body), `"container_id"`))
		}

		began = time.Now()
		list, err := e.cli.ContainerList(ctx, dcontainer.ListOptions{All: true, Filters: args})
		engine = append(engine, time.Since(began))
		if err != nil || len(list) != n {
			b.Fatalf("baseline list: %d, %v", len(list), err)
		}
	}
	report(b, fmt.Sprintf("list of %d", n), berth, engine)
}

// alternate runs berth and engine b.N times each, alternating which goes
// first (the second of a pair shares the machine with the first's start-up),
// and runs cleanup untimed after each pair.
func alternate(b *testing.B, berth, engine, cleanup func()) {
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			berth()
			engine()
		} else {
			engine()
			berth()
		}
		b.StopTimer()
		cleanup()
		b.StartTimer()
	}
}

// report prints and records p50 and p95 of both sides and their ratios.
func report(b *testing.B, what string, berth, engine []time.Duration) {
	b.StopTimer()
	bp50, bp95 := percentile(berth, 50), percentile(berth, 95)
	ep50, ep95 := percentile(engine, 50), percentile(engine, 95)
	r50, r95 := float64(bp50)/float64(ep50), float64(bp95)/float64(ep95)
	fmt.Printf("%s (n=%d each): berth p50 %v p95 %v | engine p50 %v p95 %v | ratio p50 %.3f p95 %.3f\n",
		what, len(berth), bp50.Round(10*time.Microsecond), bp95.Round(10*time.Microsecond),
		ep50.Round(10*time.Microsecond), ep95.Round(10*time.Microsecond), r50, r95)
	b.ReportMetric(float64(bp50.Microseconds())/1000, "berth-p50-ms")
	b.ReportMetric(float64(ep50.Microseconds())/1000, "engine-p50-ms")
	b.ReportMetric(r50, "p50-ratio")
	b.ReportMetric(r95, "p95-ratio")
	b.ReportMetric(0, "ns/op") // the per-op time mixes both sides; the ratios are the result
}

func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

// BenchmarkSwarmSpawn: POST /v1/containers on the swarm driver (over TLS)
// until the 201 (task running, ports known) against the baseline, the same
// client calling ServiceCreate with the spec Berth produced and polling its
// tasks until one runs, at the driver's poll interval. Alternating.
func BenchmarkSwarmSpawn(b *testing.B) {
	e := newEnv(b, "swarm", nil)
	ctx := context.Background()
	probe := e.create(admin, map[string]string{"image": "berth/demo"})
	svc, _, err := e.cli.ServiceInspectWithRaw(ctx, probe.ID, swarm.ServiceInspectOptions{})
	if err != nil {
		b.Fatal(err)
	}
	e.do("DELETE", "/v1/containers/"+probe.ID, admin, nil)
	one := uint64(1)
	spec := svc.Spec
	spec.Mode.Replicated.Replicas = &one
	spec.Labels = map[string]string{"berth.instance": e.instance} // swept, but not Berth's

	var berth, engine []time.Duration
	var ids []string
	viaBerth := func() {
		began := time.Now()
		c := e.create(admin, map[string]string{"image": "berth/demo"})
		berth = append(berth, time.Since(began))
		ids = append(ids, c.ID)
	}
	viaEngine := func() {
		s := spec
		s.Name = fmt.Sprintf("bench-%d-%s", len(engine), e.instance)
		began := time.Now()
		resp, err := e.cli.ServiceCreate(ctx, s, swarm.ServiceCreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		waitTask(b, e, resp.ID)
		engine = append(engine, time.Since(began))
		ids = append(ids, resp.ID)
	}
	alternate(b, viaBerth, viaEngine, func() {
		for _, id := range ids {
			if err := e.cli.ServiceRemove(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
		ids = ids[:0]
	})
	report(b, "swarm spawn", berth, engine)
}

// waitTask polls the service's tasks every 20ms until one runs.
func waitTask(b *testing.B, e *env, id string) {
	for {
		tasks, err := e.cli.TaskList(context.Background(), swarm.TaskListOptions{Filters: filters.NewArgs(
			filters.Arg("service", id), filters.Arg("desired-state", "running"))})
		if err != nil {
			b.Fatal(err)
		}
		for _, t := range tasks {
			if t.Status.State == swarm.TaskStateRunning {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkSwarmScale: scaling a service from 0 to 5 replicas through the
// API until all five run, against ServiceUpdate to 5 on the same client and
// polling until five tasks run.
func BenchmarkSwarmScale(b *testing.B) {
	e := newEnv(b, "swarm", func(cfg *api.Config) { cfg.MaxReplicas = 5 })
	ctx := context.Background()
	var berth, engine []time.Duration
	for i := range b.N {
		name := fmt.Sprintf("scale%d-%s", i, e.instance[len(e.instance)-6:])
		if r := e.do("POST", "/v1/services", admin, map[string]any{"name": name, "image": "berth/demo:latest", "ports": []int{8080}}); r.code != 201 {
			b.Fatal(r)
		}
		raw := name + "-raw"
		svc, _, err := e.cli.ServiceInspectWithRaw(ctx, name, swarm.ServiceInspectOptions{})
		if err != nil {
			b.Fatal(err)
		}
		spec := svc.Spec
		spec.Name, spec.Labels = raw, map[string]string{"berth.instance": e.instance}
		resp, err := e.cli.ServiceCreate(ctx, spec, swarm.ServiceCreateOptions{})
		if err != nil {
			b.Fatal(err)
		}

		began := time.Now()
		e.do("POST", "/v1/services/"+name+"/scale", admin, `{"replicas":5}`)
		for running := 0; running < 5; time.Sleep(20 * time.Millisecond) { // the baseline's poll
			var status struct{ Running int }
			e.do("GET", "/v1/services/"+name+"/status", admin, nil).decode(b, &status)
			running = status.Running
		}
		berth = append(berth, time.Since(began))

		began = time.Now()
		five := uint64(5)
		cur, _, _ := e.cli.ServiceInspectWithRaw(ctx, resp.ID, swarm.ServiceInspectOptions{})
		cur.Spec.Mode.Replicated.Replicas = &five
		if _, err := e.cli.ServiceUpdate(ctx, resp.ID, cur.Version, cur.Spec, swarm.ServiceUpdateOptions{}); err != nil {
			b.Fatal(err)
		}
		for running := 0; running < 5; time.Sleep(20 * time.Millisecond) {
			s, _ := e.cli.ServiceList(ctx, swarm.ServiceListOptions{Status: true, Filters: filters.NewArgs(filters.Arg("id", resp.ID))})
			if len(s) == 1 && s[0].ServiceStatus != nil {
				running = int(s[0].ServiceStatus.RunningTasks)
			}
		}
		engine = append(engine, time.Since(began))
		e.do("DELETE", "/v1/services/"+name, admin, nil)
		e.cli.ServiceRemove(ctx, resp.ID)
	}
	report(b, "swarm scale 0→5", berth, engine)
}

// BenchmarkTLSGet: GET /v1/containers/{id} with the swarm driver reaching
// the engine over TLS against the same driver and engine over its unix
// socket, alternating; then counts the TCP connections the TLS side opened
// (each one handshake), from the kernel's table.
func BenchmarkTLSGet(b *testing.B) {
	overTLS := newEnv(b, "swarm", nil)
	swarmEngine := privateSwarm.Get(b)
	cfg := connect.Config{Driver: "swarm", Host: swarmEngine.Socket, Instance: overTLS.instance, Network: "berth-" + overTLS.instance, DialTimeout: 5 * time.Second, CallTimeout: 30 * time.Second}
	d, err := connect.Open(cfg, "")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	overUnix := newEnvWith(b, envOptions{cli: overTLS.cli, instance: overTLS.instance, driver: d, listenHost: swarmEngine.HostIP, portHost: swarmEngine.IP}, nil)
	c := overTLS.create(admin, map[string]string{"image": "berth/demo"})
	get := func(e *env) time.Duration {
		began := time.Now()
		if r := e.do("GET", "/v1/containers/"+c.ID, admin, nil); r.code != 200 {
			b.Fatal(r)
		}
		return time.Since(began)
	}
	get(overTLS) // warm: the connection and API version negotiation
	get(overUnix)
	before := tcpConnections(b, swarmEngine.IP, 2376)
	var tlsTimes, unixTimes []time.Duration
	b.ResetTimer()
	for range b.N {
		tlsTimes = append(tlsTimes, get(overTLS))
		unixTimes = append(unixTimes, get(overUnix))
	}
	b.StopTimer()
	after := tcpConnections(b, swarmEngine.IP, 2376)
	fmt.Printf("TLS connections to the engine: %d before %d requests, %d after (each new connection is one handshake)\n", before, b.N, after)
	b.ReportMetric(float64(after-before), "new-TLS-conns")
	report(b, "GET /v1/containers/{id}, TLS vs unix socket", tlsTimes, unixTimes)
}

// tcpConnections counts this namespace's TCP sockets to ip:port in any state
// (TIME_WAIT included), from /proc/net/tcp.
func tcpConnections(b *testing.B, ip string, port int) int {
	raw, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		b.Fatal(err)
	}
	addr := net.ParseIP(ip).To4()
	want := fmt.Sprintf("%02X%02X%02X%02X:%04X", addr[3], addr[2], addr[1], addr[0], port)
	n := 0
	for _, line := range strings.Split(string(raw), "\n")[1:] {
		if f := strings.Fields(line); len(f) > 2 && f[2] == want {
			n++
		}
	}
	return n
}
