package connect_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"berth/driver"
	"berth/driver/connect"
	"berth/driver/drivertest"
	"berth/infra/engine"
	"berth/infra/tlscerts"

	"github.com/kelseyhightower/envconfig"
)

// private is an engine that listens only with --tlsverify.
var private = &drivertest.PrivateEngine{Options: engine.Options{TLS: true, Swarm: true}}

func TestMain(m *testing.M) { os.Exit(private.Run(m)) }

func good(t testing.TB) connect.Config {
	eng := private.Get(t)
	return connect.Config{Driver: "docker", Host: eng.TCPHost, CertPath: eng.CertDir, DialTimeout: 5 * time.Second, CallTimeout: 30 * time.Second}
}

// TestConformanceOverTLS: the right client certificate carries the whole
// conformance suite of both drivers.
func TestConformanceOverTLS(t *testing.T) {
	eng := private.Get(t)
	for _, name := range []string{"docker", "swarm"} {
		t.Run(name, func(t *testing.T) {
			drivertest.RunConformanceTests(t, drivertest.Harness{
				PortHost: eng.IP,
				NewDriver: func(t *testing.T) driver.Driver {
					cfg := good(t)
					cli := drivertest.Connect(t, cfg) // builds the demo image there
					cfg.Driver, cfg.Instance, cfg.PublishIP = name, drivertest.Instance(t, cli), eng.IP
					cfg.Network = "berth-" + cfg.Instance
					d, err := connect.Open(cfg, filepath.Join(t.TempDir(), "state.db"))
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { d.Close() })
					return d
				},
			})
		})
	}
}

// TestPEMFromEnvironment: the TLS material given as PEM contents (Lambda
// has no cert directory) makes a real handshake, as the directory does.
func TestPEMFromEnvironment(t *testing.T) {
	eng := private.Get(t)
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(eng.CertDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	t.Setenv("DOCKER_HOST", eng.TCPHost)
	t.Setenv("BERTH_TLS_CA", read("ca.pem"))
	t.Setenv("BERTH_TLS_CERT", read("cert.pem"))
	t.Setenv("BERTH_TLS_KEY", read("key.pem"))
	var cfg connect.Config
	if err := envconfig.Process("", &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.CertPath != "" || cfg.CAPEM == "" {
		t.Fatalf("config from env: %+v", cfg)
	}
	if err := images(cfg); err != nil {
		t.Errorf("TLS from PEM contents: %v", err)
	}
	if err := images(good(t)); err != nil {
		t.Errorf("TLS from DOCKER_CERT_PATH: %v", err)
	}
}

// TestRefused: every wrong TLS setup is refused, with an error that says why
// and is classified as the engine being unavailable.
func TestRefused(t *testing.T) {
	eng := private.Get(t)
	otherCA := t.TempDir()
	if _, err := tlscerts.WriteEngineSet(otherCA, []string{eng.IP}, time.Hour); err != nil {
		t.Fatal(err)
	}
	noClientCert := t.TempDir()
	copyFile(t, filepath.Join(eng.CertDir, "ca.pem"), filepath.Join(noClientCert, "ca.pem"))
	strangerClient := t.TempDir() // trusts the right CA, presents another CA's client cert
	copyFile(t, filepath.Join(eng.CertDir, "ca.pem"), filepath.Join(strangerClient, "ca.pem"))
	copyFile(t, filepath.Join(otherCA, "cert.pem"), filepath.Join(strangerClient, "cert.pem"))
	copyFile(t, filepath.Join(otherCA, "key.pem"), filepath.Join(strangerClient, "key.pem"))
	untrustingClient := t.TempDir() // right client cert, but trusts only the other CA
	copyFile(t, filepath.Join(otherCA, "ca.pem"), filepath.Join(untrustingClient, "ca.pem"))
	copyFile(t, filepath.Join(eng.CertDir, "cert.pem"), filepath.Join(untrustingClient, "cert.pem"))
	copyFile(t, filepath.Join(eng.CertDir, "key.pem"), filepath.Join(untrustingClient, "key.pem"))
	caOnly, err := os.ReadFile(filepath.Join(eng.CertDir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		cfg  func() connect.Config
		want string // part of the error
	}{
		{"no client certificate", func() connect.Config {
			c := good(t)
			c.CertPath, c.CAPEM = "", string(caOnly)
			return c
		}, "client authentication (--tlsverify)"},
		{"client certificate from another CA", func() connect.Config {
			c := good(t)
			c.CertPath = strangerClient
			return c
		}, "bad certificate"},
		{"server certificate the client's CA did not sign", func() connect.Config {
			c := good(t)
			c.CertPath = untrustingClient
			return c
		}, "certificate signed by unknown authority"},
		{"wrong server name", func() connect.Config {
			c := good(t)
			c.Host = "tcp://" + eng.OtherIP + ":2376"
			return c
		}, "not " + eng.OtherIP},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := images(c.cfg())
			if err == nil {
				t.Fatal("connected")
			}
			if !errors.Is(err, driver.ErrUnavailable) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q: want ErrUnavailable saying %q", err, c.want)
			}
		})
	}

	// DOCKER_TLS_VERIFY cannot turn verification off: it is not even read.
	t.Run("DOCKER_TLS_VERIFY=0", func(t *testing.T) {
		t.Setenv("DOCKER_TLS_VERIFY", "0")
		t.Setenv("DOCKER_HOST", eng.TCPHost)
		t.Setenv("DOCKER_CERT_PATH", untrustingClient)
		var cfg connect.Config
		if err := envconfig.Process("", &cfg); err != nil {
			t.Fatal(err)
		}
		if err := images(cfg); err == nil || !strings.Contains(err.Error(), "unknown authority") {
			t.Errorf("with DOCKER_TLS_VERIFY=0 and an untrusted server: %v, want refused", err)
		}
	})
}

