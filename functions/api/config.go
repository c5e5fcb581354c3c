package api

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"berth/driver"

	"github.com/docker/go-units"
)

// Config is the API's settings. Field tags are read by envconfig; nothing in
// this package reads the environment.
type Config struct {
	AdminToken     string        `envconfig:"BERTH_ADMIN_TOKEN" desc:"admin bearer token (also HTTP Basic admin:<token>); at least 16 characters"`
	Secret         string        `envconfig:"BERTH_SECRET" desc:"HMAC key that signs user tokens; at least 32 characters"`
	Images         []string      `envconfig:"BERTH_IMAGES" default:"berth/demo:*" desc:"comma-separated image patterns containers may use (repo[:tag], * within a path segment; * alone allows all)"`
	PublicHost     string        `envconfig:"BERTH_PUBLIC_HOST" default:"localhost" desc:"host name in container URLs"`
	PublicHostSeed string        `envconfig:"THEBE_SERVER_BASE_URL" desc:"alias of BERTH_PUBLIC_HOST (thebe-server)"`
	CheckinURL     string        `envconfig:"BERTH_CHECKIN_URL" desc:"check-in URL given to containers (default: Berth's port on the containers' gateway)"`
	CheckinByIP    bool          `envconfig:"BERTH_CHECKIN_BY_IP" default:"false" desc:"also accept token-less check-ins identified by source IP (spin-docker clients; local engines only)"`
	IdleTimeout    time.Duration `envconfig:"BERTH_IDLE_TIMEOUT" default:"2h30m" desc:"stop containers without activity for this long (per container: idle_timeout)"`
	MaxIdleTimeout time.Duration `envconfig:"BERTH_MAX_IDLE_TIMEOUT" default:"24h" desc:"largest idle_timeout a request may ask for"`
	Memory         string        `envconfig:"BERTH_MEMORY" default:"512m" desc:"memory limit of each container"`
	CPUs           float64       `envconfig:"BERTH_CPUS" default:"1" desc:"CPU limit of each container"`
	Pids           int64         `envconfig:"BERTH_PIDS" default:"256" desc:"process limit of each container"`
	CapAdd         []string      `envconfig:"BERTH_CAP_ADD" desc:"capabilities added back after dropping all (from CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, AUDIT_WRITE, SETFCAP)"`
	MaxReplicas    int           `envconfig:"BERTH_MAX_REPLICAS" default:"20" desc:"largest number of replicas a service may be scaled to"`
	StopTimeout    time.Duration `envconfig:"BERTH_STOP_TIMEOUT" default:"10s" desc:"grace a stopping container gets before it is killed"`
	RequestTimeout time.Duration `envconfig:"BERTH_REQUEST_TIMEOUT" default:"25s" desc:"time limit of one API request"`
}

// addableCaps are the capabilities BERTH_CAP_ADD may name: Docker's default
// set without NET_RAW and MKNOD. Anything else is refused at start.
var addableCaps = []string{"CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
	"SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "AUDIT_WRITE", "SETFCAP"}

// validate checks cfg and derives what the API needs from it.
func (cfg *Config) validate() (driver.Resources, error) {
	var errs []error
	if len(cfg.AdminToken) < 16 {
		errs = append(errs, errors.New("BERTH_ADMIN_TOKEN must be set, at least 16 characters"))
	}
	if len(cfg.Secret) < 32 {
		errs = append(errs, errors.New("BERTH_SECRET must be set, at least 32 characters"))
	}
	if cfg.PublicHostSeed != "" && cfg.PublicHost == "localhost" {
		cfg.PublicHost = cfg.PublicHostSeed
	}
	for _, p := range cfg.Images {
		if err := validPattern(p); err != nil {
			errs = append(errs, fmt.Errorf("BERTH_IMAGES: %w", err))
		}
	}
	for i, c := range cfg.CapAdd {
		name := strings.TrimPrefix(strings.ToUpper(c), "CAP_")
		if !slices.Contains(addableCaps, name) {
			errs = append(errs, fmt.Errorf("BERTH_CAP_ADD: %q may not be added back", c))
		}
		cfg.CapAdd[i] = name
	}
	mem, err := units.RAMInBytes(cfg.Memory)
	if err != nil || mem < 6<<20 {
		errs = append(errs, fmt.Errorf("BERTH_MEMORY %q: want a size of at least 6m", cfg.Memory))
	}
	if cfg.CPUs <= 0 || cfg.Pids <= 0 {
		errs = append(errs, errors.New("BERTH_CPUS and BERTH_PIDS must be positive"))
	}
	if cfg.IdleTimeout < minIdleTimeout || cfg.MaxIdleTimeout < cfg.IdleTimeout {
		errs = append(errs, fmt.Errorf("want %v <= BERTH_IDLE_TIMEOUT <= BERTH_MAX_IDLE_TIMEOUT", minIdleTimeout))
	}
	if cfg.MaxReplicas < 1 || cfg.MaxReplicas > 1000 {
		errs = append(errs, errors.New("BERTH_MAX_REPLICAS must be from 1 to 1000"))
	}
	if cfg.StopTimeout < 0 || cfg.RequestTimeout <= 0 {
		errs = append(errs, errors.New("BERTH_STOP_TIMEOUT and BERTH_REQUEST_TIMEOUT must be positive"))
	}
	return driver.Resources{MemoryBytes: mem, NanoCPUs: int64(cfg.CPUs * 1e9), PidsLimit: cfg.Pids}, errors.Join(errs...)
}
