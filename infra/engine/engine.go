// Package engine starts a private Docker engine: its own dockerd, data root
// and network namespace, optionally listening with TLS and in swarm mode. It
// is the production setup in miniature (a swarm reached over TLS) for tests
// and for development (make swarm-up), and it leaves the machine's own
// engine alone: bridges, iptables rules and swarm state stay in the namespace.
//
// It needs root, iproute2 (ip), util-linux (nsenter) and dockerd.
package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"berth/infra/tlscerts"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
)

// Options say what engine to start.
type Options struct {
	// Dir holds everything of the engine; it must not exist yet, and it is
	// removed by Stop. Keep it short: socket paths are limited in length.
	Dir string
	// TLS makes the engine listen on tcp://IP:2376 with --tlsverify and
	// generated certificates (see Engine.CertDir).
	TLS bool
	// Swarm puts the engine into swarm mode, advertising IP.
	Swarm bool
	// Detach lets the engine outlive this process (make swarm-up). Otherwise
	// it is terminated when the process that started it dies.
	Detach bool
	// Log receives dockerd's output; nil discards it.
	Log io.Writer
}

// Engine is a running private engine. Its JSON form is kept in Dir so that
// another process can stop it (Load).
type Engine struct {
	Dir     string `json:"dir"`
	Netns   string `json:"netns"`
	HostIP  string `json:"host_ip"`  // this host, as the engine's containers reach it
	IP      string `json:"ip"`       // the engine; published ports are reached here
	OtherIP string `json:"other_ip"` // the engine too, but not in its certificate
	Socket  string `json:"socket"`   // unix:///…/docker.sock, always served
	TCPHost string `json:"tcp_host"` // tcp://IP:2376 with TLS, else ""
	CertDir string `json:"cert_dir"` // ca.pem, cert.pem, key.pem for the client
	Swarm   bool   `json:"swarm"`
	PID     int    `json:"pid"`
}

const stateFile = "engine.json"

