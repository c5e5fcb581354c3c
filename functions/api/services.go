package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"berth/driver"

	"github.com/mattn/go-shellwords"
)

// Named services: a definition and a number of replicas. Two front doors
// share the handlers' logic: the service connector's /service paths, with
// its field names and shapes, and Berth's /v1/services with richer objects.

// serviceDefinition is a service's definition as a request gives it, in
// either dialect, before validation.
type serviceDefinition struct {
	name    string
	image   string
	cmd     []string
	env     map[string]string
	ports   []int
	replica int
}

const maxPorts = 16

// check validates d for this API and turns it into a driver spec.
func (a *API) serviceSpec(d serviceDefinition, owner string) (*driver.ServiceSpec, error) {
	if d.name == "" {
		return nil, errorf(http.StatusBadRequest, "name is required")
	}
	if !validName.MatchString(d.name) || len(d.name) > 40 {
		return nil, errorf(http.StatusBadRequest, "name %q: use 1 to 40 letters, digits, '_', '.' or '-', starting with a letter or digit", d.name)
	}
	if d.image == "" {
		return nil, errorf(http.StatusBadRequest, "image is required")
	}
	if _, err := normalizeImage(d.image); err != nil {
		return nil, err
	}
	if !hasVersion(d.image) {
		return nil, errorf(http.StatusBadRequest, "image %q must include a tag (as in %s:latest)", d.image, d.image)
	}
	image, err := a.allowedImage(d.image)
	if err != nil {
		return nil, err
	}
	if err := validateEnv("environment", d.env); err != nil {
		return nil, err
	}
	if err := validateCmd("command", d.cmd); err != nil {
		return nil, err
	}
	if len(d.ports) > maxPorts {
		return nil, errorf(http.StatusBadRequest, "ports has %d entries; at most %d", len(d.ports), maxPorts)
	}
	seen := map[int]bool{}
	for _, p := range d.ports {
		if p < 1 || p > 65535 {
			return nil, errorf(http.StatusBadRequest, "port %d is out of range (1 to 65535)", p)
		}
		if seen[p] {
			return nil, errorf(http.StatusBadRequest, "port %d is listed twice", p)
		}
		seen[p] = true
	}
	if err := a.checkReplicas(d.replica); err != nil {
		return nil, err
	}
	return &driver.ServiceSpec{
		Name: d.name, Owner: owner, Image: image, Cmd: d.cmd, Env: envList(d.env), Ports: d.ports,
		Replicas: d.replica, Resources: a.resources, CapAdd: a.cfg.CapAdd,
	}, nil
}

func (a *API) checkReplicas(n int) error {
	if n < 0 || n > a.cfg.MaxReplicas {
		return errorf(http.StatusBadRequest, "the number of replicas must be from 0 to %d, not %d", a.cfg.MaxReplicas, n)
	}
	return nil
}

// lookupService returns the service r's {name} names, if p may see it.
func (a *API) lookupService(r *http.Request, p principal) (*driver.Service, error) {
	name := r.PathValue("name")
	if !validName.MatchString(name) { // names nothing: the engine is not asked
		return nil, errorf(http.StatusNotFound, "service %q not found", name)
	}
	s, err := a.driver.GetService(r.Context(), name, ownerFilter(p))
	if errors.Is(err, driver.ErrNotFound) {
		return nil, errorf(http.StatusNotFound, "service %q not found", name)
	}
	return s, err
}

// serviceOp is one service operation, written once for both dialects: it
// gets the decoded request and returns the service and the status to
// answer with; the dialect renders the service.
type serviceOp[Req any] func(r *http.Request, p principal, req *Req) (*driver.Service, int, error)

