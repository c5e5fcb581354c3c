// Command demo builds Berth's demo image (infra/testimage) on the engine at
// DOCKER_HOST, unless it is already built from the current sources.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"berth/infra/imagebuild"

	"github.com/docker/docker/client"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err == nil {
		var ref string
		if ref, err = imagebuild.EnsureDemo(ctx, cli); err == nil {
			fmt.Println(ref)
			return
		}
	}
	fmt.Fprintln(os.Stderr, "demo image:", err)
	os.Exit(1)
}
