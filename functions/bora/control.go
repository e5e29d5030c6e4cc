package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/borawf/bora/internal/api"
	"github.com/borawf/bora/internal/embedded"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
	"github.com/borawf/bora/internal/store"
)

const controlUsage = `usage: bora pause|resume|cancel EXECUTION (--db PATH | --endpoint URL) [flags]
       bora rerun|skip EXECUTION TASK (--db PATH | --endpoint URL) [flags]

Sends a command to an execution and follows it until the command has taken
effect: pause until it is PAUSED, the others until it ends (or pauses
again). rerun runs a failed task again (by name, or by task execution such
as build#2) and resumes its failed execution; skip ends such a task SKIPPED
instead (its publish-on-skip is published) and the execution goes on from
its on-skip transitions, or its on-success ones.

With --db, the execution is kept in a SQLite file (bora run --db, bora
serve --db) and this command carries it forward on the embedded engine.
With --endpoint (or BORA_ENDPOINT), the command goes to the API of bora
serve or of a deployed stack, which checks that it fits the execution's
state (resume needs it PAUSED, rerun ERROR...).

Flags:
  --db PATH       the SQLite file
  --env JSON|@F   resume, rerun: a new environment for env(), merged in
  --reason TEXT   pause, cancel, with --endpoint: the execution's state_info
  --json          print the execution as one JSON document, last on stdout
  --no-wait       send the command and return (a running bora serve applies it)
  --quiet         no progress lines

Exit status: 0 when the execution ends in SUCCESS (or, for pause, is PAUSED),
1 otherwise, 2 on usage errors or an unknown execution.
`

// controlCmd builds the command for one op.
func controlCmd(op string) func(args []string, stdout, stderr io.Writer) int {
	return func(args []string, stdout, stderr io.Writer) int {
		fs := flag.NewFlagSet(op, flag.ContinueOnError)
		fs.SetOutput(stderr)
		fs.Usage = func() { fmt.Fprint(stderr, controlUsage+remoteFlagsUsage) }
		db := fs.String("db", "", "")
		envArg := fs.String("env", "", "")
		reason := fs.String("reason", "", "")
		asJSON := fs.Bool("json", false, "")
		noWait := fs.Bool("no-wait", false, "")
		quiet := fs.Bool("quiet", false, "")
		var rf remoteFlags
		rf.register(fs)
		pos, err := parseInterspersed(fs, args)
		if err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		want := 1
		if op == record.OpRerun || op == record.OpSkip {
			want = 2
		}
		if len(pos) != want {
			fmt.Fprint(stderr, controlUsage+remoteFlagsUsage)
			return 2
		}
		remote, ok := target(op, fs, *db, rf, stderr)
		switch {
		case !ok:
			return exitUsage
		case remote:
			return remoteControl(op, pos, rf, *envArg, *reason, *asJSON, *noWait, *quiet, stdout, stderr)
		}
		if *reason != "" {
			fmt.Fprintf(stderr, "bora %s: --reason is for --endpoint\n", op)
			return 2
		}
		c := record.Command{Op: op}
		if op == record.OpRerun || op == record.OpSkip {
			c.Task = pos[1]
		}
		if *envArg != "" {
			if c.Env, err = jsonArg("--env", *envArg, "null"); err != nil {
				fmt.Fprintf(stderr, "bora %s: %v\n", op, err)
				return 2
			}
		}
		if _, err := os.Stat(*db); err != nil {
			fmt.Fprintf(stderr, "bora %s: %v\n", op, err)
			return 2
		}
		b, code := openEmbedded(op, embedded.Options{Path: *db}, stderr)
		if b == nil {
			return code
		}
		defer b.Close()
		ctx := context.Background()
		id := pos[0]
		before, err := b.Store.GetExecution(ctx, id)
		if err != nil {
			fmt.Fprintf(stderr, "bora %s: execution %s: %v\n", op, id, err)
			return 2
		}
		if err := b.Runtime.Command(ctx, id, c); err != nil {
			fmt.Fprintf(stderr, "bora %s: %v\n", op, err)
			return 1
		}
		if *noWait {
			fmt.Fprintf(stdout, "bora %s: sent to execution %s (%s)\n", op, id, before.State)
			return 0
		}
		ctx, stop := start(b, stderr)
		defer stop()
		out := stdout
		if *asJSON {
			out = stderr
		}
		var p *progress
		if !*quiet {
			p = newProgress(out, isTerminal(out), time.Now())
			p.header(before)
		}
		final, err := follow(ctx, b, id, before.Version, op, p)
		if err != nil {
			fmt.Fprintf(stderr, "bora %s: execution %s: %v\n", op, id, err)
			return 1
		}
		return finish(final, b, id, p, *asJSON, stdout, stderr, op == record.OpPause)
	}
}

