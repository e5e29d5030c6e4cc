package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/borawf/bora/internal/api"
	"github.com/borawf/bora/internal/client"
	"github.com/borawf/bora/internal/runtime"
)

// Environment variables of the API's clients and of bora serve.
const (
	envEndpoint = "BORA_ENDPOINT" // the API's URL (--endpoint)
	envToken    = "BORA_TOKEN"    // bora serve's bearer token (--token)
	envSigV4    = "BORA_SIGV4"    // sign requests with SigV4: auto (default), true, false (--sigv4)
)

// remoteFlags are the flags every command that talks to the API takes.
// They may also come before the command: bora --endpoint URL get ID.
type remoteFlags struct {
	endpoint, token, sigv4 string
}

const remoteFlagsUsage = `
Connection (also before the command: bora --endpoint URL <command> ...):
  --endpoint URL  the API: http://127.0.0.1:8080 for bora serve, the ApiUrl
                  output of a deployed stack (default $BORA_ENDPOINT)
  --token TOKEN   bora serve's bearer token (default $BORA_TOKEN)
  --sigv4 MODE    sign requests with AWS SigV4 (service execute-api) and the
                  default AWS credential chain: auto signs for an API Gateway
                  URL (an execute-api host, or an emulator's
                  /_aws/execute-api/ path), true always, false never
                  (default $BORA_SIGV4, else auto)
`

func (r *remoteFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.endpoint, "endpoint", os.Getenv(envEndpoint), "")
	fs.StringVar(&r.token, "token", os.Getenv(envToken), "")
	fs.StringVar(&r.sigv4, "sigv4", os.Getenv(envSigV4), "")
}

// client builds the API client the flags describe.
func (r *remoteFlags) client() (*client.Client, error) {
	if r.endpoint == "" {
		return nil, fmt.Errorf("no API endpoint: give --endpoint URL or set %s (bora serve prints its URL)", envEndpoint)
	}
	o := client.Options{Token: r.token, UserAgent: "bora-cli"}
	switch strings.ToLower(r.sigv4) {
	case "", "auto":
	case "true", "1", "yes", "on":
		o.Sign = client.SignAlways
	case "false", "0", "no", "off":
		o.Sign = client.SignNever
	default:
		return nil, fmt.Errorf("--sigv4 %q: want auto, true or false", r.sigv4)
	}
	return client.New(r.endpoint, o)
}

// remoteCommands are the commands that take the connection flags.
var remoteCommands = map[string]bool{
	"submit": true, "start": true, "get": true, "list": true, "watch": true,
	"pause": true, "resume": true, "cancel": true, "rerun": true, "skip": true, "console": true, "complete": true, "fail": true,
	"trigger": true,
}

// globalFlags moves connection flags given before the command to after
// it: bora --endpoint URL get ID is bora get --endpoint URL ID.
func globalFlags(args []string) (moved, rest []string, err error) {
	for len(args) > 0 {
		a := args[0]
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || (name != "endpoint" && name != "token" && name != "sigv4") {
			break
		}
		if hasValue {
			moved, args = append(moved, "--"+name+"="+value), args[1:]
			continue
		}
		if len(args) < 2 {
			return nil, nil, fmt.Errorf("%s needs a value", a)
		}
		moved, args = append(moved, "--"+name, args[1]), args[2:]
	}
	return moved, args, nil
}

// session is what a remote command runs with.
type session struct {
	cmd            string
	c              *client.Client
	stdout, stderr io.Writer
	ctx            context.Context
}

// parseRemote parses a remote command's flags (registered on fs by the
// caller) with the connection flags, and checks the positional count.
// ok false means the command is over, with code.
func parseRemote(cmd, usage string, fs *flag.FlagSet, args []string, npos func(int) bool, stdout, stderr io.Writer) (s *session, pos []string, stop func(), code int) {
	var rf remoteFlags
	rf.register(fs)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage+remoteFlagsUsage) }
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil, nil, exitOK
		}
		return nil, nil, nil, exitUsage
	}
	if !npos(len(pos)) {
		fmt.Fprint(stderr, usage+remoteFlagsUsage)
		return nil, nil, nil, exitUsage
	}
	c, err := rf.client()
	if err != nil {
		fmt.Fprintf(stderr, "bora %s: %v\n", cmd, err)
		return nil, nil, nil, exitUsage
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	return &session{cmd: cmd, c: c, stdout: stdout, stderr: stderr, ctx: ctx}, pos, cancel, exitOK
}

