// Package engineerr classifies Docker client errors into Berth's driver
// sentinel errors. Both the docker and the swarm driver use it, so that one
// engine failure means the same thing whichever driver meets it.
package engineerr

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"

	"berth/driver"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/client"
)

// Wrap annotates err with what was being done and wraps the one driver
// sentinel that classifies it. It returns nil for a nil err.
func Wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	if sentinel := classify(err); sentinel != nil {
		return fmt.Errorf("%w: %s: %w", sentinel, what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func classify(err error) error {
	var (
		netErr     net.Error
		certErr    *tls.CertificateVerificationError
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		recordErr  tls.RecordHeaderError
		alertErr   tls.AlertError
		invalidErr x509.CertificateInvalidError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return driver.ErrUnavailable
	case client.IsErrConnectionFailed(err),
		errors.As(err, &netErr),
		errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr),
		errors.As(err, &invalidErr), errors.As(err, &recordErr), errors.As(err, &alertErr):
		return driver.ErrUnavailable
	case cerrdefs.IsNotFound(err):
		return driver.ErrNotFound
	case cerrdefs.IsConflict(err), cerrdefs.IsAlreadyExists(err):
		return driver.ErrConflict
	case cerrdefs.IsInvalidArgument(err):
		return driver.ErrInvalid
	case cerrdefs.IsUnavailable(err):
		return driver.ErrUnavailable
	case cerrdefs.IsNotImplemented(err):
		return driver.ErrUnimplemented
	}
	return nil
}
