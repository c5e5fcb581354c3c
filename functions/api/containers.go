package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"berth/driver"
)

// containerView is a container as the API shows it: spin-docker's fields
// with spin-docker's types first, then Berth's own.
type containerView struct {
	Status      string `json:"status"`
	Name        string `json:"name"`
	Active      string `json:"active"`   // "1" when the last check-in reported connections
	SSHPort     string `json:"ssh_port"` // host port of container port 22, "" when stopped
	AppPort     string `json:"app_port"` // host port of the lowest other port, "" when stopped
	Image       string `json:"image"`
	ContainerID string `json:"container_id"`
	URI         string `json:"uri"`

	ID           string            `json:"id"`
	Owner        string            `json:"owner"`
	CreatedAt    time.Time         `json:"created_at"`
	LastActivity *time.Time        `json:"last_activity"`
	IdleTimeout  string            `json:"idle_timeout"`
	Ports        map[string]int    `json:"ports"` // "8080" (tcp) or "53/udp" → host port
	URL          string            `json:"url"`   // http://<public host>:<app_port>, "" when stopped
	Labels       map[string]string `json:"labels"`
}

func (a *API) view(c *driver.Container) containerView {
	v := containerView{
		Status:      string(c.State),
		Name:        c.Name,
		Active:      "0",
		Image:       c.Image,
		ContainerID: c.ID,
		URI:         "/v1/containers/" + c.ID,
		ID:          c.ID,
		Owner:       c.Owner,
		CreatedAt:   c.CreatedAt,
		IdleTimeout: a.idleTimeout(c).String(),
		Labels:      c.Labels,
	}
	if c.Active {
		v.Active = "1"
	}
	if !c.LastActivity.IsZero() {
		v.LastActivity = &c.LastActivity
	}
	ports, ssh, app := portView(c.Ports)
	v.Ports = ports
	if ssh != 0 {
		v.SSHPort = strconv.Itoa(ssh)
	}
	if app != 0 {
		v.AppPort = strconv.Itoa(app)
		v.URL = fmt.Sprintf("http://%s:%d", a.cfg.PublicHost, app)
	}
	if v.Labels == nil {
		v.Labels = map[string]string{}
	}
	return v
}

// portView maps published ports for the API: "8080" (tcp) or "53/udp" to
// the host port, the host port of tcp 22 (ssh), and that of the lowest
// other tcp port (the app's).
func portView(published []driver.Port) (ports map[string]int, ssh, app int) {
	ports = map[string]int{}
	for _, p := range published { // sorted by container port
		key := strconv.Itoa(p.Container)
		if p.Protocol != "tcp" {
			key += "/" + p.Protocol
		}
		ports[key] = p.Host
		switch {
		case p.Protocol != "tcp":
		case p.Container == 22:
			ssh = p.Host
		case app == 0:
			app = p.Host
		}
	}
	return ports, ssh, app
}

func (a *API) idleTimeout(c *driver.Container) time.Duration {
	if c.IdleTimeout > 0 {
		return c.IdleTimeout
	}
	return a.cfg.IdleTimeout
}

// ownerFilter scopes what p may see: its own containers, or all for admin.
func ownerFilter(p principal) driver.Filter {
	if p.Admin {
		return driver.Filter{}
	}
	return driver.Filter{Owner: p.ID}
}

// lookup returns the container r's {id} names, if p may see it.
// A ref that is neither a name nor a 64-hex engine ID names nothing: it is
// answered without asking the engine.
func (a *API) lookup(r *http.Request, p principal) (*driver.Container, error) {
	ref := r.PathValue("id")
	if !validName.MatchString(ref) && !containerID.MatchString(ref) {
		return nil, errorf(http.StatusNotFound, "container %q not found", ref)
	}
	c, err := a.driver.Get(r.Context(), ref, ownerFilter(p))
	if errors.Is(err, driver.ErrNotFound) {
		return nil, errorf(http.StatusNotFound, "container %q not found", ref)
	}
	return c, err
}

func handleListContainers(a *API) http.Handler {
	return a.withPrincipal(func(w http.ResponseWriter, r *http.Request, p principal) {
		f := ownerFilter(p)
		q := r.URL.Query()
		switch s := q.Get("status"); s {
		case "":
		case "running", "stopped":
			f.State = driver.State(s)
		default:
			a.writeError(w, r, errorf(http.StatusBadRequest, `status must be "running" or "stopped"`))
			return
		}
		for _, l := range q["label"] {
			k, v, ok := strings.Cut(l, "=")
			if !ok || !validLabelKey.MatchString(k) || len(v) > maxLabelValue || strings.ContainsRune(v, 0) {
				a.writeError(w, r, errorf(http.StatusBadRequest, "label filter %q: want key=value", l))
				return
			}
			if f.Labels == nil {
				f.Labels = map[string]string{}
			}
			f.Labels[k] = v
		}
		list, err := a.driver.List(r.Context(), f)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := make([]containerView, len(list))
		for i, c := range list {
			out[i] = a.view(c)
		}
		writeJSON(w, http.StatusOK, out)
	})
}

