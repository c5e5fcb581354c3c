// Package connect turns Berth's engine settings into a Docker client and a
// driver. It is the only place that knows how Berth reaches its engine:
// which host, which TLS material, which timeouts.
package connect

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"berth/driver"
	"berth/driver/docker"
	"berth/driver/swarm"

	"github.com/docker/docker/client"
)

// Config is how Berth reaches its engine. Field tags are read by envconfig.
type Config struct {
	Driver         string        `envconfig:"BERTH_DRIVER" default:"docker" desc:"orchestrator driver: docker (one engine) or swarm (a swarm manager)"`
	Host           string        `envconfig:"DOCKER_HOST" default:"unix:///var/run/docker.sock" desc:"engine address: unix:///path or tcp://host:2376"`
	CertPath       string        `envconfig:"DOCKER_CERT_PATH" desc:"directory with ca.pem, cert.pem and key.pem for TLS to the engine"`
	SwarmCredsDir  string        `envconfig:"SWARM_CREDS_DIR" desc:"alias of DOCKER_CERT_PATH (thebe-server)"`
	CAPEM          string        `envconfig:"BERTH_TLS_CA" desc:"PEM of the CA that signed the engine's certificate (instead of DOCKER_CERT_PATH)"`
	CertPEM        string        `envconfig:"BERTH_TLS_CERT" desc:"PEM of Berth's client certificate (with BERTH_TLS_CA)"`
	KeyPEM         string        `envconfig:"BERTH_TLS_KEY" desc:"PEM of Berth's client key (with BERTH_TLS_CA)"`
	AllowPlaintext bool          `envconfig:"BERTH_ENGINE_PLAINTEXT" default:"false" desc:"allow tcp:// without TLS (never across a network)"`
	DialTimeout    time.Duration `envconfig:"BERTH_ENGINE_DIAL_TIMEOUT" default:"5s" desc:"time to connect to the engine"`
	CallTimeout    time.Duration `envconfig:"BERTH_ENGINE_TIMEOUT" default:"20s" desc:"time limit of one engine call"`
	Instance       string        `envconfig:"BERTH_INSTANCE" default:"berth" desc:"name of this Berth installation: it sees only containers labelled with it"`
	Network        string        `envconfig:"BERTH_NETWORK" default:"berth" desc:"network for containers, created with inter-container traffic off"`
	PublishIP      string        `envconfig:"BERTH_PUBLISH_IP" default:"127.0.0.1" desc:"host address container ports are published on"`
}

// NewClient returns a Docker client for cfg. It makes no network call: the API
// version is negotiated once, on the first request.
//
// TLS verifies the engine against the configured CA only (never the system
// roots, never skipped). A tcp:// host without TLS material is refused unless
// AllowPlaintext is set.
func NewClient(cfg Config) (*client.Client, error) {
	u, err := client.ParseHostURL(cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("DOCKER_HOST %q: %w", cfg.Host, err)
	}
	tlsConfig, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "unix":
		if tlsConfig != nil {
			return nil, errors.New("TLS material is set but DOCKER_HOST is a unix socket")
		}
	case "tcp":
		if tlsConfig == nil && !cfg.AllowPlaintext {
			return nil, fmt.Errorf("DOCKER_HOST %s has no TLS: set DOCKER_CERT_PATH (or BERTH_TLS_CA/CERT/KEY), or BERTH_ENGINE_PLAINTEXT=true to allow plain tcp", cfg.Host)
		}
	default:
		return nil, fmt.Errorf("DOCKER_HOST %q: scheme %q is not supported (unix or tcp)", cfg.Host, u.Scheme)
	}

	transport := &http.Transport{
		TLSClientConfig:     tlsConfig,
		TLSHandshakeTimeout: cfg.DialTimeout,
		MaxIdleConns:        32,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
	}
	dialer := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		if u.Scheme == "unix" {
			return dialer.DialContext(ctx, "unix", u.Host) // ParseHostURL keeps the socket path in Host
		}
		return dialer.DialContext(ctx, "tcp", u.Host)
	}
	return client.NewClientWithOpts(
		client.WithHTTPClient(&http.Client{Transport: transport, CheckRedirect: client.CheckRedirect}),
		client.WithHost(cfg.Host),
		client.WithDialContext(dial),
		client.WithAPIVersionNegotiation(),
	)
}

// tlsConfig returns the TLS configuration cfg asks for, or nil for none.
func (cfg Config) tlsConfig() (*tls.Config, error) {
	dir := cfg.CertPath
	if dir == "" {
		dir = cfg.SwarmCredsDir
	}
	var ca, cert, key []byte
	switch {
	case dir != "" && cfg.CAPEM != "":
		return nil, errors.New("set either DOCKER_CERT_PATH or BERTH_TLS_CA, not both")
	case dir != "":
		var err error
		if ca, err = os.ReadFile(filepath.Join(dir, "ca.pem")); err != nil {
			return nil, fmt.Errorf("engine TLS: %w", err)
		}
		if cert, err = os.ReadFile(filepath.Join(dir, "cert.pem")); err != nil {
			return nil, fmt.Errorf("engine TLS: %w", err)
		}
		if key, err = os.ReadFile(filepath.Join(dir, "key.pem")); err != nil {
			return nil, fmt.Errorf("engine TLS: %w", err)
		}
	case cfg.CAPEM != "":
		ca, cert, key = []byte(cfg.CAPEM), []byte(cfg.CertPEM), []byte(cfg.KeyPEM)
	case cfg.CertPEM != "" || cfg.KeyPEM != "":
		return nil, errors.New("BERTH_TLS_CERT and BERTH_TLS_KEY need BERTH_TLS_CA")
	default:
		return nil, nil
	}
	return TLSConfig(ca, cert, key)
}

// TLSConfig builds a client TLS configuration that trusts only caPEM and
// presents the client certificate certPEM/keyPEM (both empty for none).
func TLSConfig(caPEM, certPEM, keyPEM []byte) (*tls.Config, error) {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("engine TLS: no CA certificate found in the CA PEM")
	}
	c := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if len(certPEM) > 0 || len(keyPEM) > 0 {
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("engine TLS client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}

// Open returns the driver cfg selects, on a client from NewClient. It makes no
// network call. stateFile is where the docker driver keeps activity and
// service definitions ("" for memory only); the swarm driver keeps them in
// the swarm.
func Open(cfg Config, stateFile string) (driver.Driver, error) {
	cli, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	switch cfg.Driver {
	case "docker":
		d, err := docker.New(cli, docker.Options{
			Instance:    cfg.Instance,
			Network:     cfg.Network,
			PublishIP:   cfg.PublishIP,
			CallTimeout: cfg.CallTimeout,
			StateFile:   stateFile,
		})
		if err != nil {
			cli.Close()
			return nil, err
		}
		return d, nil
	case "swarm":
		d, err := swarm.New(cli, swarm.Options{
			Instance:    cfg.Instance,
			Network:     cfg.Network,
			CallTimeout: cfg.CallTimeout,
		})
		if err != nil {
			cli.Close()
			return nil, err
		}
		return d, nil
	default:
		cli.Close()
		return nil, fmt.Errorf("BERTH_DRIVER %q: unknown driver (docker or swarm)", cfg.Driver)
	}
}
