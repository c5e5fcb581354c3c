package api_test

import (
	"context"
	"testing"

	"berth/driver/drivertest"

	"github.com/docker/docker/api/types/image"
)

// TestListImagesFollowsAllowlist tags the demo image twice, once inside the
// allowlist and once outside, and expects only the first listed.
func TestListImagesFollowsAllowlist(t *testing.T) { eachDriver(t, testListImagesFollowsAllowlist) }

func testListImagesFollowsAllowlist(t *testing.T, kind string) {
	e := newEnv(t, kind, nil)
	ctx := context.Background()
	inside, outside := "berth/demo:"+e.instance, "berth-hidden/"+e.instance+":v1"
	for _, tag := range []string{inside, outside} {
		if err := e.cli.ImageTag(ctx, drivertest.DemoImage, tag); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.cli.ImageRemove(context.Background(), tag, image.RemoveOptions{}) })
	}
	var images []string
	e.do("GET", "/v1/images", admin, nil).decode(t, &images)
	if !contains(images, inside) || !contains(images, "berth/demo:latest") || contains(images, outside) {
		t.Errorf("GET /v1/images = %v: want %s and berth/demo:latest, not %s", images, inside, outside)
	}
	if r := e.do("POST", "/v1/containers", admin, map[string]string{"image": outside}); r.code != 403 {
		t.Errorf("create from %s: %s, want 403", outside, r)
	}
	if got := drivertest.Snapshot(t, e.cli, e.instance); got != "" {
		t.Errorf("a refused create left %s", got)
	}
}
