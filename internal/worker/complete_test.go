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
	for i := range 30 {
		f, ids := asyncFixture(t)
		// The worker's clock, not the action's: the action has the whole
		// timeout to return, and the deadline is passed by moving the
		// clock, however slowly the machine runs.
		clock := time.Now()
		f.w.Now = func() time.Time { return clock }
		m := f.unit(t, "test.async", `{}`, func(u *record.Unit) { u.Timeout = time.Hour })
		f.head(t, m, record.ExecRunning)
		if err := f.w.Handle(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
		id := <-ids
		u := f.get(t, m)
		if !u.Awaiting() {
			t.Fatalf("round %d: unit %s %s, want it awaiting its completion", i, u.State, u.Error)
		}
		clock = u.Due.Add(time.Second)
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
}
