package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/action"
	"github.com/borawf/bora/internal/queue"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
	"github.com/borawf/bora/internal/store/memory"
)

// spyStore is a store that records unit changes and can fail chosen writes.
type spyStore struct {
	store.Store
	mu      sync.Mutex
	changes []record.UnitChange
	// fail, when set, is asked before each UpdateUnit; a non-nil error is
	// returned instead of writing.
	fail func(x record.Expect, c record.UnitChange) error
}

func (s *spyStore) UpdateUnit(ctx context.Context, k record.UnitKey, x record.Expect, c record.UnitChange) (*record.Unit, error) {
	s.mu.Lock()
	fail := s.fail
	s.mu.Unlock()
	if fail != nil {
		if err := fail(x, c); err != nil {
			return nil, err
		}
	}
	u, err := s.Store.UpdateUnit(ctx, k, x, c)
	if err == nil {
		s.mu.Lock()
		s.changes = append(s.changes, c)
		s.mu.Unlock()
	}
	return u, err
}

// changesTo returns the successful changes that set state s.
func (s *spyStore) changesTo(st record.State) []record.UnitChange {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []record.UnitChange
	for _, c := range s.changes {
		if c.State == st {
			out = append(out, c)
		}
	}
	return out
}

// fakeQueue records sends and can fail the next ones.
type fakeQueue struct {
	mu       sync.Mutex
	sent     []queue.Out
	failNext int
}

func (q *fakeQueue) Send(_ context.Context, msgs ...queue.Out) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.failNext > 0 {
		q.failNext--
		return errors.New("queue unavailable")
	}
	q.sent = append(q.sent, msgs...)
	return nil
}

func (q *fakeQueue) Receive(context.Context, int, time.Duration, time.Duration) ([]queue.Message, error) {
	return nil, errors.New("not used")
}
func (q *fakeQueue) Delete(context.Context, ...string) error { return nil }
func (q *fakeQueue) ChangeVisibility(context.Context, string, time.Duration) error {
	return nil
}

// events decodes what was sent, checking group and dedup id.
func (q *fakeQueue) events(t *testing.T) []record.Event {
	t.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []record.Event
	for _, m := range q.sent {
		var ev record.Event
		if err := json.Unmarshal(m.Body, &ev); err != nil {
			t.Fatalf("event body %s: %v", m.Body, err)
		}
		if m.Group != ev.ExecID || m.DedupID != ev.ID {
			t.Errorf("event %s sent with group %q, dedup %q; want the execution id and the event id", ev.ID, m.Group, m.DedupID)
		}
		out = append(out, ev)
	}
	return out
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	w      *Worker
	st     *spyStore
	q      *fakeQueue
	logs   *syncBuffer
	runs   atomic.Int32 // runs of test.count
	params chan action.Input
}

// newFixture builds a worker on an in-memory store with test actions:
// test.count counts its runs and returns its input; test.block waits for
// its context (or release) and reports how it ended; test.panic panics.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		st:     &spyStore{Store: memory.New()},
		q:      &fakeQueue{},
		logs:   &syncBuffer{},
		params: make(chan action.Input, 16),
	}
	reg := action.NewRegistry()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(reg.Register("test.count", action.Func(func(_ context.Context, in action.Input) (any, error) {
		f.runs.Add(1)
		f.params <- in
		return in.Params, nil
	})))
	must(reg.Register("test.panic", action.Func(func(context.Context, action.Input) (any, error) {
		panic("boom")
	})))
	must(reg.Register("test.result", action.Func(func(_ context.Context, in action.Input) (any, error) {
		n, _ := in.Params["bytes"].(int64)
		return strings.Repeat("x", int(n)), nil
	})))
	must(reg.Register("test.failure", action.Func(func(_ context.Context, in action.Input) (any, error) {
		n, _ := in.Params["bytes"].(int64)
		return nil, &action.Failure{Data: map[string]any{"blob": strings.Repeat("y", int(n))}}
	})))
	must(reg.Register("test.chan", action.Func(func(context.Context, action.Input) (any, error) {
		return make(chan int), nil
	})))
	f.w = &Worker{
		Store:   f.st,
		Events:  f.q,
		Actions: reg,
		Log:     slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Lease:   time.Minute,
	}
	return f
}