// Start starts an engine and waits until it answers (and leads its swarm).
func Start(ctx context.Context, opts Options) (_ *Engine, err error) {
	if err := os.Mkdir(opts.Dir, 0o700); err != nil {
		return nil, err
	}
	e := &Engine{Dir: opts.Dir, Swarm: opts.Swarm, Socket: "unix://" + filepath.Join(opts.Dir, "docker.sock")}
	defer func() {
		if err != nil {
			e.Stop(context.Background())
		}
	}()
	if err := e.makeNetns(); err != nil {
		return nil, err
	}
	args := []string{"--net=/var/run/netns/" + e.Netns, "dockerd",
		"--config-file", filepath.Join(opts.Dir, "daemon.json"),
		"--data-root", filepath.Join(opts.Dir, "data"),
		"--exec-root", filepath.Join(opts.Dir, "exec"),
		"--pidfile", filepath.Join(opts.Dir, "dockerd.pid"),
		"--storage-driver", "vfs", // no dependency on the host's overlay support
		"--no-new-privileges", // swarm services cannot ask for it; the daemon sets it for all
		"-H", e.Socket,
	}
	if err := os.WriteFile(filepath.Join(opts.Dir, "daemon.json"), []byte("{}"), 0o600); err != nil {
		return nil, err
	}
	if opts.TLS {
		files, err := tlscerts.WriteEngineSet(filepath.Join(opts.Dir, "certs"), []string{e.IP, "localhost"}, 30*24*time.Hour)
		if err != nil {
			return nil, err
		}
		e.CertDir, e.TCPHost = files.Dir, "tcp://"+net.JoinHostPort(e.IP, "2376")
		args = append(args, "-H", "tcp://0.0.0.0:2376", "--tlsverify",
			"--tlscacert", files.CA, "--tlscert", files.ServerCert, "--tlskey", files.ServerKey)
	}
	cmd := exec.Command("nsenter", args...)
	cmd.Stdout, cmd.Stderr = opts.Log, opts.Log
	if opts.Log == nil {
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	}
	if opts.Detach {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start dockerd: %w", err)
	}
	e.PID = cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := e.save(); err != nil {
		return nil, err
	}

	cli, err := e.Client()
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	for {
		ping, cancel := context.WithTimeout(ctx, time.Second)
		_, err := cli.Ping(ping)
		cancel()
		if err == nil {
			break
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("dockerd exited: %v", err)
		case <-ctx.Done():
			return nil, fmt.Errorf("dockerd did not answer: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if opts.Swarm {
		if _, err := cli.SwarmInit(ctx, swarm.InitRequest{ListenAddr: net.JoinHostPort(e.IP, "2377"), AdvertiseAddr: e.IP}); err != nil {
			return nil, fmt.Errorf("swarm init: %w", err)
		}
	}
	return e, nil
}

// Client returns a client on the engine's unix socket (no TLS involved).
func (e *Engine) Client() (*client.Client, error) {
	return client.NewClientWithOpts(client.WithHost(e.Socket), client.WithAPIVersionNegotiation())
}

// Load returns the engine whose state is kept in dir.
func Load(dir string) (*Engine, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var e Engine
	return &e, json.Unmarshal(b, &e)
}

func (e *Engine) save() error {
	b, _ := json.MarshalIndent(e, "", "  ")
	return os.WriteFile(filepath.Join(e.Dir, stateFile), b, 0o600)
}

// makeNetns creates the engine's network namespace and a veth pair to it:
// a /29 with this host at .1 and the engine at .2 and .3.
func (e *Engine) makeNetns() error {
	b := make([]byte, 3)
	var subnet netip.Prefix
	for {
		rand.Read(b)
		subnet = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 200 + b[0]%50, b[1], b[2] &^ 7}), 29)
		if !inUse(subnet) {
			break
		}
	}
	e.Netns = "berth-" + hex.EncodeToString(b)
	host := subnet.Addr().Next()
	e.HostIP, e.IP, e.OtherIP = host.String(), host.Next().String(), host.Next().Next().String()
	hostIf, nsIf := e.Netns+"h", e.Netns+"n"
	steps := [][]string{
		{"netns", "add", e.Netns},
		{"link", "add", hostIf, "type", "veth", "peer", "name", nsIf},
		{"link", "set", nsIf, "netns", e.Netns},
		{"addr", "add", e.HostIP + "/29", "dev", hostIf},
		{"link", "set", hostIf, "up"},
		{"-n", e.Netns, "addr", "add", e.IP + "/29", "dev", nsIf},
		{"-n", e.Netns, "addr", "add", e.OtherIP + "/29", "dev", nsIf},
		{"-n", e.Netns, "link", "set", nsIf, "up"},
		{"-n", e.Netns, "link", "set", "lo", "up"},
		{"-n", e.Netns, "route", "add", "default", "via", e.HostIP},
	}
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	return nil
}

// inUse reports whether an address of this host's namespace lies in subnet.
func inUse(subnet netip.Prefix) bool {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && (subnet.Contains(p.Addr()) || p.Contains(subnet.Addr())) {
			return true
		}
	}
	return false
}

// Stop stops the engine and removes everything it made: its containers and
// swarm go with its data root, its namespace and veth with the namespace.
func (e *Engine) Stop(ctx context.Context) error {
	var errs []error
	if e.PID > 0 {
		if p, err := os.FindProcess(e.PID); err == nil && p.Signal(syscall.SIGTERM) == nil {
			deadline := time.Now().Add(20 * time.Second)
			for p.Signal(syscall.Signal(0)) == nil && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if p.Signal(syscall.Signal(0)) == nil {
				p.Kill()
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	errs = append(errs, unmountUnder(e.Dir))
	if err := os.RemoveAll(e.Dir); err != nil {
		errs = append(errs, err)
	}
	if e.Netns != "" {
		// Deleting the namespace takes its end of the veth pair, and so the pair.
		if out, err := exec.Command("ip", "netns", "del", e.Netns).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip netns del: %v: %s", err, out))
		}
		exec.Command("ip", "link", "del", e.Netns+"h").Run()
	}
	return errors.Join(errs...)
}

// unmountUnder lazily unmounts whatever dockerd left mounted below dir,
// deepest first.
func unmountUnder(dir string) error {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var mounts []string
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			mounts = append(mounts, fields[4])
		}
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		syscall.Unmount(mounts[i], syscall.MNT_DETACH)
	}
	return nil
}
