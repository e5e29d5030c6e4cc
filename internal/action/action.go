// Package action holds Bora's actions: the Go interface a task's action
// implements, the registry a worker looks actions up in, and the standard
// actions of the Mistral workflow language (std.noop, std.echo, std.fail,
// std.sleep, std.http, std.email, std.javascript and std.js, std.ssh,
// std.ssh_proxied, std.test_dict).
//
// # Adding an action
//
// An action is any value with a Run method, or a plain function wrapped in
// Func. Register it under the name workflows use in `action:`, in the
// registry the worker is built with:
//
//	reg := action.NewRegistry()
//	err := reg.Register("billing.charge", action.Func(func(ctx context.Context, in action.Input) (any, error) {
//		return charge(ctx, in.Params["customer"], in.IdempotencyKey)
//	}))
//
// Run receives the task's input as Params (JSON-like values: nil, bool,
// int64, float64, string, []any, map[string]any) and returns a JSON-encodable
// result, which becomes the task's result. Returning an error fails the
// attempt; the task's retry policy then decides whether it runs again.
//
//   - Wrap the error with NonRetryable when another attempt cannot help
//     (bad input, a permanent refusal): Bora records the attempt as final.
//   - Return a *Failure to fail with structured error data, as std.fail does
//     with `error_data`: the data, not a message, is the task's error.
//   - Any other error is recorded as its message.
//
// Run must honour ctx: it is cancelled when the task's timeout passes or the
// worker runs out of time.
//
// # Idempotency
//
// A worker runs an attempt only after claiming it with a conditional write,
// so each attempt runs at most once, however often its message is
// delivered. But a worker can die after an action's side effect and before
// its outcome is recorded; the attempt is then ended as lost, and the task
// may run again as a new attempt (its retry policy, or safe-rerun).
// Input.IdempotencyKey names one attempt of one item of one task execution;
// pass it to the systems an action changes (an Idempotency-Key header, a
// conditional write, a client token) to tie a side effect to its attempt.
// For a side effect that must happen once whatever the attempt, build the
// key from ExecutionID, Task and Item alone.
//
// Names starting with "std." are reserved for the standard actions.
//
// # Standard actions
//
// The std.* actions take the parameters Mistral's do and return what
// Mistral's return; an unknown or ill-typed parameter fails the task, for
// good, with a message naming the action and its valid parameters. Where
// Mistral's behaviour is an accident of Python, Bora keeps the behaviour a
// workflow can observe and says so:
//
//   - std.http does not follow redirects unless allow_redirects is true
//     (Mistral passes None to requests, which then does not follow them);
//     a status outside 200..306 fails the task with the response object as
//     its error; content is decoded from JSON whenever it parses as JSON.
//     The result has no `history`; auth may also be a [user, password] list
//     and a password may hold colons.
//   - std.sleep and std.echo accept fractional seconds, and refuse values
//     that are not numbers instead of treating them as 0.
//   - std.fail with an empty error_data fails with Mistral's message
//     "Fail action expected exception.".
//   - std.javascript runs in goja, a JavaScript interpreter written in Go,
//     with no file, network or process access and a time and memory budget
//     per call (JSTimeLimit, JSMemoryLimit), where Mistral embeds V8.
//   - std.ssh and std.ssh_proxied accept "host:port"; std.ssh takes
//     return_result_on_error as newer Mistral does; std.ssh_proxied refuses
//     proxy_command, which would run a command on the worker.
//
// std.async_noop and std.mistral_http return ErrPending: the attempt waits
// for a completion that names Input.CallbackID, which names one attempt
// (Mistral's names an action execution); std.mistral_http sends Mistral's
// headers, Mistral-Callback-URL only when the worker knows its API's
// address.
package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Input is what one run of an action receives.
type Input struct {
	// Params is the action's input: the task's `input:` after evaluation.
	Params map[string]any
	// IdempotencyKey identifies the attempt (execution, task execution,
	// item, attempt); it is stable across redeliveries of that attempt.
	IdempotencyKey string
	// ExecutionID is the workflow execution the task belongs to.
	ExecutionID string
	// Task is the task execution key ("<name>#<n>").
	Task string
	// Item is the with-items index, 0 for a task without with-items.
	Item int
	// Attempt counts from 1; a retry is a new attempt.
	Attempt int
	// Fence is the claim's fencing token: it changes every time the unit is
	// (re)scheduled, so it names this run of the attempt. A system the
	// action calls may refuse a write that carries a fence older than the
	// last it saw.
	Fence string
	// CallbackID names this attempt for a completion (record.CallbackID):
	// an action that returns ErrPending hands it to whatever will report
	// the outcome, which then completes the attempt with it (the API's
	// POST /v1/completions/{id}, `bora complete`, `bora fail`).
	CallbackID string
	// CallbackURL is the completion route (<API>/v1/completions), to
	// which the callback id is appended, when the worker knows its API's
	// address (BORA_CALLBACK_URL); else empty.
	CallbackURL string
}

