package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/borawf/bora/internal/embedded"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

const serveUsage = `usage: bora serve --db PATH [flags]

Runs the embedded engine, workers, timers and reconciler over a SQLite file
until interrupted, carrying every execution in it forward — also those left
unfinished when an earlier bora run or bora serve was stopped or killed.

Flags:
  --db PATH          the SQLite file (required)
  --workers N        concurrent actions (default 8)
  --lease D          a worker's lease on a claimed task (default 30s); a task
                     whose worker vanished is retried after it (safe-rerun)
  --grace D          on SIGINT or SIGTERM, how long running actions have to
                     finish before they are recorded as interrupted (default 10s);
                     a second signal quits at once
  --exit-when-done   exit once no execution is RUNNING
`

func serveCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, serveUsage) }
	db := fs.String("db", "", "")
	workers := fs.Int("workers", 8, "")
	lease := fs.Duration("lease", 30*time.Second, "")
	exitWhenDone := fs.Bool("exit-when-done", false, "")
	grace := fs.Duration("grace", embedded.DefaultGrace, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *db == "" || fs.NArg() != 0 {
		fmt.Fprint(stderr, serveUsage)
		return 2
	}
	b, code := openEmbedded("serve", embedded.Options{Path: *db, Workers: *workers, Lease: *lease, Grace: *grace}, stderr)
	if b == nil {
		return code
	}
	defer b.Close()
	ctx, stop := start(b, stderr)
	defer stop()
	fmt.Fprintf(stdout, "bora serve: serving %s with %d workers\n", *db, *workers)
	if !*exitWhenDone {
		<-ctx.Done()
		return 0
	}
	for {
		page, _, err := b.Store.ListExecutions(ctx, store.ListQuery{State: record.ExecRunning, Limit: 1})
		if err != nil {
			if ctx.Err() != nil {
				return 1
			}
			fmt.Fprintf(stderr, "bora serve: %v\n", err)
			return 1
		}
		if len(page) == 0 {
			fmt.Fprintln(stdout, "bora serve: no execution is running")
			return 0
		}
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(100 * time.Millisecond):
		}
	}
}
