// Command demo is Berth's test and demo image: a tiny HTTP app that exposes
// ports 22 and 8080 and reports its activity to Berth's check-in URL.
//
// It is built statically and copied onto a FROM scratch image (see Dockerfile).
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	var open atomic.Int64 // open HTTP connections: what a check-in reports as active

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		host, _ := os.Hostname()
		fmt.Fprintf(w, "hello from berth demo on %s\n", host)
	})
	mux.HandleFunc("/env/{name}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, os.Getenv(r.PathValue("name")))
	})
	// The process's own view of its privileges (NoNewPrivs, CapEff, Seccomp):
	// tests read it to see the hardening from inside.
	mux.HandleFunc("/self/status", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile("/proc/self/status") // stat says 0 bytes: read, don't serve
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(b)
	})
	// A test hook: check in now, as told, and relay Berth's answer. auth=none
	// leaves the token out (Berth's opt-in check-in by source IP);
	// forwarded_for adds an X-Forwarded-For header Berth must not trust.
	mux.HandleFunc("POST /check-in", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		token := os.Getenv("BERTH_CHECKIN_TOKEN")
		if q.Get("auth") == "none" {
			token = ""
		}
		code, body, err := report(r.Context(), http.DefaultClient, token, q.Get("active"), q.Get("forwarded_for"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(code)
		w.Write(body)
	})
	srv := &http.Server{
		Addr:              ":8080",
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ConnState: func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				open.Add(1)
			case http.StateClosed, http.StateHijacked:
				open.Add(-1)
			}
		},
	}
	go serveBanner(ctx, ":22")
	go checkIn(ctx, &open)
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(shutdownCtx)
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// serveBanner answers on the ssh port with an SSH-style banner, enough for a
// client to see that the port is published and reachable.
func serveBanner(ctx context.Context, addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Printf("banner: %v", err)
		return
	}
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.WriteString(c, "SSH-2.0-berth-demo\r\n")
		c.Close()
	}
}

// checkIn reports the number of open HTTP connections to Berth after every
// CHECKIN_INTERVAL (default 60s), with the container's check-in token.
func checkIn(ctx context.Context, open *atomic.Int64) {
	token := os.Getenv("BERTH_CHECKIN_TOKEN")
	if os.Getenv("BERTH_CHECKIN_URL") == "" || token == "" {
		return
	}
	every, err := time.ParseDuration(os.Getenv("CHECKIN_INTERVAL"))
	if err != nil || every <= 0 {
		every = time.Minute
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		code, _, err := report(ctx, client, token, strconv.FormatInt(open.Load(), 10), "")
		if err != nil || code != http.StatusOK {
			log.Printf("check-in: %d %v", code, err)
		}
	}
}

// report posts one check-in as a form, the way spin-docker's images did.
func report(ctx context.Context, client *http.Client, token, active, forwardedFor string) (int, []byte, error) {
	if active == "" {
		active = "0"
	}
	body := url.Values{"active-connections": {active}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, os.Getenv("BERTH_CHECKIN_URL"), strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", forwardedFor)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}