// ErrPending is returned by an action whose work goes on after it returns
// (an asynchronous action): the attempt stays RUNNING, waiting for a
// completion that names Input.CallbackID, for at most the task's timeout.
// The action must have handed the callback id on before it returns.
var ErrPending = errors.New("the action's outcome comes later, with a completion")

// Pending is ErrPending with a heartbeat timeout: whatever does the work
// must send a heartbeat (POST /v1/completions/{id}/heartbeat, `bora
// heartbeat`) at least every Heartbeat, else the attempt fails as timed
// out and the task's retry policy applies. The task's timeout still
// bounds the whole wait.
type Pending struct {
	Heartbeat time.Duration
}

func (p *Pending) Error() string {
	return fmt.Sprintf("%s (heartbeat every %s)", ErrPending, p.Heartbeat)
}

// Is makes a Pending ErrPending.
func (p *Pending) Is(target error) bool { return target == ErrPending }

// HeartbeatOf returns the heartbeat timeout an ErrPending error carries
// (Pending), zero for none.
func HeartbeatOf(err error) time.Duration {
	var p *Pending
	if errors.As(err, &p) && p.Heartbeat > 0 {
		return p.Heartbeat
	}
	return 0
}

// Action is one kind of work a task can run.
type Action interface {
	Run(ctx context.Context, in Input) (any, error)
}

// Func adapts a function to Action.
type Func func(ctx context.Context, in Input) (any, error)

// Run calls f.
func (f Func) Run(ctx context.Context, in Input) (any, error) { return f(ctx, in) }

// NonRetryableError marks an error after which the task is not retried,
// whatever its retry policy says.
type NonRetryableError struct{ Err error }

func (e *NonRetryableError) Error() string { return e.Err.Error() }
func (e *NonRetryableError) Unwrap() error { return e.Err }

// NonRetryable marks err as final for its task: no retry policy applies.
// It returns nil for a nil err.
func NonRetryable(err error) error {
	if err == nil {
		return nil
	}
	return &NonRetryableError{Err: err}
}

// IsNonRetryable reports whether err, or an error it wraps, was marked by
// NonRetryable.
func IsNonRetryable(err error) bool {
	var nr *NonRetryableError
	return errors.As(err, &nr)
}

// Failure fails an action with structured error data: the task's error is
// Data itself (any JSON-like value), not a message.
type Failure struct{ Data any }

func (f *Failure) Error() string {
	if s, ok := f.Data.(string); ok {
		return s
	}
	b, err := json.Marshal(f.Data)
	if err != nil {
		return fmt.Sprintf("%v", f.Data)
	}
	return string(b)
}

// ErrorValue returns the JSON-like value Bora records as a task's error for
// an action error: a *Failure's Data (found through wrapping), else the
// error's message. It returns nil for a nil err.
func ErrorValue(err error) any {
	if err == nil {
		return nil
	}
	var f *Failure
	if errors.As(err, &f) {
		return f.Data
	}
	return err.Error()
}
