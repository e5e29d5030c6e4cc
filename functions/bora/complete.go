package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/borawf/bora/internal/api"
	"github.com/borawf/bora/internal/embedded"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/worker"
)

const completeUsage = `usage: bora complete CALLBACK_ID [--result JSON|@FILE] (--db PATH | --endpoint URL)
       bora fail CALLBACK_ID [--error TEXT] (--db PATH | --endpoint URL)

Ends an attempt of an asynchronous action (std.async_noop,
std.mistral_http...), which waits for this: complete with its result (JSON;
null when not given), fail with its error (text; the task's retry policy
applies). CALLBACK_ID is the attempt's id, given to the action when it ran
(std.mistral_http's Mistral-Action-Execution-Id header; bora get --json
shows it as the waiting task's callback_id).

An attempt that is no longer current (it timed out, was retried,
cancelled, rescheduled after a pause, completed already, or its execution
ended) refuses the completion, and nothing changes.

With --db, the completion is written to the SQLite file (bora serve --db
applies it); with --endpoint (or BORA_ENDPOINT), it goes to the API.

Flags:
  --db PATH          the SQLite file
  --result JSON|@F   complete: the attempt's result
  --error TEXT       fail: the attempt's error

Exit status: 0 when the attempt took the completion, 1 when it refused it
(or the store or API failed), 2 on usage errors or an id that names no
attempt.
`

// completeCmd builds bora complete (fail false) and bora fail (true).
func completeCmd(fail bool) func(args []string, stdout, stderr io.Writer) int {
	name := "complete"
	if fail {
		name = "fail"
	}
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
			fmt.Fprintf(stderr, "bora complete: --error is for bora fail\n")
			return exitUsage
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
			a, err := c.Complete(s.ctx, id, q)
			if err != nil {
				var p *api.Problem
				if errors.As(err, &p) && p.Name() == api.TypeStaleCompletion {
					fmt.Fprintf(stderr, "bora %s: %s\n", name, p.Detail)
					return exitFail
				}
				return s.fail(err, "")
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
