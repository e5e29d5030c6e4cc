package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/borawf/bora/internal/api"
)

const triggerUsage = `usage: bora trigger create|list|get|delete [arguments] [flags]

Cron triggers on the API's server: each starts an execution of a stored
workflow at the times of a cron pattern (docs/triggers.md).

  bora trigger create NAME WORKFLOW [--pattern CRON] [--first-time TIME]
                      [--count N] [--input JSON|@F] [--env JSON|@F]
  bora trigger list [--limit N]
  bora trigger get NAME
  bora trigger delete NAME

Flags of create:
  --pattern CRON     five fields, minute hour day-of-month month day-of-week,
                     in UTC ("30 2 * * *"), or @hourly, @daily, @weekly,
                     @monthly, @yearly
  --first-time TIME  the first fire, in the future: RFC 3339 or "YYYY-MM-DD
                     HH:MM" in UTC; alone, the trigger fires once, then
  --count N          fire N times, then delete the trigger (default: no limit)
  --input JSON|@F    the input of every execution it starts
  --env JSON|@F      the env() of every execution it starts
Flags of every subcommand:
  --json             print JSON (list: one trigger per line)

Exit status: 0, 1 when the server could not be asked, 2 on usage errors or
a request the server refused (an unknown workflow, a bad pattern).
`

// triggerSubcommands take these positional arguments.
var triggerSubcommands = map[string]int{"create": 2, "list": 0, "get": 1, "delete": 1}

func triggerCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fmt.Fprint(stderr, triggerUsage+remoteFlagsUsage)
		return exitOK
	}
	// The connection flags may come before the subcommand.
	sub, rest := "", []string(nil)
	for i, a := range args {
		if _, ok := triggerSubcommands[a]; ok {
			sub, rest = a, append(append([]string(nil), args[:i]...), args[i+1:]...)
			break
		}
	}
	if sub == "" {
		fmt.Fprint(stderr, triggerUsage+remoteFlagsUsage)
		return exitUsage
	}
	fs := flag.NewFlagSet("trigger "+sub, flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	var pattern, first, input, env *string
	var count, limit *int
	switch sub {
	case "create":
		pattern = fs.String("pattern", "", "")
		first = fs.String("first-time", "", "")
		count = fs.Int("count", 0, "")
		input = fs.String("input", "", "")
		env = fs.String("env", "", "")
	case "list":
		limit = fs.Int("limit", 0, "")
	}
	want := triggerSubcommands[sub]
	s, pos, stop, code := parseRemote("trigger "+sub, triggerUsage, fs, rest, func(n int) bool { return n == want }, stdout, stderr)
	if s == nil {
		return code
	}
	defer stop()
	switch sub {
	case "create":
		q := api.TriggerRequest{Name: pos[0], Workflow: pos[1], Pattern: *pattern, FirstExecutionTime: *first}
		if *count < 0 {
			fmt.Fprintln(stderr, "bora trigger create: --count: want 1 or more (leave it out for no limit)")
			return exitUsage
		}
		if *count > 0 {
			q.RemainingExecutions = count
		}
		var err error
		if q.Input, err = jsonArg("--input", *input, "null"); err == nil {
			q.Env, err = jsonArg("--env", *env, "null")
		}
		if err != nil {
			fmt.Fprintf(stderr, "bora trigger create: %v\n", err)
			return exitUsage
		}
		tr, created, err := s.c.CreateTrigger(s.ctx, q)
		if err != nil {
			return s.fail(err, "")
		}
		if *asJSON {
			printJSON(stdout, tr, true)
			return exitOK
		}
		what := "created"
		if !created {
			what = "already created (the same request was sent before)"
		}
		fmt.Fprintf(stdout, "trigger %s of %s %s; it fires first at %s\n", tr.Name, tr.Workflow, what, tr.NextExecutionTime.Format(time.RFC3339))
	case "list":
		var rows []api.Trigger
		cursor := ""
		for {
			n := 0
			if *limit > 0 {
				n = min(*limit-len(rows), api.MaxPageSize)
			}
			page, err := s.c.ListTriggers(s.ctx, cursor, n)
			if err != nil {
				return s.fail(err, "")
			}
			rows = append(rows, page.Triggers...)
			if page.NextCursor == "" || (*limit > 0 && len(rows) >= *limit) {
				break
			}
			cursor = page.NextCursor
		}
		if *asJSON {
			for _, r := range rows {
				printJSON(stdout, r, false)
			}
			return exitOK
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tWORKFLOW\tPATTERN\tNEXT\tREMAINING")
		for _, r := range rows {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.Workflow, cmpOr(r.Pattern, "(once)"), r.NextExecutionTime.Format(time.RFC3339), remaining(r.RemainingExecutions))
		}
		_ = w.Flush()
	case "get":
		tr, err := s.c.GetTrigger(s.ctx, pos[0])
		if err != nil {
			return s.fail(err, "")
		}
		if *asJSON {
			printJSON(stdout, tr, true)
			return exitOK
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(w, "trigger\t%s\n", tr.Name)
		fmt.Fprintf(w, "workflow\t%s\n", tr.Workflow)
		fmt.Fprintf(w, "pattern\t%s\n", cmpOr(tr.Pattern, "(none: fires once)"))
		if tr.FirstExecutionTime != nil {
			fmt.Fprintf(w, "first execution\t%s\n", tr.FirstExecutionTime.Format(time.RFC3339))
		}
		fmt.Fprintf(w, "next execution\t%s\n", tr.NextExecutionTime.Format(time.RFC3339))
		fmt.Fprintf(w, "remaining\t%s\n", remaining(tr.RemainingExecutions))
		if len(tr.Input) > 0 {
			fmt.Fprintf(w, "input\t%s\n", tr.Input)
		}
		if len(tr.Env) > 0 {
			fmt.Fprintf(w, "env\t%s\n", tr.Env)
		}
		fmt.Fprintf(w, "created\t%s\n", tr.CreatedAt.Format(time.RFC3339))
		_ = w.Flush()
	case "delete":
		if err := s.c.DeleteTrigger(s.ctx, pos[0]); err != nil {
			return s.fail(err, "")
		}
		if !*asJSON {
			fmt.Fprintf(stdout, "trigger %s deleted\n", pos[0])
		}
	}
	return exitOK
}

func remaining(n *int) string {
	if n == nil {
		return "no limit"
	}
	return strconv.Itoa(*n)
}
