package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/borawf/bora/internal/dsl"
	"github.com/borawf/bora/internal/embedded"
	"github.com/borawf/bora/internal/engine"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
)

const runUsage = `usage: bora run FILE [flags]

Runs one execution of a workflow to its end on the embedded engine (a SQLite
file, no AWS account needed) and prints each task execution as it changes state.

Flags:
  --workflow NAME    the workflow to run; may be left out when FILE holds one
  --task-name TASK   the target task of a reverse workflow
  --input JSON|@F    the workflow input, as JSON or @file
  --env JSON|@F      the execution environment (env()), as JSON or @file
  --json             print the execution as one JSON document, last on stdout
  --db PATH          keep state in this SQLite file (default: a temporary file)
  --workers N        concurrent actions (default 8)
  --lease D          a worker's lease on a claimed task (default 30s)
  --grace D          at the end, or on SIGINT or SIGTERM, how long actions still
                     running (of other executions in --db) have to finish before
                     they are recorded as interrupted (default 10s)
  --quiet            no progress lines

Exit status: 0 SUCCESS, 1 ERROR, CANCELLED or PAUSED, 2 invalid workflow or usage.
`

// runFlags are the flags of `bora run`.
type runFlags struct {
	workflow, taskName, input, env, db string
	json, quiet                        bool
	workers                            int
	lease, grace                       time.Duration
}

func runCmd(args []string, stdout, stderr io.Writer) int {
	var f runFlags
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, runUsage) }
	fs.StringVar(&f.workflow, "workflow", "", "")
	fs.StringVar(&f.taskName, "task-name", "", "")
	fs.StringVar(&f.input, "input", "", "")
	fs.StringVar(&f.env, "env", "", "")
	fs.StringVar(&f.db, "db", "", "")
	fs.BoolVar(&f.json, "json", false, "")
	fs.BoolVar(&f.quiet, "quiet", false, "")
	fs.IntVar(&f.workers, "workers", 8, "")
	fs.DurationVar(&f.lease, "lease", 30*time.Second, "")
	fs.DurationVar(&f.grace, "grace", embedded.DefaultGrace, "")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprint(stderr, runUsage)
		return 2
	}
	file := pos[0]
	src, err := readSource(file)
	if err != nil {
		fmt.Fprintf(stderr, "bora run: %s: %v\n", file, err)
		return 2
	}
	// The document is loaded once: checked here, with the actions it
	// names checked against the worker's registry, and handed to Submit.
	bundle, diags := dsl.Load(file, src)
	if bundle != nil {
		diags = dsl.CheckActions(bundle, knownActions())
	}
	if diags.HasErrors() {
		fmt.Fprintf(stderr, "bora run: %v\n", &runtime.InvalidError{Msg: fmt.Sprintf("%s is not a valid workflow document", file), Diagnostics: diags})
		return 2
	}
	for _, d := range diags {
		fmt.Fprintln(stderr, d.String())
	}
	input, err := jsonArg("--input", f.input, "{}")
	if err != nil {
		fmt.Fprintf(stderr, "bora run: %v\n", err)
		return 2
	}
	env, err := jsonArg("--env", f.env, "null")
	if err != nil {
		fmt.Fprintf(stderr, "bora run: %v\n", err)
		return 2
	}
	var params json.RawMessage
	if f.taskName != "" {
		params, _ = json.Marshal(map[string]string{"task_name": f.taskName})
	}

	dbPath := f.db
	if dbPath == "" {
		dir, err := os.MkdirTemp("", "bora-run-")
		if err != nil {
			fmt.Fprintf(stderr, "bora run: %v\n", err)
			return 1
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "bora.db")
	}
	b, code := openEmbedded("run", embedded.Options{Path: dbPath, Workers: f.workers, Lease: f.lease, Grace: f.grace}, stderr)
	if b == nil {
		return code
	}
	defer b.Close()

	ctx, stop := start(b, stderr)
	defer stop()

	head, err := b.Runtime.Submit(ctx, runtime.Submission{
		File: file, Source: src, Bundle: bundle, Workflow: f.workflow, Input: input, Env: env, Params: params,
	})
	var invalid *runtime.InvalidError
	if errors.As(err, &invalid) {
		fmt.Fprintf(stderr, "bora run: %v\n", invalid)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "bora run: %v\n", err)
		return 1
	}

	progressOut := stdout
	if f.json {
		progressOut = stderr
	}
	var p *progress
	if !f.quiet {
		p = newProgress(progressOut, isTerminal(progressOut), time.Now())
		if bundle != nil {
			if wf := bundle.Workflows[head.Workflow]; wf != nil {
				p.fit(wf.Order)
			}
		}
		p.header(head)
	}
	final, err := watchUntil(ctx, b, head.ID, p, func(e *record.Execution) (bool, error) {
		return e.State.Terminal() || e.State == record.ExecPaused, nil
	})
	if err != nil {
		fmt.Fprintf(stderr, "bora run: execution %s: %v\n", head.ID, err)
		return 1
	}
	return finish(final, b, head.ID, p, f.json, stdout, stderr, false)
}

// watchUntil follows an execution until done says so, reporting each task
// execution's state changes to p.
func watchUntil(ctx context.Context, b *embedded.Bora, id string, p *progress, done func(*record.Execution) (bool, error)) (*record.Execution, error) {
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		e, err := b.Store.GetExecution(ctx, id)
		if err != nil {
			return nil, err
		}
		if p != nil {
			tasks, err := b.Store.ListTasks(ctx, id)
			if err != nil {
				return nil, err
			}
			p.tasks(tasks, func(key string) []*record.Unit {
				us, _ := b.Store.ListUnits(ctx, id, key)
				return us
			})
		}
		if ok, err := done(e); ok || err != nil {
			return e, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("interrupted while %s; its state is kept in the database (with --db, bora serve or bora resume carries it on)", e.State)
		case <-tick.C:
		}
	}
}

// jsonArg reads a JSON flag value: inline JSON, or @file.
func jsonArg(name, v, def string) (json.RawMessage, error) {
	if v == "" {
		return json.RawMessage(def), nil
	}
	data := []byte(v)
	if v[0] == '@' {
		f, err := os.Open(v[1:])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		defer f.Close()
		// No value may be larger than engine.MaxValueBytes; the engine
		// checks the limit set.
		if data, err = readAtMost(f, engine.MaxValueBytes, "the largest value an execution may hold"); err != nil {
			return nil, fmt.Errorf("%s %s: %w", name, v, err)
		}
	}
	if !json.Valid(data) {
		return nil, fmt.Errorf("%s is not valid JSON: %.60q", name, data)
	}
	return json.RawMessage(data), nil
}

// parseInterspersed parses flags that may come before or after positional
// arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
