package worker

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/borawf/bora/internal/action"
	"github.com/borawf/bora/internal/record"
)

// asyncFixture is a fixture whose test.async action starts nothing and
// leaves its attempt awaiting a completion, reporting the callback id it
// was given; its execution's head exists, RUNNING.
func asyncFixture(t *testing.T) (*fixture, chan string) {
	t.Helper()
	f := newFixture(t)
	ids := make(chan string, 4)
	if err := f.w.Actions.Register("test.async", action.Func(func(_ context.Context, in action.Input) (any, error) {
		ids <- in.CallbackID
		return nil, action.ErrPending
	})); err != nil {
		t.Fatal(err)
	}
	return f, ids
}

// head creates the fixture's execution head in state st.
func (f *fixture) head(t *testing.T, m record.TaskMessage, st record.ExecState) {
	t.Helper()
	e := &record.Execution{ID: m.ExecID, Workflow: "w", DefName: "w", DefVer: 1, State: st, Version: 1,
		Input: json.RawMessage(`{}`), Due: time.Now().Add(time.Hour)}
	if err := f.st.CreateExecution(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

func TestAsyncActionAwaitsCompletion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		timeout   time.Duration
		complete  Completion // ID filled in
		wantState record.State
		want      string // result or error JSON
	}{
		{name: "result", complete: Completion{Result: json.RawMessage(`{"ok": [1, 2]}`)}, wantState: record.Success, want: `{"ok":[1,2]}`},
		{name: "empty result", complete: Completion{}, wantState: record.Success, want: `null`},
		{name: "error", timeout: time.Hour, complete: Completion{Error: json.RawMessage(`"remote side failed"`)}, wantState: record.Error, want: `"remote side failed"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f, ids := asyncFixture(t)
			m := f.unit(t, "test.async", `{}`, func(u *record.Unit) { u.Timeout = tt.timeout })
			f.head(t, m, record.ExecRunning)
			if err := f.w.Handle(ctx, m, nil); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			id := <-ids
			if want := record.CallbackID(m.Key(), 1, "f1"); id != want {
				t.Fatalf("the action got callback id %q, want %q", id, want)
			}
			u := f.get(t, m)
			if !u.Awaiting() {
				t.Fatalf("unit is %s with result %s, want RUNNING awaiting its completion", u.State, u.Result)
			}
			if tt.timeout == 0 && !u.Due.IsZero() {
				t.Errorf("due = %v without a timeout, want none", u.Due)
			}
			if tt.timeout > 0 && !u.Due.Equal(u.Started.Add(tt.timeout)) {
				t.Errorf("due = %v, want the claim (%v) + the timeout", u.Due, u.Started)
			}
			if evs := f.q.events(t); len(evs) != 0 {
				t.Fatalf("events %+v before the completion, want none", evs)
			}
			// A redelivered task message finds the attempt awaiting: done.
			if err := f.w.Handle(ctx, m, nil); err != nil {
				t.Fatalf("Handle of a redelivery: %v", err)
			}
			if evs := f.q.events(t); len(evs) != 0 {
				t.Fatalf("events %+v after a redelivery, want none", evs)
			}

			c := tt.complete
			c.ID = id
			if err := f.w.Complete(ctx, c); err != nil {
				t.Fatalf("Complete: %v", err)
			}
			u = f.get(t, m)
			got := string(u.Result)
			if tt.wantState == record.Error {
				got = string(u.Error)
				if len(u.Result) != 0 {
					t.Errorf("result = %s after an error completion, want none", u.Result)
				}
			}
			if u.State != tt.wantState || got != tt.want {
				t.Errorf("unit = %s %s, want %s %s", u.State, got, tt.wantState, tt.want)
			}
			evs := f.q.events(t)
			if len(evs) == 0 || evs[0].ID != DoneEvent(m.Key(), 1, "f1").ID {
				t.Errorf("events %+v, want the attempt-done event", evs)
			}
			// The same completion again is stale and changes nothing.
			if err := f.w.Complete(ctx, c); !errors.Is(err, ErrStale) {
				t.Errorf("a second completion: %v, want ErrStale", err)
			}
			if again := f.get(t, m); again.State != u.State || !again.Finished.Equal(u.Finished) {
				t.Errorf("a second completion changed the unit: %+v", again)
			}
		})
	}
}

// TestWaitAfterTheExecutionEnded: the step that ended an execution found
// an attempt held by its worker (its action still ran) and left it to the
// worker; the wait the worker records after must not stay RUNNING for
// ever. The worker finds the execution ended and cancels the wait, as the
// step would have; so does a redelivered task message that finds such a
// wait. A completion afterwards is refused and changes nothing. While the
// execution runs, the wait stays.
func TestWaitAfterTheExecutionEnded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// during is the execution's state while the action runs, after
		// the state after the worker recorded the wait; a redelivery of
		// the message follows.
		during, after record.ExecState
		want          record.State
	}{
		{name: "cancelled while the action ran", during: record.ExecCancelled, after: record.ExecCancelled, want: record.Cancelled},
		{name: "ended in ERROR while the action ran", during: record.ExecError, after: record.ExecError, want: record.Cancelled},
		{name: "cancelled after the wait, then redelivered", during: record.ExecRunning, after: record.ExecCancelled, want: record.Cancelled},
		{name: "running", during: record.ExecRunning, after: record.ExecRunning, want: record.Running},
		{name: "paused", during: record.ExecPaused, after: record.ExecPaused, want: record.Running},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f, ids := asyncFixture(t)
			m := f.unit(t, "test.async", `{}`, nil)
			f.head(t, m, tt.during)
			if err := f.w.Handle(ctx, m, nil); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			id := <-ids
			if tt.after != tt.during {
				e, err := f.st.GetExecution(ctx, m.ExecID)
				if err != nil {
					t.Fatal(err)
				}
				e.State, e.Version = tt.after, e.Version+1
				if err := f.st.CommitExecution(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.w.Handle(ctx, m, nil); err != nil {
				t.Fatalf("Handle of a redelivery: %v", err)
			}
			u := f.get(t, m)
			if tt.want == record.Running {
				if !u.Awaiting() {
					t.Errorf("unit is %s with result %s, want it awaiting its completion", u.State, u.Result)
				}
				return
			}
			if u.State != tt.want || len(u.Result) != 0 || !u.Due.IsZero() {
				t.Fatalf("unit is %s with result %s due %v, want %s with neither", u.State, u.Result, u.Due, tt.want)
			}
			err := f.w.Complete(ctx, Completion{ID: id, Result: json.RawMessage(`"late"`)})
			if !errors.Is(err, ErrStale) {
				t.Errorf("a completion after the wait was cancelled: %v, want ErrStale", err)
			}
			if after := f.get(t, m); after.State != u.State || len(after.Result) != 0 {
				t.Errorf("the refused completion changed the unit to %s %s", after.State, after.Result)
			}
			if evs := f.q.events(t); len(evs) != 0 {
				t.Errorf("events %+v, want none: the execution ended", evs)
			}
		})
	}
}

func TestCompletionOfAnAttemptNoLongerCurrent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mod    func(u *record.Unit)
		exec   record.ExecState
		reason string
	}{
		{name: "retried", mod: func(u *record.Unit) { u.State, u.Attempt = record.Running, 2 }, exec: record.ExecRunning, reason: "followed by attempt 2"},
		{name: "rescheduled after a pause", mod: func(u *record.Unit) { u.State, u.Fence = record.Scheduled, "f2" }, exec: record.ExecRunning, reason: "rescheduled"},
		{name: "paused before its run", mod: func(u *record.Unit) { u.State = record.Paused }, exec: record.ExecPaused, reason: "is PAUSED"},
		{name: "timed out", mod: func(u *record.Unit) { u.State, u.Error = record.Error, json.RawMessage(`"timed out"`) }, exec: record.ExecRunning, reason: "ended already in ERROR: timed out"},
		{name: "completed", mod: func(u *record.Unit) { u.State, u.Result = record.Success, json.RawMessage(`1`) }, exec: record.ExecRunning, reason: "ended already in SUCCESS"},
		{name: "cancelled", mod: func(u *record.Unit) { u.State = record.Running }, exec: record.ExecCancelled, reason: "is CANCELLED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f, _ := asyncFixture(t)
			m := f.unit(t, "test.async", `{}`, tt.mod)
			f.head(t, m, tt.exec)
			before := f.get(t, m)
			err := f.w.Complete(ctx, Completion{ID: record.CallbackID(m.Key(), 1, "f1"), Result: json.RawMessage(`"late"`)})
			if !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("Complete: %v, want ErrStale saying %q", err, tt.reason)
			}
			if after := f.get(t, m); after.State != before.State || string(after.Result) != string(before.Result) {
				t.Errorf("unit changed: %s %s → %s %s", before.State, before.Result, after.State, after.Result)
			}
			if evs := f.q.events(t); len(evs) != 0 {
				t.Errorf("events %+v, want none", evs)
			}
		})
	}
	t.Run("malformed id", func(t *testing.T) {
		f, _ := asyncFixture(t)
		if err := f.w.Complete(context.Background(), Completion{ID: "not-an-id"}); !errors.Is(err, record.ErrBadCallbackID) {
			t.Errorf("Complete: %v, want ErrBadCallbackID", err)
		}
	})
}

// TestCompletionRacesTheDeadline runs a completion and the end of its
// attempt at its deadline (what the reconciler, or a redelivered task
// message, does) at once, many times: exactly one of them ends the
// attempt, and the loser changes nothing.
func TestCompletionRacesTheDeadline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	raced := 0
	for i := range 30 {
		f, ids := asyncFixture(t)
		m := f.unit(t, "test.async", `{}`, func(u *record.Unit) { u.Timeout = 20 * time.Millisecond })
		f.head(t, m, record.ExecRunning)
		if err := f.w.Handle(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
		id := <-ids
		u := f.get(t, m)
		if !u.Awaiting() {
			// On a busy machine the action's own timeout passed before
			// it returned: the attempt ended as timed out, no wait to race.
			continue
		}
		raced++
		for !u.Due.Before(time.Now()) {
			time.Sleep(time.Millisecond)
		}
		var wg sync.WaitGroup
		var cerr, ferr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			cerr = f.w.Complete(ctx, Completion{ID: id, Result: json.RawMessage(`"done"`)})
		}()
		go func() { defer wg.Done(); ferr = f.w.Fail(ctx, u, "") }()
		wg.Wait()
		if ferr != nil {
			t.Fatalf("round %d: Fail: %v", i, ferr)
		}
		got := f.get(t, m)
		switch {
		case cerr == nil:
			if got.State != record.Success || string(got.Result) != `"done"` {
				t.Fatalf("round %d: the completion was accepted but the unit is %s %s %s", i, got.State, got.Result, got.Error)
			}
		case errors.Is(cerr, ErrStale):
			if got.State != record.Error || !strings.Contains(record.ErrorText(got.Error), "no completion came") || len(got.Result) != 0 {
				t.Fatalf("round %d: the completion was refused (%v) but the unit is %s %s %s", i, cerr, got.State, got.Result, got.Error)
			}
		default:
			t.Fatalf("round %d: Complete: %v", i, cerr)
		}
		seen := map[string]bool{}
		for _, ev := range f.q.events(t) {
			seen[ev.ID] = true
		}
		if want := DoneEvent(m.Key(), 1, "f1").ID; len(seen) != 1 || !seen[want] {
			t.Fatalf("round %d: events %v, want only %s", i, seen, want)
		}
	}
	if raced == 0 {
		t.Fatal("no round got as far as the wait: the machine is too busy for a 20 ms timeout")
	}
}

// TestHeartbeat: an attempt whose action asked for heartbeats is due a
// heartbeat timeout after the wait starts and after each heartbeat, never
// past the task's timeout; a heartbeat after the deadline, or after the
// completion, is stale and changes nothing; one for an action that asked
// for none, or before the wait is recorded, changes nothing.
func TestHeartbeat(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const hb = 10 * time.Second
	tests := []struct {
		name    string
		timeout time.Duration
		beats   []time.Duration // heartbeat times after the claim
		want    []time.Duration // the deadline each answers, after the claim
	}{
		{name: "no task timeout", beats: []time.Duration{8 * time.Second, 16 * time.Second, 25 * time.Second}, want: []time.Duration{18 * time.Second, 26 * time.Second, 35 * time.Second}},
		{name: "capped by the task timeout", timeout: 25 * time.Second, beats: []time.Duration{8 * time.Second, 16 * time.Second, 20 * time.Second}, want: []time.Duration{18 * time.Second, 25 * time.Second, 25 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t)
			now := base
			f.w.Now = func() time.Time { return now }
			ids := make(chan string, 1)
			if err := f.w.Actions.Register("test.beat", action.Func(func(_ context.Context, in action.Input) (any, error) {
				ids <- in.CallbackID
				return nil, &action.Pending{Heartbeat: hb}
			})); err != nil {
				t.Fatal(err)
			}
			m := f.unit(t, "test.beat", `{}`, func(u *record.Unit) { u.Timeout = tt.timeout })
			f.head(t, m, record.ExecRunning)
			if err := f.w.Handle(ctx, m, nil); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			id := <-ids
			u := f.get(t, m)
			if !u.Awaiting() || u.AwaitHeartbeat() != hb || !u.Due.Equal(base.Add(hb)) {
				t.Fatalf("unit %s %s due %v, want awaiting with a %v heartbeat, due %v", u.State, u.Result, u.Due, hb, base.Add(hb))
			}
			for i, at := range tt.beats {
				now = base.Add(at)
				due, err := f.w.Heartbeat(ctx, id)
				if err != nil {
					t.Fatalf("heartbeat at +%v: %v", at, err)
				}
				want := base.Add(tt.want[i])
				if !due.Equal(want) || !f.get(t, m).Due.Equal(want) {
					t.Fatalf("heartbeat at +%v: deadline %v, unit due %v; want %v", at, due, f.get(t, m).Due, want)
				}
			}
			late := f.get(t, m)
			now = late.Due
			if _, err := f.w.Heartbeat(ctx, id); !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "after attempt 1's deadline") {
				t.Fatalf("heartbeat at the deadline: %v, want ErrStale", err)
			}
			if u := f.get(t, m); !u.Due.Equal(late.Due) || !u.Awaiting() {
				t.Fatalf("a late heartbeat changed the unit: %s due %v", u.State, u.Due)
			}
			now = late.Due.Add(-time.Second)
			if err := f.w.Complete(ctx, Completion{ID: id, Result: json.RawMessage(`1`)}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.w.Heartbeat(ctx, id); !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "ended already in SUCCESS") {
				t.Fatalf("heartbeat after the completion: %v, want ErrStale", err)
			}
			if evs := f.q.events(t); len(evs) != 1 {
				t.Errorf("events %+v, want only the completion's attempt-done event", evs)
			}
		})
	}
	t.Run("no heartbeat asked", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		f, ids := asyncFixture(t)
		m := f.unit(t, "test.async", `{}`, func(u *record.Unit) { u.Timeout = time.Hour })
		f.head(t, m, record.ExecRunning)
		if err := f.w.Handle(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
		id := <-ids
		before := f.get(t, m)
		due, err := f.w.Heartbeat(ctx, id)
		if err != nil || !due.Equal(before.Due) {
			t.Fatalf("heartbeat: %v, %v; want the task timeout's deadline %v", due, err, before.Due)
		}
		if after := f.get(t, m); !after.Due.Equal(before.Due) {
			t.Errorf("due moved from %v to %v", before.Due, after.Due)
		}
	})
	t.Run("before the wait is recorded", func(t *testing.T) {
		t.Parallel()
		f, _ := asyncFixture(t)
		m := f.unit(t, "test.async", `{}`, func(u *record.Unit) { u.State, u.Due = record.Running, time.Now().Add(time.Minute) })
		f.head(t, m, record.ExecRunning)
		due, err := f.w.Heartbeat(context.Background(), record.CallbackID(m.Key(), 1, "f1"))
		if err != nil || !due.IsZero() {
			t.Fatalf("heartbeat: %v, %v; want accepted, no deadline", due, err)
		}
	})
	t.Run("stale", func(t *testing.T) {
		t.Parallel()
		f, _ := asyncFixture(t)
		m := f.unit(t, "test.async", `{}`, func(u *record.Unit) { u.State, u.Attempt = record.Running, 2 })
		f.head(t, m, record.ExecRunning)
		if _, err := f.w.Heartbeat(context.Background(), record.CallbackID(m.Key(), 1, "f1")); !errors.Is(err, ErrStale) {
			t.Fatalf("heartbeat for attempt 1 when 2 runs: %v, want ErrStale", err)
		}
		if _, err := f.w.Heartbeat(context.Background(), "not-an-id"); !errors.Is(err, record.ErrBadCallbackID) {
			t.Fatalf("heartbeat with a malformed id: %v", err)
		}
	})
}