// fail prints an error of the API (or of reaching it) as a person wants
// to read it, and returns the exit code: 2 for what the request got
// wrong (an unknown execution, a bad input), 1 for the rest.
func (s *session) fail(err error, file string) int {
	w := s.stderr
	prefix := "bora " + s.cmd + ": "
	var p *api.Problem
	var he *client.Error
	var ue *url.Error
	switch {
	case errors.As(err, &p):
		msg := p.Detail
		if msg == "" {
			msg = p.Title
		}
		fmt.Fprintf(w, "%s%s\n", prefix, msg)
		for _, d := range p.Diagnostics {
			fmt.Fprintf(w, "%s:%d:%d: %s%s\n", file, d.Line, d.Column, severityPrefix(d.Severity), d.Message)
		}
		if p.RequestID != "" {
			fmt.Fprintf(w, "(request id %s; the server's log has the details)\n", p.RequestID)
		}
		if p.Status == 401 {
			fmt.Fprintf(w, "(give the server's token with --token or %s)\n", envToken)
		}
		if p.Status >= 400 && p.Status < 500 {
			return exitUsage
		}
		return exitFail
	case errors.As(err, &he):
		fmt.Fprintf(w, "%s%s\n", prefix, he.Error())
		if he.Status == 403 || he.Status == 401 {
			if s.c.Signs() {
				fmt.Fprintln(w, "(the request was signed with SigV4 by your AWS credentials: the principal needs execute-api:Invoke on the API, and the region must be the API's)")
			} else {
				fmt.Fprintln(w, "(an API Gateway endpoint with IAM authorization needs signed requests: --sigv4 true)")
			}
		}
		return exitFail
	case errors.As(err, &ue):
		var op *net.OpError
		if errors.As(ue.Err, &op) {
			fmt.Fprintf(w, "%scannot reach %s: %v (is bora serve running, or the endpoint right?)\n", prefix, s.c.Endpoint(), op.Err)
		} else {
			fmt.Fprintf(w, "%s%v\n", prefix, ue.Err)
		}
		return exitFail
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(w, "%sinterrupted\n", prefix)
		return exitFail
	}
	fmt.Fprintf(w, "%s%v\n", prefix, err)
	return exitFail
}

func severityPrefix(s string) string {
	if s == "warning" {
		return "warning: "
	}
	return ""
}

const submitUsage = `usage: bora submit FILE... [flags]

Stores each workflow document (a file of workflows, or a workbook) as a new
version of its workflows on the API's server. A document equal to the latest
version stores nothing. The document is checked first, as bora validate does:
an invalid one is not stored, and its problems are printed as
FILE:LINE:COL: message. A file named - is read from standard input.

Flags:
  --json   print the server's answers as JSON, one per line

Exit status: 0 when every document was stored, 1 when any was not, 2 on
usage errors.
`

func submitCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	s, files, stop, code := parseRemote("submit", submitUsage, fs, args, func(n int) bool { return n > 0 }, stdout, stderr)
	if s == nil {
		return code
	}
	defer stop()
	code = exitOK
	for _, file := range files {
		name := file
		if file == "-" {
			name = "<stdin>"
		}
		src, err := readSource(file)
		if err != nil {
			fmt.Fprintf(stderr, "bora submit: %s: %v\n", name, err)
			code = exitFail
			continue
		}
		out, err := s.c.SubmitWorkflow(s.ctx, src)
		if err != nil {
			s.fail(err, name)
			code = exitFail
			continue
		}
		if *asJSON {
			printJSON(stdout, out, false)
			continue
		}
		for _, d := range out.Warnings {
			fmt.Fprintf(stderr, "%s:%d:%d: warning: %s\n", name, d.Line, d.Column, d.Message)
		}
		for _, w := range out.Workflows {
			what := "stored"
			if w.Created != nil && !*w.Created {
				what = "unchanged"
			}
			fmt.Fprintf(stdout, "%s: workflow %s version %d %s", name, w.Name, w.Version, what)
			if len(w.Workflows) > 1 {
				fmt.Fprintf(stdout, " (start %s)", strings.Join(w.Workflows, ", "))
			}
			fmt.Fprintln(stdout)
		}
	}
	return code
}