// TestSettingsRefused: settings that would weaken or confuse TLS are refused
// before any connection, each with its own reason.
func TestSettingsRefused(t *testing.T) {
	eng := private.Get(t)
	none := filepath.Join(t.TempDir(), "none")
	cases := []struct {
		name string
		cfg  connect.Config
		want string
	}{
		{"tcp without TLS", connect.Config{Host: "tcp://127.0.0.1:2375"}, "has no TLS"},
		{"TLS on a unix socket", connect.Config{Host: "unix:///var/run/docker.sock", CertPath: eng.CertDir}, "unix socket"},
		{"two sources of TLS", connect.Config{Host: eng.TCPHost, CertPath: eng.CertDir, CAPEM: "x"}, "not both"},
		{"a cert without a CA", connect.Config{Host: eng.TCPHost, CertPEM: "x", KeyPEM: "y"}, "need BERTH_TLS_CA"},
		{"a CA that is not PEM", connect.Config{Host: eng.TCPHost, CAPEM: "not a certificate"}, "no CA certificate"},
		{"a missing cert directory", connect.Config{Host: eng.TCPHost, CertPath: none}, "no such file"},
		{"the seed's alias, missing", connect.Config{Host: eng.TCPHost, SwarmCredsDir: none}, "no such file"},
		{"an unsupported scheme", connect.Config{Host: "ssh://host"}, "not supported"},
		{"a malformed host", connect.Config{Host: "tcp"}, "DOCKER_HOST"},
		{"an unknown driver", connect.Config{Host: "unix:///var/run/docker.sock", Driver: "nomad"}, "unknown driver"},
	}
	for _, c := range cases {
		cfg := c.cfg
		if cfg.Driver == "" {
			cfg.Driver = "docker"
		}
		cfg.Instance, cfg.Network, cfg.PublishIP = "x", "x", "127.0.0.1"
		d, err := connect.Open(cfg, "")
		if err == nil {
			d.Close()
			t.Errorf("%s: accepted", c.name)
		} else if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want it to say %q", c.name, err, c.want)
		}
	}
	if _, err := connect.NewClient(connect.Config{Host: "tcp://127.0.0.1:2375", AllowPlaintext: true}); err != nil {
		t.Errorf("plain tcp with BERTH_ENGINE_PLAINTEXT: %v", err)
	}
}

// images opens a docker driver with cfg and lists images: one request.
func images(cfg connect.Config) error {
	cfg.Driver, cfg.Instance, cfg.Network, cfg.PublishIP = "docker", "tls-probe", "tls-probe", "127.0.0.1"
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout, cfg.CallTimeout = 5*time.Second, 10*time.Second
	}
	d, err := connect.Open(cfg, "")
	if err != nil {
		return err
	}
	defer d.Close()
	_, err = d.Images(context.Background())
	return err
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err == nil {
		err = os.WriteFile(to, b, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
}