// unit creates a plain task with its SCHEDULED unit and returns the
// message for it.
func (f *fixture) unit(t *testing.T, act, input string, mod func(u *record.Unit)) record.TaskMessage {
	t.Helper()
	u := &record.Unit{
		UnitKey: record.UnitKey{ExecID: "ex-" + strings.ReplaceAll(t.Name(), "/", "-"), Task: "t#1", Item: 0},
		State:   record.Scheduled,
		Attempt: 1,
		Fence:   "f1",
		Action:  act,
		Input:   json.RawMessage(input),
	}
	if mod != nil {
		mod(u)
	}
	// Item 0 lives in its task's record; other items in their own.
	tk := &record.Task{ExecID: u.ExecID, Key: u.Task, Name: "t", Seq: 1, State: record.Running, Items: u.Item + 1, WithItems: u.Item > 0}
	if u.Item == 0 {
		tk.Unit = u
	}
	if err := f.st.CreateTask(context.Background(), tk); err != nil && !errors.Is(err, store.ErrExists) {
		t.Fatal(err)
	}
	if u.Item > 0 {
		if err := f.st.CreateUnit(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
	return record.TaskMessage{ExecID: u.ExecID, Task: u.Task, Item: u.Item, Attempt: 1, Fence: "f1", Action: act}
}

func (f *fixture) get(t *testing.T, m record.TaskMessage) *record.Unit {
	t.Helper()
	u, err := f.st.GetUnit(context.Background(), m.Key())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestHandleRecordsOutcome(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		action      string
		input       string
		timeout     time.Duration
		want        record.State
		wantResult  string // JSON, for SUCCESS
		wantError   string // JSON, for ERROR
		wantNoRetry bool
	}{
		{name: "echo", action: "std.echo", input: `{"output": {"a": [1, 2.5]}}`, want: record.Success, wantResult: `{"a":[1,2.5]}`},
		{name: "noop", action: "std.noop", input: `{}`, want: record.Success, wantResult: `null`},
		{name: "null input", action: "std.noop", input: `null`, want: record.Success, wantResult: `null`},
		{name: "fail", action: "std.fail", input: `{}`, want: record.Error, wantError: `"Fail action expected exception."`},
		{name: "fail with data", action: "std.fail", input: `{"error_data": {"code": 3}}`, want: record.Error, wantError: `{"code":3}`},
		{name: "bad params are final", action: "std.echo", input: `{}`, want: record.Error,
			wantError: `"std.echo: missing required parameter \"output\"; valid parameters are required: output; optional: delay"`, wantNoRetry: true},
		{name: "unknown action", action: "nope.missing", input: `{}`, want: record.Error,
			wantError: `"unknown action \"nope.missing\": no action of that name is registered with the worker"`, wantNoRetry: true},
		{name: "input not an object", action: "std.noop", input: `[1]`, want: record.Error,
			wantError: `"action std.noop: decode action input: want an object, got a list"`, wantNoRetry: true},
		{name: "panic", action: "test.panic", input: `{}`, want: record.Error, wantError: `"action test.panic panicked: boom"`},
		{name: "timeout", action: "std.sleep", input: `{"seconds": 30}`, timeout: 50 * time.Millisecond, want: record.Error,
			wantError: `"action std.sleep timed out after 0.05 seconds"`},
		{name: "result not JSON", action: "test.chan", input: `{}`, want: record.Error,
			wantError: `"the result of action test.chan is not JSON-encodable: json: unsupported type: chan int"`, wantNoRetry: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			m := f.unit(t, tt.action, tt.input, func(u *record.Unit) { u.Timeout = tt.timeout })
			if err := f.w.Handle(context.Background(), m, nil); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			u := f.get(t, m)
			if u.State != tt.want {
				t.Fatalf("state = %s, want %s (error %s)", u.State, tt.want, u.Error)
			}
			if got := string(u.Result); tt.want == record.Success && got != tt.wantResult {
				t.Errorf("result = %s, want %s", got, tt.wantResult)
			}
			if got := string(u.Error); tt.want == record.Error && got != tt.wantError {
				t.Errorf("error = %s, want %s", got, tt.wantError)
			}
			ends := f.st.changesTo(tt.want)
			if len(ends) != 1 || ends[0].NoRetry != tt.wantNoRetry {
				t.Errorf("outcome writes = %+v, want one with NoRetry %v", ends, tt.wantNoRetry)
			}
			if !u.Due.IsZero() || u.Started.IsZero() || u.Finished.IsZero() {
				t.Errorf("due, started, finished = %v, %v, %v; want zero, set, set", u.Due, u.Started, u.Finished)
			}
			want := []record.Event{DoneEvent(m.Key(), 1, "f1")}
			if diff := cmp.Diff(want, f.q.events(t)); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHandlePassesInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.unit(t, "test.count", `{"n": 7, "s": "x"}`, func(u *record.Unit) { u.Item = 3; u.Attempt = 2 })
	m.Item, m.Attempt = 3, 2
	if err := f.w.Handle(context.Background(), m, nil); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	got := <-f.params
	want := action.Input{
		Params:         map[string]any{"n": int64(7), "s": "x"},
		IdempotencyKey: m.ExecID + "/t#1/3/2",
		ExecutionID:    m.ExecID,
		Task:           "t#1",
		Item:           3,
		Attempt:        2,
		Fence:          m.Fence,
		CallbackID:     record.CallbackID(m.Key(), 2, m.Fence),
	}
	if diff := cmp.Diff(want, got); diff != "" || m.Fence == "" {
		t.Errorf("action input (-want +got):\n%s", diff)
	}
}

// TestClaimBeforeRun: a message that cannot claim its unit runs nothing.
func TestClaimBeforeRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		mod     func(u *record.Unit)
		msg     func(m *record.TaskMessage)
		wantErr error // the message is kept for a later delivery
	}{
		{name: "stale fence", msg: func(m *record.TaskMessage) { m.Fence = "old" }},
		{name: "older attempt", mod: func(u *record.Unit) { u.Attempt = 2 }},
		{name: "newer attempt", msg: func(m *record.TaskMessage) { m.Attempt = 2 }},
		{name: "paused", mod: func(u *record.Unit) { u.State = record.Paused }},
		{name: "cancelled", mod: func(u *record.Unit) { u.State = record.Cancelled }},
		{name: "delayed", mod: func(u *record.Unit) { u.State = record.Delayed }},
		{name: "running elsewhere", mod: func(u *record.Unit) { u.State = record.Running }, wantErr: ErrAttemptRunning},
		{name: "running elsewhere under a lease", mod: func(u *record.Unit) {
			u.State, u.Due = record.Running, time.Now().Add(time.Minute)
		}, wantErr: ErrAttemptRunning},
		{name: "ended under another fence", mod: func(u *record.Unit) { u.State = record.Success; u.Fence = "f0" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			m := f.unit(t, "test.count", `{}`, tt.mod)
			if tt.msg != nil {
				tt.msg(&m)
			}
			before := f.get(t, m)
			if err := f.w.Handle(context.Background(), m, nil); !errors.Is(err, tt.wantErr) {
				t.Fatalf("Handle: %v, want %v", err, tt.wantErr)
			}
			if n := f.runs.Load(); n != 0 {
				t.Errorf("action ran %d times, want 0", n)
			}
			if diff := cmp.Diff(before, f.get(t, m)); diff != "" {
				t.Errorf("unit changed (-before +after):\n%s", diff)
			}
			if evs := f.q.events(t); len(evs) != 0 {
				t.Errorf("events sent: %v", evs)
			}
		})
	}
}

// TestRedeliveryEndsExpiredLease: a task message that comes back while
// its attempt is RUNNING under a lease that has expired (its worker died
// without deleting it) ends the attempt as lost, through the outcome path
// (a conditional ERROR, then attempt-done), and runs nothing.
func TestRedeliveryEndsExpiredLease(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	expired := time.Now().Add(-time.Second).UTC().Truncate(time.Millisecond)
	m := f.unit(t, "test.count", `{}`, func(u *record.Unit) { u.State, u.Due = record.Running, expired })
	if err := f.w.Handle(context.Background(), m, nil); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if n := f.runs.Load(); n != 0 {
		t.Errorf("action ran %d times, want 0", n)
	}
	u := f.get(t, m)
	if u.State != record.Error || !record.IsLost(u.Error) || u.Attempt != 1 || !u.Due.IsZero() {
		t.Errorf("unit %s attempt %d error %s due %v; want ERROR, lost, attempt 1, no due", u.State, u.Attempt, u.Error, u.Due)
	}
	want := []record.Event{DoneEvent(m.Key(), 1, "f1")}
	if diff := cmp.Diff(want, f.q.events(t)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	// Delivered again, it only announces the end again.
	if err := f.w.Handle(context.Background(), m, nil); err != nil {
		t.Fatalf("second Handle: %v", err)
	}
	if diff := cmp.Diff(append(want, want...), f.q.events(t)); diff != "" {
		t.Errorf("events after a second delivery (-want +got):\n%s", diff)
	}
}

func TestMissingUnit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := record.TaskMessage{ExecID: "gone", Task: "t#1", Attempt: 1, Fence: "f1", Action: "test.count"}
	if err := f.w.Handle(context.Background(), m, nil); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if f.runs.Load() != 0 || len(f.q.events(t)) != 0 {
		t.Errorf("runs %d, events %v; want none", f.runs.Load(), f.q.events(t))
	}
}

func TestDuplicateDeliveryRunsOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.unit(t, "test.count", `{}`, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() { errs <- f.w.Handle(context.Background(), m, nil) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		// A copy that finds the attempt still running keeps its message.
		if err != nil && !errors.Is(err, ErrAttemptRunning) {
			t.Errorf("Handle: %v", err)
		}
	}
	// A later redelivery, after the attempt ended, only re-announces it.
	if err := f.w.Handle(context.Background(), m, nil); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if n := f.runs.Load(); n != 1 {
		t.Errorf("action ran %d times, want 1", n)
	}
	if u := f.get(t, m); u.State != record.Success {
		t.Errorf("state = %s, want SUCCESS", u.State)
	}
	for _, ev := range f.q.events(t) {
		if diff := cmp.Diff(DoneEvent(m.Key(), 1, "f1"), ev); diff != "" {
			t.Errorf("event (-want +got):\n%s", diff)
		}
	}
	if len(f.q.events(t)) == 0 {
		t.Error("no attempt-done event sent")
	}
}

func TestRenotifyAfterLostSend(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.unit(t, "test.count", `{"v": 1}`, nil)
	f.q.failNext = 1
	if err := f.w.Handle(context.Background(), m, nil); err == nil {
		t.Fatal("Handle = nil after a failed send; want an error so the message is redelivered")
	}
	if u := f.get(t, m); u.State != record.Success {
		t.Fatalf("state = %s, want SUCCESS recorded before the send", u.State)
	}
	if evs := f.q.events(t); len(evs) != 0 {
		t.Fatalf("events = %v, want none yet", evs)
	}
	// Redelivery: the claim fails, the worker sees the ended attempt and
	// sends its event, without running the action again.
	if err := f.w.Handle(context.Background(), m, nil); err != nil {
		t.Fatalf("Handle on redelivery: %v", err)
	}
	if diff := cmp.Diff([]record.Event{DoneEvent(m.Key(), 1, "f1")}, f.q.events(t)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if n := f.runs.Load(); n != 1 {
		t.Errorf("action ran %d times, want 1", n)
	}
}

func TestLeaseExtension(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.w.Lease = 60 * time.Millisecond
	var beats atomic.Int32
	enough := make(chan struct{})
	var once sync.Once
	heartbeat := func(d time.Duration) error {
		if d != f.w.Lease {
			t.Errorf("heartbeat(%v), want the lease %v", d, f.w.Lease)
		}
		if beats.Add(1) >= 3 {
			once.Do(func() { close(enough) })
		}
		return errors.New("heartbeat errors are only logged")
	}
	var dues []time.Time
	slow := action.Func(func(ctx context.Context, in action.Input) (any, error) {
		// Run well past the first lease, watching it being renewed.
		deadline := time.After(10 * time.Second)
		for {
			select {
			case <-enough:
				return "done", nil
			case <-deadline:
				return nil, errors.New("no heartbeats")
			case <-time.After(5 * time.Millisecond):
				u, err := f.st.GetUnit(ctx, record.UnitKey{ExecID: in.ExecutionID, Task: in.Task})
				if err != nil {
					return nil, err
				}
				dues = append(dues, u.Due)
			}
		}
	})
	if err := f.w.Actions.Register("test.slow", slow); err != nil {
		t.Fatal(err)
	}
	m := f.unit(t, "test.slow", `{}`, nil)
	if err := f.w.Handle(context.Background(), m, heartbeat); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if u := f.get(t, m); u.State != record.Success {
		t.Fatalf("state = %s (%s), want SUCCESS", u.State, u.Error)
	}
	if n := len(f.st.changesTo(record.Running)); n < 3 {
		t.Errorf("%d RUNNING writes (claim and renewals), want at least 3", n)
	}
	if len(dues) < 2 || !dues[len(dues)-1].After(dues[0]) {
		t.Errorf("lease expiry never moved over %d observations: %v", len(dues), dues)
	}
	if !strings.Contains(f.logs.String(), "heartbeat failed") {
		t.Error("a failing heartbeat was not logged")
	}
}

// TestLeaseLost: when the attempt is ended elsewhere while it runs (the
// reconciler failed it), the action is stopped and its outcome dropped.
func TestLeaseLost(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.w.Lease = 30 * time.Millisecond
	stopped := make(chan error, 1)
	var key record.UnitKey
	if err := f.w.Actions.Register("test.lost", action.Func(func(ctx context.Context, in action.Input) (any, error) {
		u, err := f.st.GetUnit(ctx, key)
		if err != nil {
			return nil, err
		}
		if err := f.w.Fail(ctx, u, "lease expired"); err != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			stopped <- context.Cause(ctx)
			return nil, ctx.Err()
		case <-time.After(10 * time.Second):
			stopped <- nil
			return "late", nil
		}
	})); err != nil {
		t.Fatal(err)
	}
	m := f.unit(t, "test.lost", `{}`, nil)
	key = m.Key()
	if err := f.w.Handle(context.Background(), m, nil); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if cause := <-stopped; !errors.Is(cause, errLeaseLost) {
		t.Errorf("action context ended with %v, want errLeaseLost", cause)
	}
	u := f.get(t, m)
	if u.State != record.Error || !record.IsLost(u.Error) {
		t.Errorf("unit = %s %s, want the reconciler's lost-worker ERROR", u.State, u.Error)
	}
	// Fail announced the attempt; the worker recorded nothing after it and
	// announced the same event again (deduplicated by its id).
	done := DoneEvent(m.Key(), 1, "f1")
	if diff := cmp.Diff([]record.Event{done, done}, f.q.events(t)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestActionIgnoringContext(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.w.Grace = 20 * time.Millisecond
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	if err := f.w.Actions.Register("test.stuck", action.Func(func(context.Context, action.Input) (any, error) {
		<-release
		return nil, nil
	})); err != nil {
		t.Fatal(err)
	}
	m := f.unit(t, "test.stuck", `{}`, func(u *record.Unit) { u.Timeout = 30 * time.Millisecond })
	if err := f.w.Handle(context.Background(), m, nil); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	u := f.get(t, m)
	if u.State != record.Error || string(u.Error) != `"action test.stuck timed out after 0.03 seconds"` {
		t.Errorf("unit = %s %s, want a timeout ERROR", u.State, u.Error)
	}
}

func TestWorkerDeadline(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.w.Margin = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	m := f.unit(t, "std.sleep", `{"seconds": 30}`, nil)
	if err := f.w.Handle(ctx, m, nil); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	u := f.get(t, m)
	if u.State != record.Error || !record.IsLost(u.Error) || !strings.Contains(string(u.Error), "the worker's time limit was reached") {
		t.Errorf("unit = %s %s, want a lost-worker ERROR naming the worker's time limit", u.State, u.Error)
	}
	if len(f.q.events(t)) != 1 {
		t.Errorf("events = %v, want the attempt-done event", f.q.events(t))
	}
}

// TestCallerStops: when the caller stops (SIGTERM, the end of bora run)
// while an action runs, the action is told to stop; an action that still
// completes is recorded as it ended, one that does not is recorded at once
// as interrupted (a lost-worker error, so that the task's policy re-runs or
// retries it), never left RUNNING to be found lost when its lease expires.
func TestCallerStops(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		act       func(ctx context.Context) (any, error)
		wantState record.State
		wantLost  bool
	}{
		{"the action stops on its context", func(ctx context.Context) (any, error) { <-ctx.Done(); return nil, ctx.Err() }, record.Error, true},
		{"the action finishes anyway", func(ctx context.Context) (any, error) { <-ctx.Done(); return "done", nil }, record.Success, false},
		{"the action ignores its context", func(ctx context.Context) (any, error) { select {} }, record.Error, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.w.Grace = 50 * time.Millisecond
			ctx, cancel := context.WithCancel(context.Background())
			started := make(chan struct{})
			if err := f.w.Actions.Register("test.wait", action.Func(func(ctx context.Context, _ action.Input) (any, error) {
				close(started)
				return tt.act(ctx)
			})); err != nil {
				t.Fatal(err)
			}
			m := f.unit(t, "test.wait", `{}`, nil)
			go func() { <-started; cancel() }()
			if err := f.w.Handle(ctx, m, nil); err != nil {
				t.Fatalf("Handle = %v, want the attempt recorded", err)
			}
			u := f.get(t, m)
			if u.State != tt.wantState || record.IsLost(u.Error) != tt.wantLost {
				t.Errorf("unit = %s %s, want %s (lost: %v)", u.State, u.Error, tt.wantState, tt.wantLost)
			}
			if tt.wantLost && !strings.Contains(string(u.Error), "interrupted: the worker stopped") {
				t.Errorf("error %s does not say the attempt was interrupted", u.Error)
			}
			if len(f.q.events(t)) != 1 {
				t.Errorf("events = %v, want the attempt-done event", f.q.events(t))
			}
		})
	}
}

func TestTooLarge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		action    string
		bytes     int
		maxValue  int
		storeFail bool // the store refuses the item although the value passed the check
		wantError string
	}{
		{name: "result over the item limit", action: "test.result", bytes: store.MaxItemBytes,
			wantError: fmt.Sprintf(`"the result of action test.result is %d bytes, over the %d-byte limit of a task result"`, store.MaxItemBytes+2, store.MaxItemBytes-len(`{"bytes":358400}`)-valueOverhead)},
		{name: "result over MaxValueBytes", action: "test.result", bytes: 200, maxValue: 100,
			wantError: `"the result of action test.result is 202 bytes, over the 100-byte limit of a task result"`},
		{name: "error over MaxValueBytes", action: "test.failure", bytes: 200, maxValue: 100,
			wantError: `"the error of action test.failure is 211 bytes, over the 100-byte limit of a task error"`},
		{name: "store refuses the item", action: "test.result", bytes: 10, storeFail: true,
			wantError: `"the result of action test.result does not fit in a task record: unit x is 999999 bytes, over the 358400-byte item limit"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.w.MaxValueBytes = tt.maxValue
			if tt.storeFail {
				f.st.fail = func(_ record.Expect, c record.UnitChange) error {
					if c.State == record.Success {
						return &store.TooLargeError{What: "unit x", Size: 999999, Limit: store.MaxItemBytes}
					}
					return nil
				}
			}
			m := f.unit(t, tt.action, fmt.Sprintf(`{"bytes":%d}`, tt.bytes), nil)
			if err := f.w.Handle(context.Background(), m, nil); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			u := f.get(t, m)
			if u.State != record.Error || string(u.Error) != tt.wantError {
				t.Errorf("unit = %s %s\nwant ERROR %s", u.State, u.Error, tt.wantError)
			}
			if ends := f.st.changesTo(record.Error); len(ends) != 1 || !ends[0].NoRetry {
				t.Errorf("outcome writes = %d, want one final ERROR", len(ends))
			}
			if len(f.q.events(t)) != 1 {
				t.Errorf("events = %v, want the attempt-done event", f.q.events(t))
			}
		})
	}
}

func TestRecordConflictDropsOutcome(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.st.fail = func(_ record.Expect, c record.UnitChange) error {
		if c.State == record.Success {
			return fmt.Errorf("state is ERROR: %w", store.ErrConflict)
		}
		return nil
	}
	m := f.unit(t, "test.count", `{}`, nil)
	// The fake refuses the outcome while the unit still reads RUNNING under
	// this attempt: the message is kept until the attempt has ended.
	if err := f.w.Handle(context.Background(), m, nil); !errors.Is(err, ErrAttemptRunning) {
		t.Fatalf("Handle: %v, want ErrAttemptRunning", err)
	}
	if len(f.q.events(t)) != 0 {
		t.Errorf("events = %v, want none: the attempt was ended elsewhere", f.q.events(t))
	}
}

// TestAnnounceAttemptEndedElsewhere: a worker outlives its lease, the
// reconciler ends the attempt but its attempt-done event is lost. The
// worker, finding the attempt ended when it records, announces it (the
// event id is fixed, so a second copy is deduplicated): otherwise nothing
// would, and the execution would wait for it forever.
func TestAnnounceAttemptEndedElsewhere(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var key record.UnitKey
	if err := f.w.Actions.Register("test.slow", action.Func(func(ctx context.Context, _ action.Input) (any, error) {
		// The reconciler's write, whose event send then failed.
		_, err := f.st.Store.UpdateUnit(ctx, key,
			record.Expect{States: []record.State{record.Running}, Attempt: 1, Fence: "f1"},
			record.UnitChange{State: record.Error, Error: record.LostError("lease expired")})
		return "late", err
	})); err != nil {
		t.Fatal(err)
	}
	m := f.unit(t, "test.slow", `{}`, nil)
	key = m.Key()
	if err := f.w.Handle(context.Background(), m, nil); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if u := f.get(t, m); u.State != record.Error || !record.IsLost(u.Error) {
		t.Errorf("unit = %s %s, want the reconciler's lost-worker ERROR kept", u.State, u.Error)
	}
	if diff := cmp.Diff([]record.Event{DoneEvent(m.Key(), 1, "f1")}, f.q.events(t)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestStoreErrorsRedeliver(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		state record.State // the write that fails
	}{
		{name: "claim", state: record.Running},
		{name: "record", state: record.Success},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.st.fail = func(_ record.Expect, c record.UnitChange) error {
				if c.State == tt.state {
					return errors.New("throttled")
				}
				return nil
			}
			m := f.unit(t, "test.count", `{}`, nil)
			if err := f.w.Handle(context.Background(), m, nil); err == nil || !strings.Contains(err.Error(), "throttled") {
				t.Errorf("Handle = %v, want the store's error", err)
			}
		})
	}
}

func TestFail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		mod        func(u *record.Unit)
		wantState  record.State
		wantEvents int
	}{
		{name: "running attempt", mod: func(u *record.Unit) { u.State = record.Running }, wantState: record.Error, wantEvents: 1},
		{name: "already ended", mod: func(u *record.Unit) { u.State = record.Success }, wantState: record.Success, wantEvents: 1},
		{name: "moved on", mod: func(u *record.Unit) { u.State = record.Running; u.Fence = "f2" }, wantState: record.Running, wantEvents: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			m := f.unit(t, "test.count", `{}`, tt.mod)
			u := f.get(t, m)
			u.Fence = "f1"                                       // what the reconciler saw
			w := &Worker{Store: f.st, Events: f.q, Log: f.w.Log} // Fail needs no actions
			if err := w.Fail(context.Background(), u, "lease expired"); err != nil {
				t.Fatalf("Fail: %v", err)
			}
			got := f.get(t, m)
			if got.State != tt.wantState {
				t.Errorf("state = %s, want %s", got.State, tt.wantState)
			}
			if tt.wantState == record.Error && !record.IsLost(got.Error) {
				t.Errorf("error = %s, want a LostError", got.Error)
			}
			if n := len(f.q.events(t)); n != tt.wantEvents {
				t.Errorf("%d events, want %d", n, tt.wantEvents)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		w    Worker
		want []string
	}{
		{name: "complete", w: Worker{Store: memory.New(), Events: &fakeQueue{}, Actions: action.NewRegistry()}},
		{name: "empty", w: Worker{}, want: []string{"Store is required", "Events is required", "Actions is required"}},
		{name: "negative", w: Worker{Store: memory.New(), Events: &fakeQueue{}, Actions: action.NewRegistry(), Lease: -1, Margin: -1, Grace: -1, MaxValueBytes: -1},
			want: []string{"Lease is -1ns", "Margin is -1ns", "Grace is -1ns", "MaxValueBytes is -1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.w.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate = nil")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

// TestLogLinesCarryIDs: every log line about a message names its
// execution, task and attempt.
func TestLogLinesCarryIDs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, act := range []string{"test.count", "test.panic", "nope.missing"} {
		m := f.unit(t, act, `{}`, func(u *record.Unit) { u.Task = act + "#1" })
		m.Task = act + "#1"
		if err := f.w.Handle(context.Background(), m, nil); err != nil {
			t.Fatalf("Handle: %v", err)
		}
		// and a stale duplicate
		if err := f.w.Handle(context.Background(), m, nil); err != nil {
			t.Fatalf("Handle: %v", err)
		}
	}
	lines := strings.Split(strings.TrimSpace(f.logs.String()), "\n")
	if len(lines) < 6 {
		t.Fatalf("only %d log lines", len(lines))
	}
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		for _, k := range []string{"execution_id", "task", "attempt"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("log line lacks %s: %s", k, line)
			}
		}
	}
}

// TestNoTimeLeft: a delivery with less time left than the margin claims
// nothing and asks for redelivery.
func TestNoTimeLeft(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.w.Margin = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m := f.unit(t, "test.count", `{}`, nil)
	if err := f.w.Handle(ctx, m, nil); err == nil || !strings.Contains(err.Error(), "less than the 1m0s margin") {
		t.Fatalf("Handle = %v, want an error about the margin", err)
	}
	if u := f.get(t, m); u.State != record.Scheduled || f.runs.Load() != 0 {
		t.Errorf("state %s, %d runs; want SCHEDULED and none", u.State, f.runs.Load())
	}
}

// TestOutcomeAlwaysRecordable: a unit whose record is so close to the
// store's limit that neither the result nor the error naming its size
// fits still ends, final at once, with the shortest error there is, and its
// attempt-done is sent: the message is not redelivered until the lease
// runs out.
func TestOutcomeAlwaysRecordable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// The item holds room for 60 bytes of outcome.
	f.st.fail = func(_ record.Expect, c record.UnitChange) error {
		if n := len(c.Result) + len(c.Error); n > 60 {
			return &store.TooLargeError{What: "task x/t#1", Size: store.MaxItemBytes - 60 + n, Limit: store.MaxItemBytes}
		}
		return nil
	}
	m := f.unit(t, "test.result", `{"bytes":1000}`, nil)
	if err := f.w.Handle(context.Background(), m, nil); err != nil {
		t.Fatalf("Handle: %v, want the attempt ended", err)
	}
	u := f.get(t, m)
	if u.State != record.Error || !u.NoRetry || len(u.Error) > 60 || !strings.Contains(string(u.Error), "does not fit") {
		t.Errorf("unit = %s no_retry=%v %s, want a short final ERROR", u.State, u.NoRetry, u.Error)
	}
	if len(f.q.events(t)) != 1 {
		t.Errorf("events = %v, want the attempt-done event", f.q.events(t))
	}
}