const startUsage = `usage: bora start WORKFLOW [flags]

Starts an execution of a workflow stored on the API's server (bora submit)
and prints its id; with --watch, follows it to its end as bora run does.
WORKFLOW is a stored workflow's name, or WORKBOOK.WORKFLOW.

Flags:
  --input JSON|@F        the workflow input, as JSON or @file
  --env JSON|@F          the execution environment (env()), as JSON or @file
  --version N            the stored version to run (default the latest)
  --task-name TASK       the target task of a reverse workflow
  --id ID                the execution's id (default: the server makes one)
  --idempotency-key KEY  the request's Idempotency-Key: the same key starts
                         one execution however often it is sent (default a
                         fresh one, kept over the client's own retries)
  --watch                follow the execution to its end
  --json                 print the execution as JSON (with --watch, once it
                         has ended)
  --quiet                with --watch, no progress lines

Exit status: 0 when started (with --watch: when it ended in SUCCESS), 1
otherwise, 2 on usage errors or a request the server refused.
`

func startCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	input := fs.String("input", "", "")
	env := fs.String("env", "", "")
	version := fs.Int("version", 0, "")
	taskName := fs.String("task-name", "", "")
	id := fs.String("id", "", "")
	key := fs.String("idempotency-key", "", "")
	watch := fs.Bool("watch", false, "")
	asJSON := fs.Bool("json", false, "")
	quiet := fs.Bool("quiet", false, "")
	s, pos, stop, code := parseRemote("start", startUsage, fs, args, func(n int) bool { return n == 1 }, stdout, stderr)
	if s == nil {
		return code
	}
	defer stop()
	q := api.StartRequest{Workflow: pos[0], TaskName: *taskName, ID: *id}
	var err error
	if q.Input, err = jsonArg("--input", *input, "null"); err != nil {
		fmt.Fprintf(stderr, "bora start: %v\n", err)
		return exitUsage
	}
	if q.Env, err = jsonArg("--env", *env, "null"); err != nil {
		fmt.Fprintf(stderr, "bora start: %v\n", err)
		return exitUsage
	}
	if *version < 0 {
		fmt.Fprintln(stderr, "bora start: --version: versions are numbered from 1")
		return exitUsage
	}
	if *version > 0 {
		q.Version = version
	}
	doc, created, err := s.c.StartExecution(s.ctx, q, *key)
	if err != nil {
		return s.fail(err, "")
	}
	if *watch {
		return s.watch(doc, *asJSON, *quiet)
	}
	if *asJSON {
		printJSON(stdout, doc, true)
		return exitOK
	}
	what := "started"
	if !created {
		what = "already started (the same request was sent before)"
	}
	fmt.Fprintf(stdout, "execution %s of %s version %d %s\n", doc.ID, doc.Workflow, doc.Version, what)
	return exitOK
}

const getUsage = `usage: bora get EXECUTION [flags]

Shows an execution kept by the API's server, with its task executions.

Flags:
  --json   print the execution as JSON

Exit status: 0, 1 when the server could not be asked, 2 on usage errors or
an unknown execution.
`

func getCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	s, pos, stop, code := parseRemote("get", getUsage, fs, args, func(n int) bool { return n == 1 }, stdout, stderr)
	if s == nil {
		return code
	}
	defer stop()
	doc, err := s.c.GetExecution(s.ctx, pos[0])
	if err != nil {
		return s.fail(err, "")
	}
	if *asJSON {
		printJSON(stdout, doc, true)
		return exitOK
	}
	printDocument(stdout, doc)
	return exitOK
}

const listUsage = `usage: bora list [flags]

Lists the executions kept by the API's server, newest first; with
--workflows, the stored workflows instead, by name.

Flags:
  --workflow NAME   only executions of this workflow (a stored workflow's
                    name, or WORKBOOK.WORKFLOW)
  --state STATE     only executions in this state: RUNNING, PAUSED, SUCCESS,
                    ERROR or CANCELLED
  --since TIME      only executions created at or after TIME: RFC 3339
                    (2026-12-04T22:00:00Z) or a duration back from now (90m)
  --until TIME      only executions created before TIME
  --sub             sub-workflow executions too
  --limit N         at most N (default 50; 0: all)
  --workflows       list the stored workflows (--limit applies)
  --json            print one JSON object per line

Exit status: 0, 1 when the server could not be asked, 2 on usage errors.
`

func listCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	workflow := fs.String("workflow", "", "")
	state := fs.String("state", "", "")
	since := fs.String("since", "", "")
	until := fs.String("until", "", "")
	sub := fs.Bool("sub", false, "")
	limit := fs.Int("limit", 50, "")
	workflows := fs.Bool("workflows", false, "")
	asJSON := fs.Bool("json", false, "")
	s, _, stop, code := parseRemote("list", listUsage, fs, args, func(n int) bool { return n == 0 }, stdout, stderr)
	if s == nil {
		return code
	}
	defer stop()
	if *limit < 0 {
		fmt.Fprintln(stderr, "bora list: --limit: want 0 (all) or more")
		return exitUsage
	}
	if *workflows {
		return s.listWorkflows(*limit, *asJSON)
	}
	f := client.ExecutionFilter{Workflow: *workflow, State: strings.ToUpper(*state), TopLevel: !*sub}
	var err error
	if f.Since, err = timeArg("--since", *since); err == nil {
		f.Until, err = timeArg("--until", *until)
	}
	if err != nil {
		fmt.Fprintf(stderr, "bora list: %v\n", err)
		return exitUsage
	}
	var rows []api.ExecutionSummary
	for {
		if *limit > 0 {
			f.Limit = min(*limit-len(rows), api.MaxPageSize)
		}
		page, err := s.c.ListExecutions(s.ctx, f)
		if err != nil {
			return s.fail(err, "")
		}
		rows = append(rows, page.Executions...)
		if page.NextCursor == "" || (*limit > 0 && len(rows) >= *limit) {
			break
		}
		f.Cursor = page.NextCursor
	}
	if *asJSON {
		for _, r := range rows {
			printJSON(stdout, r, false)
		}
		return exitOK
	}
	p := newProgress(stdout, isTerminal(stdout), time.Now())
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tWORKFLOW\tSTATE\tCREATED")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.ID, r.Workflow, p.state(r.State), r.CreatedAt.Local().Format(time.DateTime))
	}
	_ = w.Flush()
	return exitOK
}

func (s *session) listWorkflows(limit int, asJSON bool) int {
	var rows []api.WorkflowSummary
	cursor := ""
	for {
		n := 0
		if limit > 0 {
			n = min(limit-len(rows), api.MaxPageSize)
		}
		page, err := s.c.ListWorkflows(s.ctx, "", cursor, n)
		if err != nil {
			return s.fail(err, "")
		}
		rows = append(rows, page.Workflows...)
		if page.NextCursor == "" || (limit > 0 && len(rows) >= limit) {
			break
		}
		cursor = page.NextCursor
	}
	if asJSON {
		for _, r := range rows {
			printJSON(s.stdout, r, false)
		}
		return exitOK
	}
	w := tabwriter.NewWriter(s.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "WORKFLOW\tVERSION\tUPDATED")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%d\t%s\n", r.Name, r.Version, r.UpdatedAt.Local().Format(time.DateTime))
	}
	_ = w.Flush()
	return exitOK
}

// timeArg reads a time flag: RFC 3339, or a duration back from now.
func timeArg(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return time.Now().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: want an RFC 3339 time (2026-12-04T22:00:00Z) or a duration back from now (90m)", name, v)
	}
	return t, nil
}

const watchUsage = `usage: bora watch EXECUTION [flags]

Follows an execution kept by the API's server until it ends (or pauses),
printing each task execution as it changes state, as bora run does.

Flags:
  --json    print the execution as JSON once it has ended
  --quiet   no progress lines

Exit status: 0 when it ends in SUCCESS, 1 otherwise, 2 on usage errors or
an unknown execution.
`

func watchCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	quiet := fs.Bool("quiet", false, "")
	s, pos, stop, code := parseRemote("watch", watchUsage, fs, args, func(n int) bool { return n == 1 }, stdout, stderr)
	if s == nil {
		return code
	}
	defer stop()
	doc, err := s.c.GetExecution(s.ctx, pos[0])
	if err != nil {
		return s.fail(err, "")
	}
	return s.watch(doc, *asJSON, *quiet)
}

