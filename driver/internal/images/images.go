// Package images is what both drivers ask an engine about images: which
// tags it has, and what a reference resolves to.
package images

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"berth/driver"
	"berth/driver/internal/engineerr"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// Engine is the subset of the Docker client this package uses.
type Engine interface {
	ImageList(ctx context.Context, options image.ListOptions) ([]image.Summary, error)
	ImageInspect(ctx context.Context, image string, _ ...client.ImageInspectOption) (image.InspectResponse, error)
}

// Tags returns the "repo:tag" references of the engine's images, sorted.
func Tags(ctx context.Context, e Engine) ([]string, error) {
	imgs, err := e.ImageList(ctx, image.ListOptions{})
	if err != nil {
		return nil, engineerr.Wrap(err, "list images")
	}
	refs := []string{}
	for _, img := range imgs {
		for _, tag := range img.RepoTags {
			if tag != "<none>:<none>" {
				refs = append(refs, tag)
			}
		}
	}
	sort.Strings(refs)
	return slices.Compact(refs), nil
}

// Resolved is an image as the engine has it.
type Resolved struct {
	// Pinned names exactly this image: its registry digest when it came
	// from a registry, else its ID. A swarm node given a pinned reference
	// that it has runs it without asking a registry.
	Pinned string
	// Exposed are the ports the image exposes, sorted.
	Exposed []driver.Port
}

// Resolve inspects ref. An image the engine does not have is ErrInvalid.
func Resolve(ctx context.Context, e Engine, ref string) (Resolved, error) {
	img, err := e.ImageInspect(ctx, ref)
	if err != nil {
		err = engineerr.Wrap(err, "inspect image")
		if errors.Is(err, driver.ErrNotFound) {
			return Resolved{}, fmt.Errorf("%w: image %s is not present on the engine", driver.ErrInvalid, ref)
		}
		return Resolved{}, err
	}
	r := Resolved{Pinned: img.ID}
	if len(img.RepoDigests) > 0 {
		r.Pinned = img.RepoDigests[0]
	}
	if img.Config != nil {
		for p := range img.Config.ExposedPorts { // "8080/tcp"
			num, proto, _ := strings.Cut(p, "/")
			n, err := strconv.Atoi(num)
			if err != nil || n <= 0 || n > 65535 {
				continue
			}
			if proto == "" {
				proto = "tcp"
			}
			r.Exposed = append(r.Exposed, driver.Port{Container: n, Protocol: proto})
		}
	}
	sort.Slice(r.Exposed, func(i, j int) bool { return r.Exposed[i].Container < r.Exposed[j].Container })
	return r, nil
}
