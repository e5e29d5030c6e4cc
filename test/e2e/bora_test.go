package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/borawf/bora/internal/api"
	boraclient "github.com/borawf/bora/internal/client"
	"github.com/borawf/bora/internal/queue"
	sqsqueue "github.com/borawf/bora/internal/queue/sqs"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
	"github.com/borawf/bora/internal/store"
	"github.com/borawf/bora/internal/store/dynamo"
)

// client drives the deployed Bora from the test. It does what a user does
// through the stack's HTTP API, SigV4-signed as API Gateway's IAM
// authorization requires: store workflows, start executions, send
// commands, read an execution. What no user does — raw task messages,
// heads written straight to the table — it does with the runtime's queues
// and the store, and it watches an execution's state in the table.
type client struct {
	s     *stack
	api   *boraclient.Client
	store store.Store
	rt    *runtime.Runtime
}

func newClient(t *testing.T) *client {
	t.Helper()
	s := sharedStack(t)
	st := dynamo.New(s.ddb, s.Table)
	rt := &runtime.Runtime{
		Store:  st,
		Events: sqsqueue.New(s.sqs, s.Queues["engine"].URL, sqsqueue.Options{}),
		Tasks:  sqsqueue.New(s.sqs, s.Queues["tasks"].URL, sqsqueue.Options{}),
		Timers: sqsqueue.New(s.sqs, s.Queues["timers"].URL, sqsqueue.Options{}),
	}
	if err := rt.Validate(); err != nil {
		t.Fatal(err)
	}
	api, err := boraclient.New(s.API, boraclient.Options{
		Sign: boraclient.SignAlways, Credentials: s.cfg.Credentials, Region: s.cfg.Region, UserAgent: "bora-e2e",
	})
	if err != nil {
		t.Fatal(err)
	}
	return &client{s: s, api: api, store: st, rt: rt}
}

// submit starts an execution of the workflow in source (named file in
// messages) with input, under a fresh id, and returns the id.
func (c *client) submit(t *testing.T, file string, source []byte, workflow string, input any) string {
	t.Helper()
	id, err := c.trySubmit(file, source, workflow, input)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("execution %s of %s", id, file)
	return id
}

// trySubmit is submit for use off the test's goroutine. It stores the
// document through the API (POST /v1/workflows) and starts the stored
// version it got back (POST /v1/executions, pinned to that version, so
// that another test storing a workflow of the same name in the meantime
// changes nothing). workflow names the document's workflow to start
// (a workbook's by its own name); empty means its only one.
func (c *client) trySubmit(file string, source []byte, workflow string, input any) (string, error) {
	var in json.RawMessage
	if input != nil {
		b, err := json.Marshal(input)
		if err != nil {
			return "", err
		}
		in = b
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub, err := c.api.SubmitWorkflow(ctx, source)
	if err != nil {
		return "", fmt.Errorf("submit %s: %w", file, err)
	}
	start, ver := "", 0
	for _, w := range sub.Workflows {
		for _, name := range w.Workflows {
			// A workbook's workflows are started as <workbook>.<workflow>.
			if (workflow == "" && len(sub.Workflows) == 1 && len(w.Workflows) == 1) || name == workflow || strings.HasSuffix(name, "."+workflow) {
				start, ver = name, w.Version
			}
		}
	}
	if start == "" {
		return "", fmt.Errorf("submit %s: stored %+v, no workflow %q", file, sub.Workflows, workflow)
	}
	doc, _, err := c.api.StartExecution(ctx, api.StartRequest{Workflow: start, Version: &ver, Input: in}, "")
	if err != nil {
		return "", fmt.Errorf("start %s version %d: %w", start, ver, err)
	}
	return doc.ID, nil
}

// submitFile starts an execution of a workflow file of the repository.
func (c *client) submitFile(t *testing.T, path, workflow string, input any) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	return c.submit(t, path, src, workflow, input)
}

// command sends a pause, resume or cancel to an execution through the
// API (POST /v1/executions/{id}/{op}).
func (c *client) command(t *testing.T, id, op string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.api.Command(ctx, id, op, api.CommandRequest{}, ""); err != nil {
		t.Fatalf("%s %s: %v", op, id, err)
	}
}

