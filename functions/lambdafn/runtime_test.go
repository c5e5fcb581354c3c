package lambdafn_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// runtimeAPI is an in-test implementation of the Lambda Runtime API
// (2018-06-01): what a bootstrap talks to on Lambda. One serves one
// function process.
type runtimeAPI struct {
	srv       *httptest.Server
	queue     chan *invocation
	mu        sync.Mutex
	pending   map[string]*invocation
	nexts     atomic.Int32  // requests for the next invocation
	firstNext chan struct{} // closed by the first: init is over
	initError chan []byte   // bodies posted to /init/error
	seq       atomic.Int64
}

type invocation struct {
	id    string
	event []byte
	done  chan outcome
}

// outcome is what the function posted: its response, or an error.
type outcome struct {
	response []byte
	err      []byte
}

func newRuntimeAPI(t testing.TB) *runtimeAPI {
	rt := &runtimeAPI{
		queue:     make(chan *invocation),
		pending:   map[string]*invocation{},
		firstNext: make(chan struct{}),
		initError: make(chan []byte, 1),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", rt.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", rt.finish(false))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", rt.finish(true))
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rt.initError <- b
		w.WriteHeader(http.StatusAccepted)
	})
	rt.srv = httptest.NewServer(mux)
	t.Cleanup(rt.srv.Close)
	return rt
}

func (rt *runtimeAPI) addr() string { return rt.srv.Listener.Addr().String() }

func (rt *runtimeAPI) next(w http.ResponseWriter, r *http.Request) {
	if rt.nexts.Add(1) == 1 {
		close(rt.firstNext)
	}
	select {
	case inv := <-rt.queue:
		rt.mu.Lock()
		rt.pending[inv.id] = inv
		rt.mu.Unlock()
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(28*time.Second).UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:berth-test")
		h.Set("Lambda-Runtime-Trace-Id", "Root=1-6740a1b2-3c4d5e6f7a8b9c0d1e2f3a4b;Parent=53995c3f42cd8ad8;Sampled=0")
		w.Write(inv.event)
	case <-r.Context().Done():
	}
}

func (rt *runtimeAPI) finish(failed bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rt.mu.Lock()
		inv := rt.pending[r.PathValue("id")]
		delete(rt.pending, r.PathValue("id"))
		rt.mu.Unlock()
		if inv == nil {
			http.Error(w, "unknown invocation", http.StatusBadRequest)
			return
		}
		if failed {
			inv.done <- outcome{err: b}
		} else {
			inv.done <- outcome{response: b}
		}
		w.WriteHeader(http.StatusAccepted)
	}
}

// invoke hands event to the function and waits for its outcome.
func (rt *runtimeAPI) invoke(t testing.TB, event []byte) outcome {
	t.Helper()
	inv := &invocation{id: fmt.Sprintf("req-%d", rt.seq.Add(1)), event: event, done: make(chan outcome, 1)}
	select {
	case rt.queue <- inv:
	case <-time.After(30 * time.Second):
		t.Fatal("the function never asked for the next invocation")
	}
	select {
	case o := <-inv.done:
		return o
	case <-time.After(30 * time.Second):
		t.Fatal("the function never answered")
	}
	return outcome{}
}

// function is one running bootstrap and its runtime API.
type function struct {
	name    string
	rt      *runtimeAPI
	cmd     *exec.Cmd
	log     *bytes.Buffer
	exited  chan error
	started time.Time
	served  int
}

// startFunction runs the built bootstrap of the named function with env,
// against a runtime API of its own.
func startFunction(t testing.TB, name string, env []string) *function {
	t.Helper()
	f := &function{name: name, rt: newRuntimeAPI(t), log: &bytes.Buffer{}, exited: make(chan error, 1)}
	f.cmd = exec.Command(filepath.Join(binDir, name))
	f.cmd.Env = append([]string{
		"AWS_LAMBDA_RUNTIME_API=" + f.rt.addr(),
		"AWS_LAMBDA_FUNCTION_NAME=berth-" + name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		"AWS_REGION=eu-west-1",
		"PATH=" + os.Getenv("PATH"),
	}, env...)
	f.cmd.Stdout, f.cmd.Stderr = f.log, f.log
	f.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	f.started = time.Now()
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { f.exited <- f.cmd.Wait() }()
	t.Cleanup(func() {
		f.cmd.Process.Kill()
		<-f.exited
	})
	return f
}

// waitReady waits until init is over: the first request for an invocation.
func (f *function) waitReady(t testing.TB) time.Duration {
	t.Helper()
	select {
	case <-f.rt.firstNext:
		return time.Since(f.started)
	case err := <-f.exited:
		f.exited <- err
		t.Fatalf("%s exited during init: %v\n%s", f.name, err, f.log)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s never finished init\n%s", f.name, f.log)
	}
	return 0
}

// invoke sends one event to the warm process.
func (f *function) invoke(t testing.TB, event []byte) outcome {
	t.Helper()
	f.served++
	return f.rt.invoke(t, event)
}