// watch follows an execution until it is final or paused, with bora run's
// progress lines, and prints its summary.
func (s *session) watch(doc *runtime.Document, asJSON, quiet bool) int {
	final, err := s.follow(doc, asJSON, quiet, func(d *runtime.Document) bool {
		return terminal(d.State) || d.State == "PAUSED"
	})
	if err != nil {
		return s.fail(err, "")
	}
	if final.State == "PAUSED" {
		fmt.Fprintf(s.stderr, "execution %s is paused; bora resume %s carries it on\n", final.ID, final.ID)
	}
	if final.State == "SUCCESS" {
		return exitOK
	}
	return exitFail
}

// follow polls an execution until done says so, printing progress lines
// (to stderr when the JSON goes to stdout), the summary, and with asJSON
// the final document.
func (s *session) follow(doc *runtime.Document, asJSON, quiet bool, done func(*runtime.Document) bool) (*runtime.Document, error) {
	out := s.stdout
	if asJSON {
		out = s.stderr
	}
	var p *progress
	if !quiet {
		p = newProgress(out, isTerminal(out), doc.CreatedAt)
		p.headerOf(doc.Workflow, doc.ID)
	}
	// Polls come every 250 ms while the execution changes, less often
	// (up to every 2 s) while it does not.
	every := watchPoll
	for {
		if p != nil {
			p.documents(doc.Tasks)
		}
		if done(doc) {
			break
		}
		select {
		case <-s.ctx.Done():
			return nil, fmt.Errorf("stopped watching execution %s (%s); it goes on: bora watch %s", doc.ID, doc.State, doc.ID)
		case <-time.After(every):
		}
		next, err := s.c.GetExecution(s.ctx, doc.ID)
		if err != nil {
			if s.ctx.Err() != nil {
				return nil, fmt.Errorf("stopped watching execution %s (%s); it goes on: bora watch %s", doc.ID, doc.State, doc.ID)
			}
			return nil, err
		}
		every = min(every*2, maxWatchPoll)
		if changed(doc, next) {
			every = watchPoll
		}
		doc = next
	}
	if p != nil {
		p.summary(doc)
	}
	if asJSON {
		printJSON(s.stdout, doc, true)
	}
	return doc, nil
}

// How often bora watch reads an execution: watchPoll while it changes,
// backing off to maxWatchPoll while it does not.
const (
	watchPoll    = 250 * time.Millisecond
	maxWatchPoll = 2 * time.Second
)

// changed reports whether an execution or one of its tasks moved on.
func changed(a, b *runtime.Document) bool {
	if !a.UpdatedAt.Equal(b.UpdatedAt) || len(a.Tasks) != len(b.Tasks) {
		return true
	}
	for i := range a.Tasks {
		if a.Tasks[i].State != b.Tasks[i].State {
			return true
		}
	}
	return false
}

func terminal(state string) bool {
	return state == "SUCCESS" || state == "ERROR" || state == "CANCELLED"
}

// printDocument prints an execution for a person: bora get and bora show.
func printDocument(w io.Writer, doc *runtime.Document) {
	p := newProgress(w, isTerminal(w), time.Now())
	fmt.Fprintf(w, "%s %s %s\n", doc.ID, doc.Workflow, p.state(doc.State))
	width := 20
	for _, t := range doc.Tasks {
		width = max(width, len(cmpOr(t.Key, t.Name)))
	}
	for _, t := range doc.Tasks {
		line := fmt.Sprintf("  %-*s %s", width, cmpOr(t.Key, t.Name), p.state(t.State))
		if terminal(t.State) {
			line += attemptsOf(t.Attempts, t.Items)
		}
		if t.State == "ERROR" && t.StateInfo != "" {
			line += "  " + firstLine(t.StateInfo)
		}
		fmt.Fprintln(w, line)
	}
	if doc.StateInfo != "" {
		fmt.Fprintf(w, "state_info: %s\n", doc.StateInfo)
	}
	if string(doc.Output) != "null" && len(doc.Output) > 0 {
		fmt.Fprintf(w, "output: %s\n", doc.Output)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// printJSON prints v as JSON: indented, or on one line.
func printJSON(w io.Writer, v any, indent bool) {
	enc := json.NewEncoder(w)
	if indent {
		enc.SetIndent("", "  ")
	}
	_ = enc.Encode(v)
}
