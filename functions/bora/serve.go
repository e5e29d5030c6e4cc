package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/borawf/bora/internal/api"
	"github.com/borawf/bora/internal/console"
	"github.com/borawf/bora/internal/embedded"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

const serveUsage = `usage: bora serve [--addr 127.0.0.1:8080] [--db PATH] [flags]

Serves Bora's HTTP API (the API that runs on AWS behind API Gateway) and,
beside it at /, the web console, and runs the embedded engine, workers,
timers, reconciler and cron triggers over a SQLite file until interrupted,
carrying every execution in it forward — also those left
unfinished when an earlier bora run or bora serve was stopped or killed.
Clients: bora --endpoint http://ADDR <command>, or any HTTP client
(the routes are listed at /v1/openapi.json).

Flags:
  --addr ADDR        where the API listens (default 127.0.0.1:8080; port 0
                     picks a free one; off: no API). An address other than
                     a loopback one needs a token.
  --db PATH          the SQLite file (default bora.db; created if missing)
  --token TOKEN      require Authorization: Bearer TOKEN on every request
                     (default $BORA_TOKEN; prefer the variable, which other
                     users cannot see in the process list)
  --workers N        concurrent actions (default 8)
  --lease D          a worker's lease on a claimed task (default 30s); a task
                     whose worker vanished is retried after it (safe-rerun)
  --grace D          on SIGINT or SIGTERM, how long running actions have to
                     finish before they are recorded as interrupted (default 10s);
                     a second signal quits at once
  --exit-when-done   exit once no execution is RUNNING

BORA_LOG=info logs every API request (method, path, status, duration and
request id) to stderr; the default, error, logs the requests that failed.
`

// serveFlags are the flags of `bora serve`.
type serveFlags struct {
	addr, db, token string
	workers         int
	lease, grace    time.Duration
	exitWhenDone    bool
}

func serveCmd(args []string, stdout, stderr io.Writer) int {
	var f serveFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, serveUsage) }
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "")
	fs.StringVar(&f.db, "db", "bora.db", "")
	fs.StringVar(&f.token, "token", os.Getenv(envToken), "")
	fs.IntVar(&f.workers, "workers", 8, "")
	fs.DurationVar(&f.lease, "lease", 30*time.Second, "")
	fs.BoolVar(&f.exitWhenDone, "exit-when-done", false, "")
	fs.DurationVar(&f.grace, "grace", embedded.DefaultGrace, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if f.db == "" || fs.NArg() != 0 {
		fmt.Fprint(stderr, serveUsage)
		return exitUsage
	}
	if f.addr != "off" {
		if err := checkListen(f.addr, f.token); err != nil {
			fmt.Fprintf(stderr, "bora serve: %v\n", err)
			return exitUsage
		}
	}
	b, code := openEmbedded("serve", embedded.Options{Path: f.db, Workers: f.workers, Lease: f.lease, Grace: f.grace, Triggers: time.Second}, stderr)
	if b == nil {
		return code
	}
	defer b.Close()
	ctx, stop := start(b, stderr)
	defer stop()

	where := ""
	if f.addr != "off" {
		ln, err := net.Listen("tcp", f.addr)
		if err != nil {
			fmt.Fprintf(stderr, "bora serve: %v\n", err)
			return exitFail
		}
		log := cliLogger(stderr)
		h, err := api.New(api.Options{Store: b.Store, Runtime: b.Runtime, Actions: knownActions(), Log: log, Token: f.token})
		if err != nil {
			ln.Close()
			fmt.Fprintf(stderr, "bora serve: %v\n", err)
			return exitFail
		}
		mux := http.NewServeMux()
		mux.Handle(api.BasePath+"/", h)
		mux.Handle("/", console.Handler())
		srv := &http.Server{
			Handler:           accessLog(mux, log),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		go func() {
			if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
				fmt.Fprintf(stderr, "bora serve: %v\n", err)
				stop()
			}
		}()
		auth := ""
		if f.token != "" {
			auth = ", bearer token required"
		}
		where = fmt.Sprintf("; API at http://%s%s%s; console at http://%s/", ln.Addr(), api.BasePath, auth, ln.Addr())
	}
	fmt.Fprintf(stdout, "bora serve: serving %s with %d workers%s\n", f.db, f.workers, where)
	if !f.exitWhenDone {
		<-ctx.Done()
		return exitOK
	}
	for {
		page, _, err := b.Store.ListExecutions(ctx, store.ListQuery{State: record.ExecRunning, Limit: 1})
		if err != nil {
			if ctx.Err() != nil {
				return exitFail
			}
			fmt.Fprintf(stderr, "bora serve: %v\n", err)
			return exitFail
		}
		if len(page) == 0 {
			fmt.Fprintln(stdout, "bora serve: no execution is running")
			return exitOK
		}
		select {
		case <-ctx.Done():
			return exitOK
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// accessLog logs each request at level info (BORA_LOG=info shows them).
func accessLog(h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !log.Enabled(r.Context(), slog.LevelInfo) {
			h.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"duration", time.Since(start).Round(time.Microsecond), "request_id", w.Header().Get(api.RequestIDHeader), "remote", r.RemoteAddr)
	})
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// checkListen refuses an address the API would be reachable at from other
// machines unless requests must carry a token.
func checkListen(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: want HOST:PORT, such as 127.0.0.1:8080", addr)
	}
	if token != "" || loopback(host) {
		return nil
	}
	what := host
	if host == "" {
		what = "every interface"
	}
	return fmt.Errorf("--addr %s listens on %s, which other machines may reach: set a token (BORA_TOKEN or --token) to require it of every request, or listen on 127.0.0.1", addr, what)
}

// loopback reports whether a listen host is this machine only.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
