package driver

import "errors"

// Sentinel errors. Drivers wrap exactly one of them with %w; the API maps each
// to one HTTP status in one place.
var (
	// ErrNotFound: the container (or image, service) does not exist, or is
	// not visible through the caller's filter.
	ErrNotFound = errors.New("not found")

	// ErrConflict: the request conflicts with the current state, such as a
	// name already in use. The operation did not happen.
	ErrConflict = errors.New("conflict")

	// ErrInvalid: the request cannot be carried out as given, such as an
	// image that is not present. Retrying it unchanged will fail again.
	ErrInvalid = errors.New("invalid")

	// ErrUnavailable: the engine could not be reached or did not answer in
	// time. The operation may or may not have happened; retry later.
	ErrUnavailable = errors.New("engine unavailable")

	// ErrUnimplemented: the driver does not offer this operation.
	ErrUnimplemented = errors.New("not implemented by this driver")
)
