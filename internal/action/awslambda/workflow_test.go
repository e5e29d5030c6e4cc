package awslambda_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/borawf/bora/internal/action"
	"github.com/borawf/bora/internal/action/awslambda"
	"github.com/borawf/bora/internal/embedded"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
	"github.com/borawf/bora/internal/worker"
)

// functions is a fake Lambda service holding a few functions, each a Go
// func of the event it receives; it records every event.
type functions struct {
	mu     sync.Mutex
	events []awslambda.Event
	// complete, when set, is how an asynchronously invoked function
	// reports its outcome (the API's completion route, in a deployment).
	complete func(worker.Completion) error
	// heartbeat is how it says its work goes on.
	heartbeat func(id string) error
}

func (f *functions) Invoke(ctx context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	var ev awslambda.Event
	if err := json.Unmarshal(in.Payload, &ev); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.events = append(f.events, ev)
	f.mu.Unlock()
	fail := func(typ, msg string) (*lambda.InvokeOutput, error) {
		b, _ := json.Marshal(map[string]any{"errorType": typ, "errorMessage": msg})
		return &lambda.InvokeOutput{StatusCode: 200, FunctionError: aws.String("Unhandled"), Payload: b}, nil
	}
	if in.InvocationType == types.InvocationTypeEvent {
		// Queued, as Lambda does; the function runs later and completes
		// its attempt: "approve" with its payload, "reject" with an error.
		// "beat" sends two heartbeats first; "silent" says nothing on its
		// first attempt, as a function that died would, and completes
		// the next.
		f.mu.Lock()
		complete, heartbeat := f.complete, f.heartbeat
		f.mu.Unlock()
		c := worker.Completion{ID: ev.Bora.CallbackID}
		beats := 0
		switch aws.ToString(in.FunctionName) {
		case "approve":
			c.Result, _ = json.Marshal(map[string]any{"approved": ev.Payload})
		case "reject":
			c.Error, _ = json.Marshal("rejected " + fmt.Sprint(ev.Payload))
		case "beat":
			beats = 2
			c.Result, _ = json.Marshal(map[string]any{"beats": beats, "every": ev.Bora.HeartbeatSeconds})
		case "silent":
			if ev.Bora.Attempt == 1 {
				return &lambda.InvokeOutput{StatusCode: 202}, nil
			}
			c.Result, _ = json.Marshal(map[string]any{"attempt": ev.Bora.Attempt})
		default:
			return nil, fmt.Errorf("no function %s", aws.ToString(in.FunctionName))
		}
		go func() {
			for range beats {
				if err := heartbeat(c.ID); err != nil {
					panic(fmt.Sprintf("heartbeat refused: %v", err))
				}
			}
			if err := complete(c); err != nil {
				panic(fmt.Sprintf("completion refused: %v", err))
			}
		}()
		return &lambda.InvokeOutput{StatusCode: 202}, nil
	}
	switch aws.ToString(in.FunctionName) {
	case "echo": // returns its payload
		b, _ := json.Marshal(ev.Payload)
		return &lambda.InvokeOutput{StatusCode: 200, Payload: b}, nil
	case "decline": // always fails
		return fail("CardDeclined", fmt.Sprintf("card %v declined", ev.Payload))
	case "flaky": // fails until the attempt its payload names
		if float64(ev.Bora.Attempt) < ev.Payload.(float64) {
			return fail("Busy", fmt.Sprintf("attempt %d: busy", ev.Bora.Attempt))
		}
		return &lambda.InvokeOutput{StatusCode: 200, Payload: fmt.Appendf(nil, `{"attempt": %d}`, ev.Bora.Attempt)}, nil
	case "hang": // never answers: only its context ends it
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return nil, fmt.Errorf("no function %s", aws.ToString(in.FunctionName))
}

func run(t *testing.T, fns *functions, src string, input map[string]any) (*record.Execution, *embedded.Bora) {
	t.Helper()
	reg, err := awslambda.Registry(action.Policy{}, awslambda.Client(fns))
	if err != nil {
		t.Fatal(err)
	}
	b, err := embedded.Open(embedded.Options{Path: filepath.Join(t.TempDir(), "bora.db"), Actions: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	fns.mu.Lock()
	fns.complete = func(c worker.Completion) error { return b.Runtime.Complete(context.Background(), c) }
	fns.heartbeat = func(id string) error { _, err := b.Runtime.Heartbeat(context.Background(), id); return err }
	fns.mu.Unlock()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	stop := b.Start(ctx)
	defer stop()
	in, _ := json.Marshal(input)
	e, err := b.Runtime.Submit(ctx, runtime.Submission{File: "wf.yaml", Source: []byte(src), Input: in})
	if err != nil {
		t.Fatal(err)
	}
	if e, err = b.Wait(ctx, e.ID, 0); err != nil {
		t.Fatal(err)
	}
	return e, b
}

// A task's aws.lambda action is an action like any other: its result is
// the function's response, and a function's error is an error that retry,
// on-error, publish-on-error and fail-on see.
func TestWorkflows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		src       string
		input     map[string]any
		state     record.ExecState
		output    string // the execution's output as JSON
		stateInfo string // in the execution's state_info
	}{
		{
			name: "success",
			src: `
  input: [n]
  output: {got: <% $.got %>}
  tasks:
    call:
      action: aws.lambda function="echo"
      input: {payload: {n: <% $.n %>}}
      publish: {got: <% task().result %>}`,
			input: map[string]any{"n": 7}, state: record.ExecSuccess, output: `{"got":{"n":7}}`,
		},
		{
			name: "function error handled by on-error",
			src: `
  output: {err: <% $.err %>, after: <% $.after %>}
  tasks:
    charge:
      action: aws.lambda function="decline" payload=42
      publish-on-error: {err: <% task().result %>}
      on-error: [after]
    after:
      action: std.echo output="handled"
      publish: {after: <% task().result %>}`,
			state:  record.ExecSuccess,
			output: `{"after":"handled","err":{"error_message":"card 42 declined","error_type":"CardDeclined","function":"decline","function_error":"Unhandled"}}`,
		},
		{
			name: "unhandled function error fails the workflow",
			src: `
  tasks:
    charge:
      action: aws.lambda function="decline" payload=1`,
			state: record.ExecError, stateInfo: "card 1 declined",
		},
		{
			name: "async: the function completes its attempt",
			src: `
  output: {got: <% $.got %>}
  tasks:
    ask:
      action: aws.lambda function="approve" async=true payload="po-7"
      timeout: 60
      publish: {got: <% task().result %>}`,
			state: record.ExecSuccess, output: `{"got":{"approved":"po-7"}}`,
		},
		{
			name: "async: a failed completion is the task's error",
			src: `
  tasks:
    ask:
      action: aws.lambda function="reject" async=true payload="po-8"
      timeout: 60`,
			state: record.ExecError, stateInfo: "rejected po-8",
		},
		{
			name: "async: heartbeats, then the completion",
			src: `
  output: {got: <% $.got %>}
  tasks:
    ask:
      action: aws.lambda function="beat" async=true heartbeat_timeout=30
      timeout: 60
      publish: {got: <% task().result %>}`,
			state: record.ExecSuccess, output: `{"got":{"beats":2,"every":30}}`,
		},
		{
			name: "async: no heartbeat fails the attempt, and retry applies",
			src: `
  output: {got: <% $.got %>}
  tasks:
    ask:
      action: aws.lambda function="silent" async=true heartbeat_timeout=0.5
      retry: {count: 2, delay: 0}
      publish: {got: <% task().result %>}`,
			state: record.ExecSuccess, output: `{"got":{"attempt":2}}`,
		},
		{
			name: "async: no heartbeat, no retry: the task's error says so",
			src: `
  tasks:
    ask:
      action: aws.lambda function="silent" async=true heartbeat_timeout=0.5`,
			state: record.ExecError, stateInfo: "no heartbeat came for attempt 1 within 0.5 seconds",
		},
		{
			name: "retry to success",
			src: `
  output: {got: <% $.got %>}
  tasks:
    call:
      action: aws.lambda function="flaky" payload=3
      retry: {count: 5, delay: 0}
      publish: {got: <% task().result %>}`,
			state: record.ExecSuccess, output: `{"got":{"attempt":3}}`,
		},
		{
			name: "retry gives up",
			src: `
  tasks:
    call:
      action: aws.lambda function="flaky" payload=9
      retry: {count: 1, delay: 0}`,
			state: record.ExecError, stateInfo: "attempt 2: busy",
		},
		{
			name: "fail-on sees the result",
			src: `
  tasks:
    call:
      action: aws.lambda function="echo"
      input: {payload: {status: declined}}
      fail-on: <% task().result.status = declined %>`,
			state: record.ExecError,
		},
		{
			name: "with-items",
			src: `
  output: {got: <% $.got %>}
  tasks:
    each:
      with-items: i in <% [1, 2, 3] %>
      action: aws.lambda function="echo" payload=<% $.i * 10 %>
      publish: {got: <% task().result %>}`,
			state: record.ExecSuccess, output: `{"got":[10,20,30]}`,
		},
		{
			name: "timeout ends the invocation",
			src: `
  tasks:
    call:
      action: aws.lambda function="hang"
      timeout: 1`,
			state: record.ExecError, stateInfo: "timed out after 1 seconds",
		},
		{
			name: "no such function",
			src: `
  tasks:
    call:
      action: aws.lambda function="nowhere"
      retry: {count: 3, delay: 0}`,
			state: record.ExecError, stateInfo: "no function nowhere",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, _ := run(t, &functions{}, "version: '2.0'\nwf:"+tt.src+"\n", tt.input)
			if e.State != tt.state {
				t.Fatalf("state = %s (%s), want %s", e.State, e.StateInfo, tt.state)
			}
			if tt.output != "" {
				var got any
				_ = json.Unmarshal(e.Output, &got)
				b, _ := json.Marshal(got)
				if string(b) != tt.output {
					t.Errorf("output = %s, want %s", b, tt.output)
				}
			}
			if !strings.Contains(e.StateInfo, tt.stateInfo) {
				t.Errorf("state_info = %q, want it to contain %q", e.StateInfo, tt.stateInfo)
			}
		})
	}
}

