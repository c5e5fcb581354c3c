package lambdafn_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"berth/driver/connect"
	"berth/functions/api"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
)

// BenchmarkColdStart: the time from starting a function's bootstrap to its
// first request for an invocation — its whole init — over b.N starts
// (make bench: 25). Also prints each built binary's size.
func BenchmarkColdStart(b *testing.B) {
	env := functionEnv(b, "cold-start")
	var took []time.Duration
	for range b.N {
		f := startFunction(b, "create-container", env)
		took = append(took, f.waitReady(b))
		f.cmd.Process.Kill()
	}
	slices.Sort(took)
	p50, p95 := took[len(took)/2], took[(len(took)-1)*95/100]
	fmt.Printf("cold start (n=%d): p50 %v p95 %v\n", len(took), p50.Round(10*time.Microsecond), p95.Round(10*time.Microsecond))
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p95.Microseconds())/1000, "p95-ms")
	b.ReportMetric(0, "ns/op")
	if info, err := os.Stat(binDir + "/create-container"); err == nil {
		fmt.Printf("bootstrap size (host build, not stripped): %.1f MB\n", float64(info.Size())/1e6)
	}
}

// BenchmarkAdapterOverhead: one request through the API Gateway v2 adapter
// against the same request to the handler's ServeHTTP, alternating. The
// route is GET /v1/users/me, which calls no engine.
func BenchmarkAdapterOverhead(b *testing.B) {
	d, err := connect.Open(connect.Config{Driver: "swarm", Host: "unix:///nonexistent.sock", Instance: "x", Network: "x"}, "")
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	var cfg api.Config
	cfg.AdminToken, cfg.Secret, cfg.Memory, cfg.CPUs, cfg.Pids = adminToken, "lambda-hmac-secret-0123456789abcdef", "64m", 1, 64
	cfg.IdleTimeout, cfg.MaxIdleTimeout, cfg.MaxReplicas, cfg.RequestTimeout = time.Hour, time.Hour, 1, time.Minute
	a, err := api.New(cfg, api.Options{Driver: d, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	adapter := httpadapter.NewV2(a)
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(request{route: "get-me", method: "GET", path: "/v1/users/me", auth: "Bearer " + adminToken}.event(b), &ev); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var direct, viaAdapter time.Duration
	b.ResetTimer()
	for range b.N {
		began := time.Now()
		req := httptest.NewRequest("GET", "/v1/users/me", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		w := httptest.NewRecorder()
		a.ServeHTTP(w, req)
		direct += time.Since(began)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}

		began = time.Now()
		resp, err := adapter.ProxyWithContext(ctx, ev)
		viaAdapter += time.Since(began)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatal(resp.StatusCode, err)
		}
	}
	b.StopTimer()
	n := time.Duration(b.N)
	fmt.Printf("adapter (n=%d): ServeHTTP %v, through the v2 adapter %v, extra %v per request\n", b.N, direct/n, viaAdapter/n, (viaAdapter-direct)/n)
	b.ReportMetric(float64((viaAdapter-direct)/n)/1e3, "extra-µs")
	b.ReportMetric(0, "ns/op")
}
