package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"berth/infra/engine"
)

// TestStartStop starts a TLS swarm engine and checks that Stop leaves
// nothing behind: no process, no namespace, no directory.
func TestStartStop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := filepath.Join(os.TempDir(), "berth-eng-test")
	os.RemoveAll(dir)
	e, err := engine.Start(ctx, engine.Options{Dir: dir, TLS: true, Swarm: true, Log: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	cli, err := e.Client()
	if err != nil {
		t.Fatal(err)
	}
	info, err := cli.Info(ctx)
	if err != nil || info.Swarm.LocalNodeState != "active" {
		t.Errorf("engine info: swarm %q, %v", info.Swarm.LocalNodeState, err)
	}
	cli.Close()
	if err := e.Stop(ctx); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists", dir)
	}
	if _, err := os.Stat("/var/run/netns/" + e.Netns); !os.IsNotExist(err) {
		t.Errorf("namespace %s still exists", e.Netns)
	}
}