// The function learns which attempt of which item of which task invoked
// it, with an idempotency key that differs between attempts.
func TestEventSaysWhere(t *testing.T) {
	t.Parallel()
	fns := &functions{}
	e, _ := run(t, fns, `version: '2.0'
wf:
  tasks:
    pay:
      with-items: i in <% [0, 1] %>
      action: aws.lambda function="flaky" payload=<% $.i + 2 %>
      retry: {count: 3, delay: 0}
`, nil)
	if e.State != record.ExecSuccess {
		t.Fatalf("state = %s (%s)", e.State, e.StateInfo)
	}
	keys := map[string]bool{}
	seen := map[[2]int]bool{}
	for _, ev := range fns.events {
		c := ev.Bora
		if c.ExecutionID != e.ID || c.Task != "pay" || c.IdempotencyKey == "" {
			t.Errorf("event context = %+v", c)
		}
		if keys[c.IdempotencyKey] {
			t.Errorf("idempotency key %s given to two invocations", c.IdempotencyKey)
		}
		keys[c.IdempotencyKey] = true
		seen[[2]int{c.Item, c.Attempt}] = true
	}
	for _, want := range [][2]int{{0, 1}, {0, 2}, {1, 1}, {1, 2}, {1, 3}} {
		if !seen[want] {
			t.Errorf("no invocation for item %d attempt %d (saw %v)", want[0], want[1], seen)
		}
	}
}
