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

// checkIn posts active-connections to BERTH_CHECKIN_URL with the container's
// bearer token every BERTH_CHECKIN_INTERVAL (default 60s).
func checkIn(ctx context.Context, open *atomic.Int64) {
	target, token := os.Getenv("BERTH_CHECKIN_URL"), os.Getenv("BERTH_CHECKIN_TOKEN")
	if target == "" || token == "" {
		return
	}
	every, err := time.ParseDuration(os.Getenv("BERTH_CHECKIN_INTERVAL"))
	if err != nil || every <= 0 {
		every = time.Minute
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for {
		body := url.Values{"active-connections": {strconv.FormatInt(open.Load(), 10)}}.Encode()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+token)
		if resp, err := client.Do(req); err != nil {
			log.Printf("check-in: %v", err)
		} else {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				log.Printf("check-in: %s", resp.Status)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