// serveService decodes a Req, runs op and renders its service with view.
func serveService[Req any](a *API, op serviceOp[Req], view func(*API, *driver.Service) any) http.Handler {
	return a.withPrincipal(func(w http.ResponseWriter, r *http.Request, p principal) {
		req, err := decode[Req](r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		s, code, err := op(r, p, &req)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if code == http.StatusCreated {
			w.Header().Set("Location", "/v1/services/"+s.Name)
		}
		writeJSON(w, code, view(a, s))
	})
}

// noBody is the request of operations that take no body.
type noBody struct{}

func (a *API) getService(r *http.Request, p principal, _ *noBody) (*driver.Service, int, error) {
	s, err := a.lookupService(r, p)
	return s, http.StatusOK, err
}

func (a *API) createService(ctx context.Context, d serviceDefinition, p principal) (*driver.Service, int, error) {
	spec, err := a.serviceSpec(d, p.ID)
	if err != nil {
		return nil, 0, err
	}
	s, err := a.driver.CreateService(ctx, spec)
	return s, http.StatusCreated, err
}

func (a *API) updateService(r *http.Request, p principal, d serviceDefinition) (*driver.Service, int, error) {
	current, err := a.lookupService(r, p)
	if err != nil {
		return nil, 0, err
	}
	if d.name != "" && d.name != current.Name {
		return nil, 0, errorf(http.StatusBadRequest, "the body names service %q, the path %q", d.name, current.Name)
	}
	d.name, d.replica = current.Name, current.Desired
	spec, err := a.serviceSpec(d, current.Owner)
	if err != nil {
		return nil, 0, err
	}
	s, err := a.driver.UpdateService(r.Context(), current.Name, spec)
	return s, http.StatusOK, err
}

func (a *API) scaleService(r *http.Request, p principal, n int) (*driver.Service, int, error) {
	current, err := a.lookupService(r, p)
	if err != nil {
		return nil, 0, err
	}
	if err := a.checkReplicas(n); err != nil {
		return nil, 0, err
	}
	s, err := a.driver.ScaleService(r.Context(), current.Name, n)
	return s, http.StatusOK, err
}

// ---- Berth's own dialect: /v1/services ----

type serviceRequest struct {
	Name     string            `json:"name"`
	Image    string            `json:"image"`
	Cmd      []string          `json:"cmd"`
	Env      map[string]string `json:"env"`
	Ports    []int             `json:"ports"`
	Replicas jsonInt           `json:"replicas"`
}

func (req *serviceRequest) definition() serviceDefinition {
	return serviceDefinition{name: req.Name, image: req.Image, cmd: req.Cmd, env: req.Env, ports: req.Ports, replica: int(req.Replicas)}
}

type updateServiceRequest struct {
	Name  string            `json:"name"`
	Image string            `json:"image"`
	Cmd   []string          `json:"cmd"`
	Env   map[string]string `json:"env"`
	Ports []int             `json:"ports"`
}

type scaleRequest struct {
	Replicas *jsonInt `json:"replicas"`
}

func (req *scaleRequest) validate() error {
	if req.Replicas == nil {
		return errorf(http.StatusBadRequest, "replicas is required")
	}
	return nil
}

type serviceView struct {
	Name      string            `json:"name"`
	Owner     string            `json:"owner"`
	Image     string            `json:"image"`
	Cmd       []string          `json:"cmd"`
	Env       map[string]string `json:"env"`
	Ports     []int             `json:"ports"`
	Replicas  replicaCounts     `json:"replicas"`
	Instances []instanceView    `json:"instances"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
	URI       string            `json:"uri"`
}

type replicaCounts struct {
	Desired int `json:"desired"`
	Running int `json:"running"`
}

type instanceView struct {
	ID     string         `json:"id"`
	Status string         `json:"status"`
	Ports  map[string]int `json:"ports"`
	URL    string         `json:"url"`
}

func richService(a *API, s *driver.Service) any {
	v := serviceView{
		Name: s.Name, Owner: s.Owner, Image: s.Image, Cmd: orEmpty(s.Cmd), Env: envMap(s.Env), Ports: orEmpty(s.Ports),
		Replicas: replicaCounts{Desired: s.Desired, Running: s.Running}, Instances: []instanceView{},
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, URI: "/v1/services/" + s.Name,
	}
	for _, r := range s.Replicas {
		ports, _, app := portView(r.Ports)
		iv := instanceView{ID: r.ID, Status: string(r.State), Ports: ports}
		if app != 0 {
			iv.URL = "http://" + a.cfg.PublicHost + ":" + strconv.Itoa(app)
		}
		v.Instances = append(v.Instances, iv)
	}
	return v
}

func handleListServices(a *API) http.Handler {
	return a.withPrincipal(func(w http.ResponseWriter, r *http.Request, p principal) {
		list, err := a.driver.ListServices(r.Context(), ownerFilter(p))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := make([]any, len(list))
		for i, s := range list {
			out[i] = richService(a, s)
		}
		writeJSON(w, http.StatusOK, out)
	})
}

func handleCreateService(a *API) http.Handler {
	return serveService(a, func(r *http.Request, p principal, req *serviceRequest) (*driver.Service, int, error) {
		return a.createService(r.Context(), req.definition(), p)
	}, richService)
}

func handleGetService(a *API) http.Handler { return serveService(a, a.getService, richService) }

func handleUpdateService(a *API) http.Handler {
	return serveService(a, func(r *http.Request, p principal, req *updateServiceRequest) (*driver.Service, int, error) {
		return a.updateService(r, p, serviceDefinition{name: req.Name, image: req.Image, cmd: req.Cmd, env: req.Env, ports: req.Ports})
	}, richService)
}

func handleScaleService(a *API) http.Handler {
	return serveService(a, func(r *http.Request, p principal, req *scaleRequest) (*driver.Service, int, error) {
		return a.scaleService(r, p, int(*req.Replicas))
	}, richService)
}

func handleServiceStatus(a *API) http.Handler {
	return serveService(a, a.getService, func(_ *API, s *driver.Service) any {
		return replicaCounts{Desired: s.Desired, Running: s.Running}
	})
}

func handleDeleteService(a *API) http.Handler {
	return a.withPrincipal(func(w http.ResponseWriter, r *http.Request, p principal) {
		s, err := a.lookupService(r, p)
		if err == nil {
			err = a.driver.RemoveService(r.Context(), s.Name)
		}
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// ---- the service connector's dialect: /service ----

// connectorRequest is the connector's body: command is one string, ports
// are strings ("8080"), environment an object. PUT sends no name.
type connectorRequest struct {
	Name        string            `json:"name"`
	Image       string            `json:"image"`
	Command     *string           `json:"command"`
	Environment map[string]string `json:"environment"`
	Ports       []portNumber      `json:"ports"`
}

func (req *connectorRequest) definition() (serviceDefinition, error) {
	d := serviceDefinition{name: req.Name, image: req.Image, env: req.Environment}
	if req.Command != nil && strings.TrimSpace(*req.Command) != "" {
		words, err := shellwords.Parse(*req.Command)
		if err != nil {
			return d, errorf(http.StatusBadRequest, "command %q: %v", *req.Command, err)
		}
		d.cmd = words
	}
	for _, p := range req.Ports {
		d.ports = append(d.ports, int(p))
	}
	return d, nil
}

// portNumber is a port sent as a string ("8080"), as the connector does, or
// as a number.
type portNumber int

func (p *portNumber) UnmarshalJSON(b []byte) error {
	n, err := strconv.Atoi(strings.Trim(string(b), `"`))
	if err != nil {
		return errorf(http.StatusBadRequest, "port %s is not a number", b)
	}
	*p = portNumber(n)
	return nil
}

type connectorScaleRequest struct {
	Number *jsonInt `json:"number"`
}

func (req *connectorScaleRequest) validate() error {
	if req.Number == nil {
		return errorf(http.StatusBadRequest, "number is required")
	}
	return nil
}

// connectorService is a definition as the connector shows it: absent parts
// are null.
type connectorService struct {
	Name        string            `json:"name"`
	Image       string            `json:"image"`
	Command     *string           `json:"command"`
	Environment map[string]string `json:"environment"`
	Ports       []string          `json:"ports"`
}

func connectorView(_ *API, s *driver.Service) any {
	v := connectorService{Name: s.Name, Image: s.Image}
	if len(s.Cmd) > 0 {
		cmd := joinCommand(s.Cmd)
		v.Command = &cmd
	}
	if len(s.Env) > 0 {
		v.Environment = envMap(s.Env)
	}
	for _, p := range s.Ports {
		v.Ports = append(v.Ports, strconv.Itoa(p))
	}
	return v
}

func handleConnectorList(a *API) http.Handler {
	return a.withPrincipal(func(w http.ResponseWriter, r *http.Request, p principal) {
		list, err := a.driver.ListServices(r.Context(), ownerFilter(p))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := make(map[string]any, len(list))
		for _, s := range list {
			out[s.Name] = connectorView(a, s)
		}
		writeJSON(w, http.StatusOK, out)
	})
}

func handleConnectorCreate(a *API) http.Handler {
	return serveService(a, func(r *http.Request, p principal, req *connectorRequest) (*driver.Service, int, error) {
		d, err := req.definition()
		if err != nil {
			return nil, 0, err
		}
		return a.createService(r.Context(), d, p)
	}, connectorView)
}

func handleConnectorGet(a *API) http.Handler { return serveService(a, a.getService, connectorView) }

func handleConnectorUpdate(a *API) http.Handler {
	return serveService(a, func(r *http.Request, p principal, req *connectorRequest) (*driver.Service, int, error) {
		d, err := req.definition()
		if err != nil {
			return nil, 0, err
		}
		return a.updateService(r, p, d)
	}, connectorView)
}

func handleConnectorScale(a *API) http.Handler {
	return serveService(a, func(r *http.Request, p principal, req *connectorScaleRequest) (*driver.Service, int, error) {
		return a.scaleService(r, p, int(*req.Number))
	}, func(_ *API, s *driver.Service) any {
		return map[string]any{"name": s.Name, "number": s.Desired}
	})
}

func handleConnectorStatus(a *API) http.Handler {
	return serveService(a, a.getService, func(_ *API, s *driver.Service) any {
		return map[string]int{"running_resources": s.Running}
	})
}

// ---- shared rendering ----

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// joinCommand renders a command line that shellwords parses back to cmd.
func joinCommand(cmd []string) string {
	out := make([]string, len(cmd))
	for i, arg := range cmd {
		if arg == "" || strings.ContainsAny(arg, " \t\n'\"\\$`|&;<>(){}*?#~") {
			arg = "'" + strings.ReplaceAll(arg, "'", `'\''`) + "'"
		}
		out[i] = arg
	}
	return strings.Join(out, " ")
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
