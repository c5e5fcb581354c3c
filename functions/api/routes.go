package api

import "net/http"

// Route is one endpoint. The route table below is the whole API surface;
// each route is also one Lambda function, functions/<Name>.
type Route struct {
	Name    string // the Lambda function's directory under functions/
	Method  string
	Path    string // a net/http pattern path
	access  access
	handler func(*API) http.Handler
}

// access is who may call a route.
type access int

const (
	accessUser    access = iota // any valid user or admin credentials
	accessAdmin                 // admin credentials only
	accessCheckin               // a container's check-in token (checked by the handler)
)

var routes = []Route{
	{"list-images", "GET", "/v1/images", accessUser, handleListImages},
	{"list-containers", "GET", "/v1/containers", accessUser, handleListContainers},
	{"create-container", "POST", "/v1/containers", accessUser, handleCreateContainer},
	{"get-container", "GET", "/v1/containers/{id}", accessUser, handleGetContainer},
	{"update-container", "PATCH", "/v1/containers/{id}", accessUser, handleUpdateContainer},
	{"delete-container", "DELETE", "/v1/containers/{id}", accessUser, handleDeleteContainer},
	{"check-in", "POST", "/v1/check-in", accessCheckin, handleCheckIn},
	{"create-user", "POST", "/v1/users", accessAdmin, handleCreateUser},
	{"get-me", "GET", "/v1/users/me", accessUser, handleGetMe},
}

// Routes returns the route table.
func Routes() []Route {
	return append([]Route(nil), routes...)
}