// target checks the --db and --endpoint (or BORA_ENDPOINT) of a command
// that works on either, and reports whether it goes to the API. ok false
// means a usage error was printed.
func target(cmd string, fs *flag.FlagSet, db string, rf remoteFlags, stderr io.Writer) (remote, ok bool) {
	switch {
	case db != "" && rf.endpoint != "" && !flagSet(fs, "endpoint"):
		// BORA_ENDPOINT is set, --db given: --db it is.
		return false, true
	case db != "" && rf.endpoint != "":
		fmt.Fprintf(stderr, "bora %s: give --db PATH or --endpoint URL, not both\n", cmd)
		return false, false
	case db == "" && rf.endpoint == "":
		fmt.Fprintf(stderr, "bora %s: give --db PATH (an embedded database) or --endpoint URL (an API; or set %s)\n", cmd, envEndpoint)
		return false, false
	}
	return db == "", true
}

// follow waits until the command has taken effect: for pause, until the
// execution is PAUSED or final; for the others, until it is final or paused
// again after having moved on from the state it was in.
func follow(ctx context.Context, b *embedded.Bora, id string, from int64, op string, p *progress) (*record.Execution, error) {
	deadline := time.Now().Add(10 * time.Second)
	return watchUntil(ctx, b, id, p, func(e *record.Execution) (bool, error) {
		moved := e.Version > from
		if !moved && time.Now().After(deadline) {
			return true, fmt.Errorf("the %s command changed nothing in 10 s: the execution is %s", op, e.State)
		}
		if op == record.OpPause {
			return moved && (e.State == record.ExecPaused || e.State.Terminal()), nil
		}
		return moved && (e.State.Terminal() || e.State == record.ExecPaused), nil
	})
}

// finish prints the summary and the JSON document, and returns the exit code.
func finish(final *record.Execution, b *embedded.Bora, id string, p *progress, asJSON bool, stdout, stderr io.Writer, pausedIsOK bool) int {
	doc, err := runtime.Describe(context.Background(), b.Store, id)
	if err != nil {
		fmt.Fprintf(stderr, "bora: %v\n", err)
		return 1
	}
	if p != nil {
		p.summary(doc)
	}
	if final.State == record.ExecPaused && !pausedIsOK {
		fmt.Fprintf(stderr, "execution %s is paused; with --db, `bora resume --db PATH %s` carries it on\n", id, id)
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			fmt.Fprintf(stderr, "bora: %v\n", err)
			return 1
		}
	}
	if final.State == record.ExecSuccess || (pausedIsOK && final.State == record.ExecPaused) {
		return 0
	}
	return 1
}

const showUsage = `usage: bora show --db PATH [EXECUTION] [--json]

Lists the executions kept in a SQLite file, newest first, or shows one with
its task executions.
`

func showCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("show", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, showUsage) }
	db := fs.String("db", "", "")
	asJSON := fs.Bool("json", false, "")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *db == "" || len(pos) > 1 {
		fmt.Fprint(stderr, showUsage)
		return 2
	}
	if _, err := os.Stat(*db); err != nil {
		fmt.Fprintf(stderr, "bora show: %v\n", err)
		return 2
	}
	// Read-only: showing changes nothing, and works on a database the
	// user may only read.
	st, closeDB, err := embedded.OpenReadOnly(*db)
	if err != nil {
		fmt.Fprintf(stderr, "bora show: %v\n", err)
		return 1
	}
	defer closeDB()
	ctx := context.Background()
	if len(pos) == 1 {
		doc, err := runtime.Describe(ctx, st, pos[0])
		if errors.Is(err, store.ErrNotFound) {
			fmt.Fprintf(stderr, "bora show: no execution %s in %s\n", pos[0], *db)
			return 2
		}
		if err != nil {
			fmt.Fprintf(stderr, "bora show: %v\n", err)
			return 1
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(doc)
			return 0
		}
		printDocument(stdout, doc)
		return 0
	}
	var all []*record.Execution
	cursor := ""
	for {
		page, next, err := st.ListExecutions(ctx, store.ListQuery{TopLevel: true, Cursor: cursor})
		if err != nil {
			fmt.Fprintf(stderr, "bora show: %v\n", err)
			return 1
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if *asJSON {
		type row struct {
			ID        string    `json:"id"`
			Workflow  string    `json:"workflow"`
			State     string    `json:"state"`
			CreatedAt time.Time `json:"created_at"`
		}
		rows := make([]row, len(all))
		for i, e := range all {
			rows[i] = row{e.ID, e.Workflow, string(e.State), e.CreatedAt}
		}
		_ = json.NewEncoder(stdout).Encode(rows)
		return 0
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tWORKFLOW\tSTATE\tCREATED")
	for _, e := range all {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.ID, e.Workflow, e.State, e.CreatedAt.Local().Format(time.DateTime))
	}
	_ = w.Flush()
	return 0
}

// flagSet reports whether a flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// remoteControl sends a command to an execution through the API and
// follows it until the command has taken effect, as the --db commands do.
func remoteControl(op string, pos []string, rf remoteFlags, envArg, reason string, asJSON, noWait, quiet bool, stdout, stderr io.Writer) int {
	c, err := rf.client()
	if err != nil {
		fmt.Fprintf(stderr, "bora %s: %v\n", op, err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s := &session{cmd: op, c: c, stdout: stdout, stderr: stderr, ctx: ctx}
	q := api.CommandRequest{Reason: reason}
	if op == record.OpRerun || op == record.OpSkip {
		q.Task = pos[1]
	}
	if envArg != "" {
		if q.Env, err = jsonArg("--env", envArg, "null"); err != nil {
			fmt.Fprintf(stderr, "bora %s: %v\n", op, err)
			return exitUsage
		}
	}
	before, err := c.Command(ctx, pos[0], op, q, "")
	if err != nil {
		return s.fail(err, "")
	}
	if noWait {
		fmt.Fprintf(stdout, "bora %s: sent to execution %s (%s)\n", op, before.ID, before.State)
		return exitOK
	}
	deadline := time.Now().Add(10 * time.Second)
	var stuck error
	final, err := s.follow(before, asJSON, quiet, func(d *runtime.Document) bool {
		moved := d.UpdatedAt.After(before.UpdatedAt) || d.State != before.State
		if !moved && time.Now().After(deadline) {
			stuck = fmt.Errorf("the %s command changed nothing in 10 s: the execution is %s (is the engine running?)", op, d.State)
			return true
		}
		if op == record.OpPause {
			return moved && (d.State == "PAUSED" || terminal(d.State))
		}
		return moved && (terminal(d.State) || d.State == "PAUSED")
	})
	if err == nil {
		err = stuck
	}
	if err != nil {
		return s.fail(err, "")
	}
	if final.State == "SUCCESS" || (op == record.OpPause && final.State == "PAUSED") {
		return exitOK
	}
	if final.State == "PAUSED" {
		fmt.Fprintf(stderr, "execution %s is paused; bora resume %s carries it on\n", final.ID, final.ID)
	}
	return exitFail
}
