package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/borawf/bora/internal/console"
)

const consoleUsage = `usage: bora console --endpoint URL [--addr 127.0.0.1:8090] [flags]

Serves the web console of a deployed API on this machine. The browser talks
to the console only; the console calls the API with your credentials — AWS
SigV4 with the default credential chain for API Gateway, or bora serve's
token — so that no credential reaches the browser. Open the address it
prints: it carries a key, and calls from a browser that has not opened it
are refused, as are calls from other sites' pages.

(bora serve serves the same console itself, at its own address.)

Flags:
  --addr ADDR     where the console listens: a loopback address only
                  (default 127.0.0.1:8090; port 0 picks a free one)
`

func consoleCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("console", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8090", "")
	var rf remoteFlags
	rf.register(fs)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, consoleUsage+remoteFlagsUsage) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	if host, _, err := net.SplitHostPort(*addr); err != nil || !loopback(host) {
		fmt.Fprintf(stderr, "bora console: --addr %q: want a loopback HOST:PORT such as 127.0.0.1:8090; the console acts with your credentials, so it serves this machine only\n", *addr)
		return exitUsage
	}
	c, err := rf.client()
	if err != nil {
		fmt.Fprintf(stderr, "bora console: %v\n", err)
		return exitUsage
	}
	key := console.NewKey()
	h, err := console.Proxy(console.ProxyOptions{
		Endpoint: c.Endpoint(),
		Key:      key,
		Authorize: func(r *http.Request, body []byte) error {
			return c.Authorize(r.Context(), r, body)
		},
		Log: cliLogger(stderr),
	})
	if err != nil {
		fmt.Fprintf(stderr, "bora console: %v\n", err)
		return exitUsage
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "bora console: %v\n", err)
		return exitFail
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      90 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	how := "unsigned"
	switch {
	case c.Signs():
		how = "signed with SigV4 (your AWS credentials)"
	case rf.token != "":
		how = "with the server's bearer token"
	}
	fmt.Fprintf(stdout, "bora console: the console of %s is at http://%s/?key=%s (API calls %s; Ctrl-C stops it)\n", c.Endpoint(), ln.Addr(), key, how)
	select {
	case <-ctx.Done():
	case err := <-served:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stderr, "bora console: %v\n", err)
			return exitFail
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return exitOK
}