func handleGetContainer(a *API) http.Handler {
	return a.withPrincipal(func(w http.ResponseWriter, r *http.Request, p principal) {
		c, err := a.lookup(r, p)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, a.view(c))
	})
}

type createContainerRequest struct {
	Image       string            `json:"image"`
	Name        string            `json:"name"`
	Env         map[string]string `json:"env"`
	Cmd         []string          `json:"cmd"`
	Labels      map[string]string `json:"labels"`
	IdleTimeout string            `json:"idle_timeout"` // a Go duration, "45m"
}

var (
	// validName: Docker's container-name rule, at most 63 characters so that
	// no name can be mistaken for a 64-hex ID.
	validName     = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$`)
	validEnvName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	validLabelKey = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	containerID   = regexp.MustCompile(`^[0-9a-f]{64}$`) // an engine container's full ID
)

const (
	maxEnv         = 64
	maxCmd         = 64
	maxLabels      = 32
	maxLabelValue  = 256
	minIdleTimeout = 10 * time.Second
)

func (req *createContainerRequest) validate() error {
	if req.Image == "" {
		return errorf(http.StatusBadRequest, "image is required")
	}
	if req.Name != "" && !validName.MatchString(req.Name) {
		return errorf(http.StatusBadRequest, "name %q: use 1 to 63 letters, digits, '_', '.' or '-', starting with a letter or digit", req.Name)
	}
	if err := validateEnv("env", req.Env); err != nil {
		return err
	}
	if err := validateCmd("cmd", req.Cmd); err != nil {
		return err
	}
	if len(req.Labels) > maxLabels {
		return errorf(http.StatusBadRequest, "labels has %d entries; at most %d", len(req.Labels), maxLabels)
	}
	for k, v := range req.Labels {
		if !validLabelKey.MatchString(k) {
			return errorf(http.StatusBadRequest, "label key %q: use 1 to 63 lowercase letters, digits, '.', '_' or '-'", k)
		}
		if len(v) > maxLabelValue || strings.ContainsRune(v, 0) {
			return errorf(http.StatusBadRequest, "label %s: value longer than %d bytes or with a NUL byte", k, maxLabelValue)
		}
	}
	return nil
}

// validateEnv checks the environment a request asks for (field names it).
func validateEnv(field string, env map[string]string) error {
	if len(env) > maxEnv {
		return errorf(http.StatusBadRequest, "%s has %d variables; at most %d", field, len(env), maxEnv)
	}
	for k, v := range env {
		if !validEnvName.MatchString(k) {
			return errorf(http.StatusBadRequest, "%s name %q is not a valid variable name", field, k)
		}
		if strings.HasPrefix(strings.ToUpper(k), "BERTH_") {
			return errorf(http.StatusBadRequest, "%s name %q: BERTH_ variables are set by Berth", field, k)
		}
		if strings.ContainsRune(v, 0) {
			return errorf(http.StatusBadRequest, "%s %s contains a NUL byte", field, k)
		}
	}
	return nil
}

// validateCmd checks a command line a request asks for.
func validateCmd(field string, cmd []string) error {
	if len(cmd) > maxCmd {
		return errorf(http.StatusBadRequest, "%s has %d arguments; at most %d", field, len(cmd), maxCmd)
	}
	for _, arg := range cmd {
		if strings.ContainsRune(arg, 0) {
			return errorf(http.StatusBadRequest, "%s contains a NUL byte", field)
		}
	}
	return nil
}

// envList is env as the engine takes it: "KEY=value", sorted.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env)+2)
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func handleCreateContainer(a *API) http.Handler {
	return a.withPrincipal(func(w http.ResponseWriter, r *http.Request, p principal) {
		req, err := decode[createContainerRequest](r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		spec, token, err := a.spec(r, &req, p)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		spec.Env = append(spec.Env, "BERTH_CHECKIN_TOKEN="+token)
		c, err := a.run(r.Context(), spec)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		w.Header().Set("Location", "/v1/containers/"+c.ID)
		writeJSON(w, http.StatusCreated, a.view(c))
	})
}

// spec turns a valid request into a driver spec and the container's check-in
// token. It refuses images the allowlist does not permit.
func (a *API) spec(r *http.Request, req *createContainerRequest, p principal) (*driver.Spec, string, error) {
	image, err := a.allowedImage(req.Image)
	if err != nil {
		return nil, "", err
	}
	idle := time.Duration(0)
	if req.IdleTimeout != "" {
		if idle, err = time.ParseDuration(req.IdleTimeout); err != nil || idle < minIdleTimeout || idle > a.cfg.MaxIdleTimeout {
			return nil, "", errorf(http.StatusBadRequest, "idle_timeout %q: want a duration from %v to %v", req.IdleTimeout, minIdleTimeout, a.cfg.MaxIdleTimeout)
		}
	}
	name := req.Name
	if name == "" {
		name = "berth-" + randomHex(5) // 40 random bits: a clash is a 409 no one will see
	}
	token, hash := newCheckinToken(name)
	env := envList(req.Env)
	if url, err := a.checkinURLFor(r); err != nil {
		return nil, "", err
	} else if url != "" {
		env = append(env, "BERTH_CHECKIN_URL="+url)
	}
	return &driver.Spec{
		Name:        name,
		Owner:       p.ID,
		Image:       image,
		Env:         env,
		Cmd:         req.Cmd,
		Labels:      req.Labels,
		IdleTimeout: idle,
		CheckinHash: hash,
		Resources:   a.resources,
		CapAdd:      a.cfg.CapAdd,
	}, token, nil
}

// run creates and starts a container, in one step where the driver can. A
// container that fails to start is removed: a failed request leaves
// nothing behind.
func (a *API) run(ctx context.Context, spec *driver.Spec) (*driver.Container, error) {
	if r, ok := a.driver.(driver.Runner); ok {
		return r.Run(ctx, spec)
	}
	c, err := a.driver.Create(ctx, spec)
	if err != nil {
		return nil, err
	}
	started, err := a.driver.Start(ctx, c.ID)
	if err != nil {
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.RequestTimeout)
		defer cancel()
		if rmErr := a.driver.Remove(cleanup, c.ID); rmErr != nil {
			a.log.Error("remove container that failed to start", "id", c.ID, "err", rmErr)
		}
		return nil, err
	}
	return started, nil
}

type updateContainerRequest struct {
	Status string `json:"status"`
}

func (req *updateContainerRequest) validate() error {
	if req.Status != "running" && req.Status != "stopped" {
		return errorf(http.StatusBadRequest, `status must be "running" or "stopped"`)
	}
	return nil
}

func handleUpdateContainer(a *API) http.Handler {
	return a.withPrincipal(func(w http.ResponseWriter, r *http.Request, p principal) {
		req, err := decode[updateContainerRequest](r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		c, err := a.lookup(r, p)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		switch {
		case req.Status == "running" && c.State != driver.StateRunning:
			if c, err = a.driver.Start(r.Context(), c.ID); err != nil {
				a.writeError(w, r, err)
				return
			}
		case req.Status == "stopped" && c.State == driver.StateRunning:
			if err := a.stop(r.Context(), c.ID); err != nil {
				a.writeError(w, r, err)
				return
			}
			v := a.view(c)
			v.Status = "stopping"
			writeJSON(w, http.StatusOK, v)
			return
		}
		writeJSON(w, http.StatusOK, a.view(c))
	})
}

// stop orders a container to stop and returns at once, as spin-docker did:
// a stop may take the whole grace period. Where the driver stops in the
// background itself, the order is given before answering; otherwise the
// stop runs after the response, and Close waits for it.
func (a *API) stop(ctx context.Context, id string) error {
	if b, ok := a.driver.(driver.BackgroundStopper); ok && b.StopsInBackground() {
		return a.driver.Stop(ctx, id, a.cfg.StopTimeout)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.StopTimeout+a.cfg.RequestTimeout)
	a.background.Go(func() {
		defer cancel()
		if err := a.driver.Stop(ctx, id, a.cfg.StopTimeout); err != nil {
			a.log.Error("stop container", "id", id, "err", err)
		}
	})
	return nil
}

func handleDeleteContainer(a *API) http.Handler {
	return a.withPrincipal(func(w http.ResponseWriter, r *http.Request, p principal) {
		c, err := a.lookup(r, p)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if c.State == driver.StateRunning {
			if err := a.driver.Stop(r.Context(), c.ID, a.cfg.StopTimeout); err != nil {
				a.writeError(w, r, err)
				return
			}
		}
		if err := a.driver.Remove(r.Context(), c.ID); err != nil {
			a.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
