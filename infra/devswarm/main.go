// Command devswarm starts and stops a development swarm: a private dockerd
// in its own network namespace, in swarm mode, reached over TLS with
// generated certificates — the production setup in miniature. It needs root.
//
//	go run ./infra/devswarm up     # prints the settings that point Berth at it
//	go run ./infra/devswarm down
package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"berth/infra/engine"
	"berth/infra/imagebuild"
)

// dir holds the swarm's data, certificates and state, beside Berth's own.
const dir = ".berth/swarm"

func main() {
	if len(os.Args) != 2 || (os.Args[1] != "up" && os.Args[1] != "down") {
		fmt.Fprintln(os.Stderr, "usage: devswarm up|down")
		os.Exit(2)
	}
	var err error
	if os.Args[1] == "up" {
		err = up()
	} else {
		err = down()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "devswarm:", err)
		os.Exit(1)
	}
}

func up() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if e, err := engine.Load(abs); err == nil {
		return fmt.Errorf("a swarm is already up at %s (pid %d); make swarm-down first", e.TCPHost, e.PID)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return err
	}
	log, err := os.Create(abs + ".log")
	if err != nil {
		return err
	}
	defer log.Close()
	e, err := engine.Start(ctx, engine.Options{Dir: abs, TLS: true, Swarm: true, Detach: true, Log: log})
	if err != nil {
		return err
	}
	cli, err := e.Client()
	if err != nil {
		return err
	}
	defer cli.Close()
	if _, err := imagebuild.EnsureDemo(ctx, cli); err != nil {
		return err
	}
	env := fmt.Sprintf(`BERTH_DRIVER=swarm
DOCKER_HOST=%s
DOCKER_CERT_PATH=%s
BERTH_CHECKIN_URL=http://%s:8000/v1/check-in
BERTH_PUBLIC_HOST=%s
`, e.TCPHost, e.CertDir, e.HostIP, e.IP)
	if err := os.WriteFile(abs+".env", []byte(env), 0o600); err != nil {
		return err
	}
	fmt.Printf("A one-node swarm is up at %s (TLS, logs in %s.log); published ports are on %s.\n"+
		"Point Berth at it with these settings (also in %s.env):\n\n%s\n"+
		"  set -a; . %s.env; set +a; make run\n", e.TCPHost, dir, e.IP, dir, env, dir)
	return nil
}

func down() error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	e, err := engine.Load(abs)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Println("no swarm is up")
		return nil
	}
	if err != nil {
		return err
	}
	os.Remove(abs + ".env")
	os.Remove(abs + ".log")
	return e.Stop(context.Background())
}
