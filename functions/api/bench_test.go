package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"berth/driver/drivertest"

	dcontainer "github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
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
	b.ResetTimer()
	for i := range b.N {
		// Alternate which side goes first: the second spawn of a pair shares
		// the machine with the first container's start-up.
		if i%2 == 0 {
			viaBerth()
			viaEngine()
		} else {
			viaEngine()
			viaBerth()
		}
		b.StopTimer()
		for _, id := range ids {
			if err := e.cli.ContainerRemove(ctx, id, dcontainer.RemoveOptions{Force: true}); err != nil {
				b.Fatal(err)
			}
		}
		ids = ids[:0]
		b.StartTimer()
	}
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
