package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/api"
	"github.com/borawf/bora/internal/record"
)

// asyncTimeout bounds each asynchronous attempt's wait for its completion
// (the task's timeout): a completion that never comes fails the task
// rather than leave the test waiting for its own deadline.
const asyncTimeout = 90 * time.Second

// lambdaAsyncWorkflow invokes the user function asynchronously: the
// function completes each attempt itself, by a SigV4-signed POST to the
// completion route of the stack's API that the event names
// (bora.callback_url, from the worker's BORA_CALLBACK_URL). One call, which
// asks for heartbeats and gets one before its completion, then one call
// per item.
const lambdaAsyncWorkflow = `version: '2.0'
lambda_async:
  input: [fn]
  output:
    done: <% $.done %>
    items: <% $.items %>
  tasks:
    done:
      action: aws.lambda
      input:
        function: <% $.fn %>
        async: true
        heartbeat_timeout: 60
        payload: {do: callback, value: approved}
      timeout: 90
      publish:
        done: <% task().result %>
      on-success: [each]
    each:
      with-items: i in <% [1, 2, 3] %>
      action: aws.lambda
      input:
        function: <% $.fn %>
        async: true
        payload: {do: callback, value: <% $.i * 10 %>}
      timeout: 90
      publish:
        items: <% task().result.select([$.value, $.attempt]) %>
`

// An asynchronously invoked function completes its attempt through the
// API: the execution succeeds with what the function posted, each item
// with its own completion; a heartbeat through the API gives the attempt a
// deadline; the same completion sent again is refused as stale.
func TestLambdaAsync(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	fn := deployUserFunction(t, c.s)
	id := c.submit(t, "lambda-async.yaml", []byte(lambdaAsyncWorkflow), "", map[string]any{"fn": fn})
	d := c.succeed(t, id, asyncTimeout+settle)
	out := output(t, d)
	done, _ := out["done"].(map[string]any)
	cb, _ := done["callback_id"].(string)
	// The heartbeat's answer: the attempt's new deadline.
	deadline, _ := done["heartbeat_deadline"].(string)
	if _, err := time.Parse(time.RFC3339, deadline); err != nil {
		t.Errorf("the heartbeat's deadline %q: %v", deadline, err)
	}
	want := map[string]any{
		"done":  map[string]any{"value": "approved", "attempt": float64(1), "callback_id": cb, "heartbeat_deadline": deadline},
		"items": []any{[]any{float64(10), float64(1)}, []any{float64(20), float64(1)}, []any{float64(30), float64(1)}},
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	// The callback id the function was given names this execution's task.
	k, attempt, _, err := record.ParseCallbackID(cb)
	if err != nil || k.ExecID != id || k.Item != 0 || attempt != 1 {
		t.Fatalf("callback id %q reads %+v attempt %d (%v), want execution %s's task done, attempt 1", cb, k, attempt, err, id)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err = c.api.Complete(ctx, cb, api.CompletionRequest{Result: json.RawMessage(`{"value": "again"}`)})
	var p *api.Problem
	if !errors.As(err, &p) || p.Name() != api.TypeStaleCompletion {
		t.Errorf("a second completion of %s: %v, want the problem %s", cb, err, api.TypeStaleCompletion)
	}
}

// lambdaAsyncErrorWorkflow has the function report errors through the
// completion route: one that on-error handles, then two that retry
// applies to before the third attempt completes with a result.
const lambdaAsyncErrorWorkflow = `version: '2.0'
lambda_async_error:
  input: [fn]
  output:
    refused: <% $.refused %>
    flaky: <% $.flaky %>
  tasks:
    refuse:
      action: aws.lambda
      input:
        function: <% $.fn %>
        async: true
        payload: {do: callback-fail, value: po-7}
      timeout: 90
      publish-on-error:
        refused: <% task().result %>
      on-error: [flaky]
    flaky:
      action: aws.lambda
      input:
        function: <% $.fn %>
        async: true
        payload: {do: callback-flaky, value: late, until: 3}
      timeout: 90
      retry: {count: 4, delay: 1}
      publish:
        flaky: <% [task().result.value, task().result.attempt] %>
`

// A function that completes its attempt with an error fails the task
// with that error, which on-error handles, and retry applies: each retry
// invokes the function again with a callback id of its own.
func TestLambdaAsyncError(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	fn := deployUserFunction(t, c.s)
	id := c.submit(t, "lambda-async-error.yaml", []byte(lambdaAsyncErrorWorkflow), "", map[string]any{"fn": fn})
	d := c.succeed(t, id, 3*asyncTimeout+settle)
	want := map[string]any{
		"refused": map[string]any{"reason": "po-7 refused", "attempt": float64(1)},
		"flaky":   []any{"late", float64(3)},
	}
	if diff := cmp.Diff(want, output(t, d)); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
