package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/borawf/bora/internal/api"
	"github.com/borawf/bora/internal/embedded"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/worker"
)

const completeUsage = `usage: bora complete CALLBACK_ID [--result JSON|@FILE] (--db PATH | --endpoint URL)
       bora fail CALLBACK_ID [--error TEXT] (--db PATH | --endpoint URL)
       bora heartbeat CALLBACK_ID (--db PATH | --endpoint URL)

Ends an attempt of an asynchronous action (std.async_noop,
std.mistral_http, aws.lambda with async: true...), which waits for this:
complete with its result (JSON; null when not given), fail with its error
(text; the task's retry policy applies). heartbeat says the work goes on:
an attempt whose action asked for heartbeats (aws.lambda's
heartbeat_timeout) times out when none comes within that timeout.
CALLBACK_ID is the attempt's id, given to the action when it ran
(std.mistral_http's Mistral-Action-Execution-Id header, aws.lambda's
bora.callback_id; bora get --json shows it as the waiting task's
callback_id).

An attempt that is no longer current (it timed out, was retried,
cancelled, rescheduled after a pause, completed already, or its execution
ended) refuses the completion or heartbeat, and nothing changes.

With --db, the completion is written to the SQLite file (bora serve --db
applies it); with --endpoint (or BORA_ENDPOINT), it goes to the API.

Flags:
  --db PATH          the SQLite file
  --result JSON|@F   complete: the attempt's result
  --error TEXT       fail: the attempt's error

Exit status: 0 when the attempt took the completion (or heartbeat), 1 when it refused it
(or the store or API failed), 2 on usage errors or an id that names no
attempt.
`

// completeCmd builds bora complete, bora fail and bora heartbeat (name).
func completeCmd(name string) func(args []string, stdout, stderr io.Writer) int {
	fail, heartbeat := name == "fail", name == "heartbeat"
	return func(args []string, stdout, stderr io.Writer) int {
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		fs.SetOutput(stderr)
		fs.Usage = func() { fmt.Fprint(stderr, completeUsage+remoteFlagsUsage) }
		db := fs.String("db", "", "")
		result := fs.String("result", "", "")
		errText := fs.String("error", "", "")
		var rf remoteFlags
		rf.register(fs)
		pos, err := parseInterspersed(fs, args)
		if err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			return exitUsage
		}
		if len(pos) != 1 {
			fmt.Fprint(stderr, completeUsage+remoteFlagsUsage)
			return exitUsage
		}
		var q api.CompletionRequest
		switch {
		case fail && *result != "":
			fmt.Fprintf(stderr, "bora fail: --result is for bora complete\n")
			return exitUsage
		case !fail && *errText != "":
			fmt.Fprintf(stderr, "bora %s: --error is for bora fail\n", name)
			return exitUsage
		case heartbeat && *result != "":
			fmt.Fprintf(stderr, "bora heartbeat: --result is for bora complete\n")
			return exitUsage
		case heartbeat:
		case fail:
			msg := *errText
			if msg == "" {
				msg = "failed by bora fail"
			}
			q.Error, _ = json.Marshal(msg)
		default:
			if q.Result, err = jsonArg("--result", *result, "null"); err != nil {
				fmt.Fprintf(stderr, "bora complete: %v\n", err)
				return exitUsage
			}
		}
		id := pos[0]
		if _, _, _, err := record.ParseCallbackID(id); err != nil {
			fmt.Fprintf(stderr, "bora %s: %v: give the id the action was given\n", name, err)
			return exitUsage
		}
		remote, ok := target(name, fs, *db, rf, stderr)
		switch {
		case !ok:
			return exitUsage
		case remote:
			c, err := rf.client()
			if err != nil {
				fmt.Fprintf(stderr, "bora %s: %v\n", name, err)
				return exitUsage
			}
			s := &session{cmd: name, c: c, stdout: stdout, stderr: stderr, ctx: context.Background()}
			if heartbeat {
				a, err := c.Heartbeat(s.ctx, id)
				if err != nil {
					return refused(s, err)
				}
				var due time.Time
				if a.Deadline != nil {
					due = *a.Deadline
				}
				printHeartbeat(stdout, a.Attempt, a.Task, a.Execution, due)
				return exitOK
			}
			a, err := c.Complete(s.ctx, id, q)
			if err != nil {
				return refused(s, err)
			}
			fmt.Fprintf(stdout, "attempt %d of task %s of execution %s ended %s\n", a.Attempt, a.Task, a.Execution, a.State)
			return exitOK
		}
		if _, err := os.Stat(*db); err != nil {
			fmt.Fprintf(stderr, "bora %s: %v\n", name, err)
			return exitUsage
		}
		b, code := openEmbedded(name, embedded.Options{Path: *db}, stderr)
		if b == nil {
			return code
		}
		defer b.Close()
		k, attempt, _, _ := record.ParseCallbackID(id)
		if heartbeat {
			due, err := b.Runtime.Heartbeat(context.Background(), id)
			if err != nil {
				fmt.Fprintf(stderr, "bora %s: %v\n", name, err)
				return exitFail
			}
			printHeartbeat(stdout, attempt, k.Task, k.ExecID, due)
			return exitOK
		}
		if err := b.Runtime.Complete(context.Background(), worker.Completion{ID: id, Result: q.Result, Error: q.Error}); err != nil {
			fmt.Fprintf(stderr, "bora %s: %v\n", name, err)
			return exitFail
		}
		state := record.Success
		if fail {
			state = record.Error
		}
		fmt.Fprintf(stdout, "attempt %d of task %s of execution %s ended %s\n", attempt, k.Task, k.ExecID, state)
		return exitOK
	}
}

// refused reports an API error of bora complete, fail or heartbeat: a
// stale attempt exits 1 with the API's reason.
func refused(s *session, err error) int {
	var p *api.Problem
	if errors.As(err, &p) && p.Name() == api.TypeStaleCompletion {
		fmt.Fprintf(s.stderr, "bora %s: %s\n", s.cmd, p.Detail)
		return exitFail
	}
	return s.fail(err, "")
}

func printHeartbeat(w io.Writer, attempt int, task, exec string, due time.Time) {
	if due.IsZero() {
		fmt.Fprintf(w, "attempt %d of task %s of execution %s goes on (no deadline)\n", attempt, task, exec)
		return
	}
	fmt.Fprintf(w, "attempt %d of task %s of execution %s goes on until %s\n", attempt, task, exec, due.UTC().Format(time.RFC3339))
}