// sendTasks puts task messages straight into the task queue, as a
// duplicate or late delivery would.
func (c *client) sendTasks(t *testing.T, msgs ...record.TaskMessage) {
	t.Helper()
	out := make([]queue.Out, len(msgs))
	for i, m := range msgs {
		body, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = queue.Out{Body: body}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.rt.Tasks.Send(ctx, out...); err != nil {
		t.Fatalf("send %d task messages: %v", len(msgs), err)
	}
}

// head reads an execution's head.
func (c *client) head(id string) (*record.Execution, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.store.GetExecution(ctx, id)
}

// units reads every unit of every task execution of an execution.
func (c *client) units(t *testing.T, id string) []*record.Unit {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tasks, err := c.store.ListTasks(ctx, id)
	if err != nil {
		t.Fatalf("tasks of %s: %v", id, err)
	}
	var all []*record.Unit
	for _, tk := range tasks {
		us, err := c.store.ListUnits(ctx, id, tk.Key)
		if err != nil {
			t.Fatalf("units of %s/%s: %v", id, tk.Key, err)
		}
		all = append(all, us...)
	}
	return all
}

// wait waits until an execution is in one of the states in want and
// returns its description, read through the API (GET /v1/executions/{id}). It fails with the execution's state, the
// queues and the functions' logs when it is not within timeout.
func (c *client) wait(t *testing.T, id string, timeout time.Duration, want ...record.ExecState) *runtime.Document {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("execution %s to reach %v", id, want), func() (bool, string) {
		h, err := c.head(id)
		if err != nil {
			return false, err.Error()
		}
		for _, w := range want {
			if h.State == w {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%s (version %d)", h.State, h.Version)
	}, func() string { return c.diagnose(id) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := c.api.GetExecution(ctx, id)
	if err != nil {
		t.Fatalf("get execution %s: %v", id, err)
	}
	return d
}

// succeed waits for an execution to succeed and returns its output.
func (c *client) succeed(t *testing.T, id string, timeout time.Duration) *runtime.Document {
	t.Helper()
	d := c.wait(t, id, timeout, record.ExecSuccess, record.ExecError, record.ExecCancelled)
	if d.State != string(record.ExecSuccess) {
		t.Fatalf("execution %s ended %s: %s\n%s", id, d.State, d.StateInfo, c.diagnose(id))
	}
	return d
}

// diagnose describes an execution for a failure message: its head and
// tasks, every unit that is not final, the queues, dead letters and the
// functions' log lines that name the execution.
func (c *client) diagnose(id string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var b strings.Builder
	if d, err := runtime.Describe(ctx, c.store, id); err != nil {
		fmt.Fprintf(&b, "execution %s: %v\n", id, err)
	} else {
		fmt.Fprintf(&b, "execution %s: %s %s\n", id, d.State, d.StateInfo)
		for _, tk := range d.Tasks {
			fmt.Fprintf(&b, "  task %-20s %-9s %s\n", tk.Name, tk.State, tk.StateInfo)
		}
	}
	if tasks, err := c.store.ListTasks(ctx, id); err == nil {
		for _, tk := range tasks {
			us, err := c.store.ListUnits(ctx, id, tk.Key)
			if err != nil {
				continue
			}
			for _, u := range us {
				if !u.State.Terminal() {
					fmt.Fprintf(&b, "  unit %s/%d %s attempt %d due %s\n", u.Task, u.Item, u.State, u.Attempt, u.Due.Format(time.RFC3339Nano))
				}
			}
		}
	}
	b.WriteString("queues:\n")
	b.WriteString(c.s.queueReport(ctx))
	for _, q := range []string{"engine", "tasks", "timers"} {
		if bodies, err := c.s.peekDLQ(ctx, q); err == nil && len(bodies) > 0 {
			fmt.Fprintf(&b, "dead letters of %s:\n", q)
			for _, body := range bodies {
				fmt.Fprintf(&b, "  %s\n", body)
			}
		}
	}
	b.WriteString("function logs naming the execution:\n")
	b.WriteString(c.s.logTail(ctx, 30, id))
	return b.String()
}
