// Package imagebuild builds the images Berth's tests and demo need on the
// local engine. There is no registry to pull from, so images are built here:
// a static Go binary copied onto scratch.
package imagebuild

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
)

// DemoImage is the test and demo image: infra/testimage.
const DemoImage = "berth/demo:latest"

// sourceLabel records the hash of the sources an image was built from, so a
// stale image is rebuilt and a current one is left alone.
const sourceLabel = "berth.source"

// EnsureDemo makes sure DemoImage on cli is built from the current sources of
// infra/testimage, building it if it is missing or stale. It returns the
// image reference.
func EnsureDemo(ctx context.Context, cli client.ImageAPIClient) (string, error) {
	dir := filepath.Join(repoRoot(), "infra", "testimage")
	sum, err := hashDir(dir)
	if err != nil {
		return "", err
	}
	old, err := cli.ImageInspect(ctx, DemoImage)
	if err == nil && old.Config != nil && old.Config.Labels[sourceLabel] == sum {
		return DemoImage, nil
	}
	tmp, err := os.MkdirTemp("", "berth-demo-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	gobuild := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(tmp, "demo"), ".")
	gobuild.Dir = dir
	gobuild.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := gobuild.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build demo binary: %v\n%s", err, out)
	}
	if err := copyFile(filepath.Join(dir, "Dockerfile"), filepath.Join(tmp, "Dockerfile")); err != nil {
		return "", err
	}
	buildContext, err := tarDir(tmp)
	if err != nil {
		return "", err
	}
	resp, err := cli.ImageBuild(ctx, buildContext, build.ImageBuildOptions{
		Tags:        []string{DemoImage},
		Labels:      map[string]string{sourceLabel: sum},
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return "", fmt.Errorf("build %s: %w", DemoImage, err)
	}
	defer resp.Body.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(resp.Body, io.Discard, 0, false, nil); err != nil {
		return "", fmt.Errorf("build %s: %w", DemoImage, err)
	}
	if old.ID != "" {
		// The stale image lost its tag; remove it unless a container still uses it.
		cli.ImageRemove(ctx, old.ID, image.RemoveOptions{PruneChildren: true})
	}
	return DemoImage, nil
}

// repoRoot is the module root, found from this file's location so that tests
// in any package and `go run` from any directory agree.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// hashDir hashes the names and contents of the regular files in dir.
func hashDir(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	h := sha256.New()
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", e.Name(), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

// tarDir returns a tar stream of the regular files directly in dir.
func tarDir(dir string) (io.Reader, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if err := tw.WriteHeader(&tar.Header{Name: e.Name(), Mode: 0o755, Size: int64(len(b))}); err != nil {
			return nil, err
		}
		tw.Write(b)
	}
	return &buf, tw.Close()
}
