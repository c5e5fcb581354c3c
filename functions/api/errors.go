package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"berth/driver"
)

// Error is an API error: its JSON form is the body of every error response.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

func errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// retryAfter is the Retry-After, in seconds, of 503 answers.
const retryAfter = "5"

// toError maps any error to the API error it is answered with: this is the
// one place where driver sentinels become HTTP statuses.
func toError(err error) *Error {
	var e *Error
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &tooBig):
		return errorf(http.StatusRequestEntityTooLarge, "request body is larger than %d bytes", tooBig.Limit)
	case errors.Is(err, driver.ErrUnavailable):
		return errorf(http.StatusServiceUnavailable, "the container engine is unavailable; retry later")
	case errors.Is(err, driver.ErrNotFound):
		return errorf(http.StatusNotFound, "%s", err)
	case errors.Is(err, driver.ErrConflict):
		return errorf(http.StatusConflict, "%s", err)
	case errors.Is(err, driver.ErrInvalid):
		return errorf(http.StatusBadRequest, "%s", err)
	case errors.Is(err, driver.ErrUnimplemented):
		return errorf(http.StatusNotImplemented, "%s", err)
	}
	return errorf(http.StatusInternalServerError, "internal error")
}

// writeError answers r with err. Server-side failures are logged with their
// cause, which the client does not see.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := toError(err)
	if e.Code >= 500 {
		a.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "code", e.Code, "err", err)
	}
	if e.Code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfter)
	}
	writeJSON(w, e.Code, e)
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		slog.Error("encode response", "err", err)
		code, body = http.StatusInternalServerError, []byte(`{"code":500,"message":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(body, '\n'))
}
