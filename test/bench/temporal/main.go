// Command temporal runs Bora's peer benchmark shapes on Temporal: its server
// embedded in this process on SQLite, with an SDK worker running no-op
// activities, and prints the figures in Go's benchmark format so that they
// sit next to BenchmarkEmbedded's.
//
//	go run . [-linear N] [-items N] [-concurrency N] [-count N] [-setups LIST]
//
// Each shape is one workflow execution, from the client's start to its
// result, the workflow already registered:
//
//   - linear-N: a workflow that runs N activities one after the other, each
//     given the previous one's index (Bora's chain of N std.echo tasks);
//   - with-items-N-conc-C: a workflow that runs N activities, at most C at
//     once (Bora's with-items over range(N) with concurrency: C).
//
// The activity returns its input, as std.echo does. A setup is where the
// server keeps its state and how fast its history service may poll its
// transfer queue, the queue through which every activity and workflow task
// of an execution passes:
//
//   - memory-shipped: temporaltest.NewServer as shipped (SQLite in memory,
//     history.transferProcessorMaxPollRPS 20);
//   - memory-raised: the same, that limit raised to 10,000;
//   - file-shipped, file-raised: the same server configured by this program
//     on SQLite in a temporary file (WAL, synchronous=NORMAL, as Bora's
//     embedded store), with the limit as shipped and raised.
//
// Each line is
//
//	BenchmarkPeerTemporal/<shape>/<setup>-<GOMAXPROCS>  1  <ns/op> ns/op  <tasks/s> tasks/s  <µs> cpu-µs/task
//
// where cpu-µs/task is the process's user and system time over the run
// divided by the tasks: the server, the worker and the client together, as
// BenchmarkEmbedded's figure is the engine's and the workers' together.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

func main() {
	linear := flag.Int("linear", 1000, "activities in the chain (0 skips it)")
	items := flag.Int("items", 1000, "activities of the with-items workflow (0 skips it)")
	conc := flag.Int("concurrency", 50, "most activities of the with-items workflow in flight at once")
	count := flag.Int("count", 1, "runs of each shape and setup")
	setups := flag.String("setups", "memory-shipped,memory-raised,file-shipped,file-raised", "setups to run, comma-separated")
	timeout := flag.Duration("timeout", 10*time.Minute, "the longest one execution may take")
	flag.Parse()

	var shapes []shape
	if *linear > 0 {
		shapes = append(shapes, shape{name: fmt.Sprintf("linear-%d", *linear), workflow: Chain, tasks: *linear})
	}
	if *items > 0 {
		shapes = append(shapes, shape{name: fmt.Sprintf("with-items-%d-conc-%d", *items, *conc), workflow: Items, tasks: *items, conc: *conc})
	}
	fmt.Println("pkg: temporal")
	fmt.Printf("temporal: server %s, sdk %s\n", moduleVersion("go.temporal.io/server"), moduleVersion("go.temporal.io/sdk"))
	fmt.Printf("go: %s\n", goruntime.Version())
	for _, name := range strings.Split(*setups, ",") {
		s, ok := setupsByName[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "temporal: unknown setup %q\n", name)
			os.Exit(2)
		}
		if err := runSetup(name, s, shapes, *count, *timeout); err != nil {
			fmt.Fprintf(os.Stderr, "temporal: %s: %v\n", name, err)
			os.Exit(1)
		}
	}
}

type shape struct {
	name     string
	workflow any
	tasks    int
	conc     int
}

// runSetup starts a server of one setup, a worker on it, and runs every
// shape count times, printing one line per run.
func runSetup(name string, s setup, shapes []shape, count int, timeout time.Duration) error {
	dir, err := os.MkdirTemp("", "bora-bench-temporal-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := s.start(dir)
	if err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	defer srv.stop()
	const queue = "bench"
	w := worker.New(srv.client, queue, worker.Options{})
	w.RegisterWorkflow(Chain)
	w.RegisterWorkflow(Items)
	w.RegisterActivity(Echo)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	defer w.Stop()

	// One short run first: the server creates its task queues and caches
	// on first use, which is no part of an execution's cost.
	if err := execute(srv.client, queue, Chain, 2, 0, timeout); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	for _, sh := range shapes {
		for range count {
			goruntime.GC()
			cpu0 := cpuTime()
			start := time.Now()
			if err := execute(srv.client, queue, sh.workflow, sh.tasks, sh.conc, timeout); err != nil {
				return fmt.Errorf("%s: %w", sh.name, err)
			}
			wall := time.Since(start)
			cpu := cpuTime() - cpu0
			fmt.Printf("BenchmarkPeerTemporal/%s/%s-%d\t%8d\t%12d ns/op\t%10.1f tasks/s\t%10.0f cpu-µs/task\n",
				sh.name, name, goruntime.GOMAXPROCS(0), 1, wall.Nanoseconds(),
				float64(sh.tasks)/wall.Seconds(), float64(cpu.Microseconds())/float64(sh.tasks))
		}
	}
	return nil
}

// execute starts one workflow and waits for its result.
func execute(c client.Client, queue string, workflow any, n, conc int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := []any{n}
	if conc > 0 {
		args = append(args, conc)
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue}, workflow, args...)
	if err != nil {
		return err
	}
	var done int
	if err := run.Get(ctx, &done); err != nil {
		return err
	}
	if done != n {
		return fmt.Errorf("%d of %d activities done", done, n)
	}
	return nil
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// moduleVersion is the version of a module built into this program.
func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == path {
				return m.Version
			}
		}
	}
	return "unknown"
}
