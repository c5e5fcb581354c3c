package api

import (
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"time"

	"berth/driver"
)

type checkinRequest struct {
	ActiveConnections *jsonInt `json:"active-connections"`
}

func (req *checkinRequest) validate() error {
	if req.ActiveConnections == nil {
		return errorf(http.StatusBadRequest, "active-connections is required")
	}
	if n := *req.ActiveConnections; n < 0 || n > 1<<20 {
		return errorf(http.StatusBadRequest, "active-connections must be from 0 to %d, not %d", 1<<20, n)
	}
	return nil
}

type checkinResponse struct {
	ID           string    `json:"id"`
	Active       string    `json:"active"`
	LastActivity time.Time `json:"last_activity"`
}

// handleCheckIn records a container's activity report. The container proves
// who it is with its own check-in token; by source IP only when the operator
// has opted in and the request carries no token.
func handleCheckIn(a *API) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := a.checkinContainer(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		req, err := decode[checkinRequest](r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		now := time.Now().UTC()
		act := driver.Activity{At: now, Active: *req.ActiveConnections > 0}
		if err := a.driver.RecordActivity(r.Context(), c.ID, act); err != nil {
			a.writeError(w, r, err)
			return
		}
		resp := checkinResponse{ID: c.ID, Active: "0", LastActivity: c.LastActivity}
		if act.Active {
			resp.Active, resp.LastActivity = "1", now
		}
		writeJSON(w, http.StatusOK, resp)
	})
}

var errCheckinAuth = errorf(http.StatusUnauthorized, "check-in needs the container's BERTH_CHECKIN_TOKEN as a bearer token")

func (a *API) checkinContainer(r *http.Request) (*driver.Container, error) {
	token, hasToken := bearer(r)
	if !hasToken {
		if a.cfg.CheckinByIP && r.Header.Get("Authorization") == "" {
			return a.checkinByIP(r)
		}
		return nil, errCheckinAuth
	}
	name, hash, ok := parseCheckinToken(token)
	if !ok {
		return nil, errCheckinAuth
	}
	c, err := a.driver.Get(r.Context(), name, driver.Filter{})
	if errors.Is(err, driver.ErrNotFound) {
		return nil, errCheckinAuth
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(hash), []byte(c.CheckinHash)) != 1 {
		return nil, errCheckinAuth
	}
	return c, nil
}

// checkinByIP finds the container by the connection's source address. It
// never trusts forwarding headers, and an address shared by two containers
// identifies neither.
func (a *API) checkinByIP(r *http.Request) (*driver.Container, error) {
	resolver, ok := a.driver.(driver.AddressResolver)
	if !ok {
		return nil, errCheckinAuth
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return nil, errCheckinAuth
	}
	c, err := resolver.ContainerByIP(r.Context(), host)
	if errors.Is(err, driver.ErrNotFound) {
		return nil, errCheckinAuth
	}
	return c, err
}
