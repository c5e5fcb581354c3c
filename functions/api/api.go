// Package api is Berth's HTTP API: the route table, one handler per endpoint,
// authentication, and the decoding, validation and error mapping every
// handler shares. The local binary serves all routes on one server; each
// Lambda function serves one.
package api

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"berth/driver"
)

// Options are what the API gets besides its Config.
type Options struct {
	Driver driver.Driver
	Logger *slog.Logger // nil: slog.Default()
	// Port is the port Berth listens on, for the default check-in URL on the
	// containers' gateway; 0 when there is none (Lambda).
	Port int
	// Routes names the routes to serve; nil serves all.
	Routes []string
	// CheckinFromHost derives the default check-in URL from the host a
	// request came to (https://<host>/v1/check-in): behind API Gateway, the
	// API's own address is where containers check in.
	CheckinFromHost bool
}

// API serves Berth's HTTP API. It is an http.Handler.
type API struct {
	cfg       Config
	driver    driver.Driver
	log       *slog.Logger
	resources driver.Resources
	secret    []byte
	adminHash [sha256.Size]byte
	port      int
	fromHost  bool
	mux       *http.ServeMux

	background sync.WaitGroup // stops that outlive their request

	checkinMu  sync.Mutex
	checkinURL string
}

// New returns the API for cfg. It makes no network call.
func New(cfg Config, opts Options) (*API, error) {
	res, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if opts.Driver == nil {
		return nil, errors.New("api: no driver")
	}
	a := &API{
		cfg:       cfg,
		driver:    opts.Driver,
		log:       opts.Logger,
		resources: res,
		secret:    []byte(cfg.Secret),
		adminHash: sha256.Sum256([]byte(cfg.AdminToken)),
		port:      opts.Port,
		fromHost:  opts.CheckinFromHost,
		mux:       http.NewServeMux(),
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	for _, rt := range routes {
		if opts.Routes == nil || slices.Contains(opts.Routes, rt.Name) {
			a.mux.Handle(rt.Method+" "+rt.Path, a.authorize(rt.access, rt.handler(a)))
		}
	}
	for _, name := range opts.Routes {
		if !slices.ContainsFunc(routes, func(rt Route) bool { return rt.Name == name }) {
			return nil, fmt.Errorf("api: no route named %q", name)
		}
	}
	return a, nil
}

// ServeHTTP runs every request through the same steps: panics become 500s,
// bodies are limited, a deadline is set, and requests no route matches get
// JSON 404 or 405 answers like every other error.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	began := time.Now()
	rec := &statusWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			a.log.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", v)
			if rec.code == 0 {
				writeJSON(rec, http.StatusInternalServerError, errorf(http.StatusInternalServerError, "internal error"))
			}
		}
		a.log.Info("request", "method", r.Method, "path", r.URL.Path, "code", rec.code, "took", time.Since(began))
	}()

	if r.ContentLength > maxBody {
		a.writeError(rec, r, &http.MaxBytesError{Limit: maxBody})
		return
	}
	r.Body = http.MaxBytesReader(rec, r.Body, maxBody)
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.RequestTimeout)
	defer cancel()
	r = r.WithContext(ctx)

	if _, pattern := a.mux.Handler(r); pattern == "" {
		a.noRoute(rec, r)
		return
	}
	a.mux.ServeHTTP(rec, r)
}

// noRoute answers a request that matches no route: 405 with Allow when the
// path exists for other methods, else 404.
func (a *API) noRoute(w http.ResponseWriter, r *http.Request) {
	h, _ := a.mux.Handler(r)
	probe := &headerProbe{header: http.Header{}}
	h.ServeHTTP(probe, r) // the mux's own 404/405 handler: it only writes
	if allow := probe.header.Get("Allow"); probe.code == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", allow)
		a.writeError(w, r, errorf(http.StatusMethodNotAllowed, "method %s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow))
		return
	}
	a.writeError(w, r, errorf(http.StatusNotFound, "no such endpoint: %s", r.URL.Path))
}

// Close waits, until ctx is done, for work that outlives requests.
func (a *API) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() { a.background.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type principalKey struct{}

// authorize checks the caller's credentials for a route's access level and
// hands the principal to the handler.
func (a *API) authorize(level access, h http.Handler) http.Handler {
	if level == accessCheckin {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.authenticate(r)
		if !ok {
			w.Header().Add("WWW-Authenticate", `Bearer realm="berth"`)
			w.Header().Add("WWW-Authenticate", `Basic realm="berth"`)
			a.writeError(w, r, errorf(http.StatusUnauthorized, "missing or invalid credentials"))
			return
		}
		if level == accessAdmin && !p.Admin {
			a.writeError(w, r, errorf(http.StatusForbidden, "this endpoint is for the admin only"))
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// withPrincipal adapts a handler that needs the authorized principal.
func (a *API) withPrincipal(h func(http.ResponseWriter, *http.Request, principal)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, r, r.Context().Value(principalKey{}).(principal))
	})
}

// checkinURLFor returns the URL r's new container checks in at: configured;
// else Berth's port on the containers' gateway when the driver knows it;
// else, behind API Gateway, the API's own host. It is "" when none applies.
func (a *API) checkinURLFor(r *http.Request) (string, error) {
	if a.cfg.CheckinURL != "" {
		return a.cfg.CheckinURL, nil
	}
	if a.fromHost && r.Host != "" {
		return "https://" + r.Host + "/v1/check-in", nil
	}
	h, ok := a.driver.(driver.HostAddresser)
	if !ok || a.port == 0 {
		return "", nil
	}
	a.checkinMu.Lock()
	defer a.checkinMu.Unlock()
	if a.checkinURL == "" {
		host, err := h.HostAddress(r.Context())
		if err != nil {
			return "", err
		}
		a.checkinURL = "http://" + host + ":" + strconv.Itoa(a.port) + "/v1/check-in"
	}
	return a.checkinURL, nil
}

// statusWriter remembers the status code for the access log.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// headerProbe records what the mux's fallback handler would answer.
type headerProbe struct {
	header http.Header
	code   int
}

func (p *headerProbe) Header() http.Header         { return p.header }
func (p *headerProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *headerProbe) WriteHeader(code int)        { p.code = code }
