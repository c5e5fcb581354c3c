// Command berth is Berth's all-in-one local binary: every API route on one
// HTTP server, and the reconcile pass (idle culling) on a ticker.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"berth/driver/connect"
	"berth/functions/api"

	"github.com/joho/godotenv"
	"github.com/kelseyhightower/envconfig"
)

// Config is every setting of the local binary, read once from the
// environment (and a .env file in the working directory).
type Config struct {
	Port              int           `envconfig:"PORT" default:"8000" desc:"port Berth listens on, on all interfaces (containers reach it through their gateway)"`
	StateDir          string        `envconfig:"BERTH_STATE_DIR" default:".berth" desc:"directory for the generated admin token and secret, and the docker driver's state (activity, service definitions)"`
	ReconcileInterval time.Duration `envconfig:"BERTH_RECONCILE_INTERVAL" default:"1m" desc:"how often idle containers are culled; 0 turns culling off"`
	LogFormat         string        `envconfig:"BERTH_LOG_FORMAT" default:"text" desc:"log format: text or json"`
	APIConfig
	EngineConfig
}

// The API's and the engine's settings are embedded under these names because
// both packages call theirs Config; embedding keeps envconfig's names flat.
type (
	APIConfig    = api.Config
	EngineConfig = connect.Config
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "berth:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("berth", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() { usage(stdout) }
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}

	if err := godotenv.Load(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf(".env: %w", err)
	}
	var cfg Config
	if err := envconfig.Process("", &cfg); err != nil {
		return err
	}
	log, err := newLogger(cfg.LogFormat, stderr)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	generated, err := ensureSecrets(&cfg)
	if err != nil {
		return err
	}

	d, err := connect.Open(cfg.EngineConfig, filepath.Join(cfg.StateDir, "state.db"))
	if err != nil {
		return err
	}
	defer d.Close()
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	a, err := api.New(cfg.APIConfig, api.Options{Driver: d, Logger: log, Port: port})
	if err != nil {
		ln.Close()
		return err
	}
	if generated {
		fmt.Fprintf(stdout, "Berth generated an admin token and saved it in %s (mode 0600):\n\n  %s\n\nTry:\n\n  curl -H 'Authorization: Bearer %s' -d image=berth/demo http://localhost:%d/v1/containers\n\n",
			filepath.Join(cfg.StateDir, adminTokenFile), cfg.AdminToken, cfg.AdminToken, port)
	}

	srv := &http.Server{
		Handler:           a,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("berth listening", "addr", ln.Addr().String(), "driver", cfg.Driver, "engine", cfg.Host, "instance", cfg.Instance)

	reconciled := make(chan struct{})
	go func() {
		defer close(reconciled)
		reconcileLoop(ctx, a, cfg.ReconcileInterval, log)
	}()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), cfg.StopTimeout+cfg.RequestTimeout)
	defer cancel()
	err = srv.Shutdown(shutdown)
	<-reconciled
	return errors.Join(err, a.Close(shutdown))
}

// reconcileLoop runs the reconcile pass every interval until ctx is done.
func reconcileLoop(ctx context.Context, a *api.API, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		return
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			pass, cancel := context.WithTimeout(ctx, every)
			report, err := a.Reconcile(pass, now)
			cancel()
			if err != nil {
				log.Warn("reconcile", "err", err)
			} else if len(report.Culled) > 0 || report.Failed > 0 {
				log.Info("reconcile", "running", report.Running, "culled", len(report.Culled), "failed", report.Failed)
			}
		}
	}
}

func newLogger(format string, w io.Writer) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, fmt.Errorf("BERTH_LOG_FORMAT %q: want text or json", format)
}

// usageFormat lists every setting with its default and description.
const usageFormat = `Usage: berth

Berth serves its HTTP API on PORT and stops idle containers. It is configured
by environment variables, also read from a .env file in the working directory:

{{range .}}  {{usage_key .}}{{if usage_default .}} (default {{usage_default .}}){{end}}
      {{usage_description .}}
{{end}}`

func usage(w io.Writer) {
	var cfg Config
	envconfig.Usagef("", &cfg, w, usageFormat)
}

const (
	adminTokenFile = "admin-token"
	secretFile     = "secret"
)

// ensureSecrets fills an unset admin token and HMAC secret from the state
// directory, generating and saving them (mode 0600) on first start. There is
// never a default password. It reports whether the admin token is new.
func ensureSecrets(cfg *Config) (generated bool, err error) {
	if cfg.AdminToken == "" {
		if cfg.AdminToken, generated, err = loadOrGenerate(filepath.Join(cfg.StateDir, adminTokenFile)); err != nil {
			return false, err
		}
	}
	if cfg.Secret == "" {
		if cfg.Secret, _, err = loadOrGenerate(filepath.Join(cfg.StateDir, secretFile)); err != nil {
			return false, err
		}
	}
	return generated, nil
}

func loadOrGenerate(path string) (value string, generated bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	value = randomToken()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, err
	}
	if _, err := f.WriteString(value + "\n"); err != nil {
		f.Close()
		return "", false, err
	}
	return value, true, f.Close()
}
