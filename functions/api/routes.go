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

	{"list-services", "GET", "/v1/services", accessUser, handleListServices},
	{"create-service", "POST", "/v1/services", accessUser, handleCreateService},
	{"get-service", "GET", "/v1/services/{name}", accessUser, handleGetService},
	{"update-service", "PUT", "/v1/services/{name}", accessUser, handleUpdateService},
	{"delete-service", "DELETE", "/v1/services/{name}", accessUser, handleDeleteService},
	{"scale-service", "POST", "/v1/services/{name}/scale", accessUser, handleScaleService},
	{"service-status", "GET", "/v1/services/{name}/status", accessUser, handleServiceStatus},

	// The service connector's paths and bodies (seed 004).
	{"connector-list-services", "GET", "/service", accessUser, handleConnectorList},
	{"connector-create-service", "POST", "/service", accessUser, handleConnectorCreate},
	{"connector-get-service", "GET", "/service/{name}", accessUser, handleConnectorGet},
	{"connector-update-service", "PUT", "/service/{name}", accessUser, handleConnectorUpdate},
	{"connector-scale-service", "POST", "/service/{name}/scale", accessUser, handleConnectorScale},
	{"connector-service-status", "GET", "/service/{name}/status", accessUser, handleConnectorStatus},
}

// Routes returns the route table.
func Routes() []Route {
	return append([]Route(nil), routes...)
}
