// Package lambdafn starts Berth's endpoints, and its reconcile pass, as AWS
// Lambda functions: each functions/<name>/main.go is one call into it.
//
// Everything is built once per cold start — settings, driver, API, adapter —
// and nothing touches the network until the first invocation. A driver that
// keeps state in the process or on local disk is refused: on Lambda nothing
// survives between invocations, and many instances run at once.
package lambdafn

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"berth/driver"
	"berth/driver/connect"
	"berth/functions/api"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
	"github.com/kelseyhightower/envconfig"
)

// Config is every setting of a Berth function, read once per cold start.
type Config struct {
	APIConfig
	EngineConfig
}

// Embedded under these names because both packages call theirs Config.
type (
	APIConfig    = api.Config
	EngineConfig = connect.Config
)

// Start serves one route of the API as this process's Lambda function,
// behind API Gateway's HTTP API (payload format 2.0). It does not return.
func Start(route string) {
	a, err := setup([]string{route})
	if err != nil {
		initError(err)
	}
	adapter := httpadapter.NewV2(a)
	lambda.Start(adapter.ProxyWithContext)
}

// StartReconcile runs the reconcile pass — the one the local binary runs on
// its ticker — on every invocation (a schedule). It does not return.
func StartReconcile() {
	a, err := setup([]string{})
	if err != nil {
		initError(err)
	}
	lambda.Start(func(ctx context.Context, _ events.CloudWatchEvent) (api.ReconcileReport, error) {
		return a.Reconcile(ctx, time.Now())
	})
}

// setup builds the API for routes from the environment.
func setup(routes []string) (*api.API, error) {
	var cfg Config
	if err := envconfig.Process("", &cfg); err != nil {
		return nil, err
	}
	d, err := connect.Open(cfg.EngineConfig, "")
	if err != nil {
		return nil, err
	}
	if l, ok := d.(driver.LocalStater); ok && l.KeepsLocalState() {
		d.Close()
		return nil, fmt.Errorf("BERTH_DRIVER=%s keeps state in the process or on local disk, and on Lambda nothing survives an invocation: use BERTH_DRIVER=swarm", cfg.Driver)
	}
	return api.New(cfg.APIConfig, api.Options{
		Driver:          d,
		Logger:          slog.New(slog.NewJSONHandler(os.Stderr, nil)),
		Routes:          routes,
		CheckinFromHost: true,
	})
}

// initError reports a failed cold start to the Lambda Runtime API, so that
// the invocation fails with the reason, and exits.
func initError(err error) {
	fmt.Fprintln(os.Stderr, "berth: init:", err)
	body, _ := json.Marshal(map[string]string{"errorMessage": err.Error(), "errorType": "Runtime.InitError"})
	// The runtime's address is Lambda's contract with every runtime, not a
	// Berth setting.
	url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/init/error"
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Lambda-Runtime-Function-Error-Type", "Runtime.InitError")
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req); err == nil {
		resp.Body.Close()
	}
	os.Exit(1)
}
