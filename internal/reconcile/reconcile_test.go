package reconcile_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/engine"
	"github.com/borawf/bora/internal/queue"
	qmem "github.com/borawf/bora/internal/queue/memory"
	"github.com/borawf/bora/internal/reconcile"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
	"github.com/borawf/bora/internal/store"
	smem "github.com/borawf/bora/internal/store/memory"
)

// fixture is an execution of a five-item with-items task, started by the
// real runtime over in-memory adapters, with a clock the test moves.
type fixture struct {
	now           time.Time
	st            *smem.Store
	tasks, events *qmem.Queue
	rt            *runtime.Runtime
	rc            *reconcile.Reconciler
	id            string
}

// newFixture submits a with-items of 5 items; with start, its execution is
// started (its first step taken by the submission); without, the start is
// left to the engine, its start event queued.
func newFixture(t *testing.T, start bool) *fixture {
	t.Helper()
	f := &fixture{now: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), st: smem.New()}
	clock := func() time.Time { return f.now }
	f.tasks = qmem.New(qmem.Options{Now: clock})
	f.events = qmem.New(qmem.Options{FIFO: true, Now: clock})
	f.rt = &runtime.Runtime{Store: f.st, Events: f.events, Tasks: f.tasks, Timers: qmem.New(qmem.Options{Now: clock}), Now: clock}
	if err := f.rt.Validate(); err != nil {
		t.Fatal(err)
	}
	f.rc = &reconcile.Reconciler{Store: f.st, Tasks: f.tasks, Events: f.events, Now: clock}
	if !start {
		// The request cannot commit the first step it takes: it leaves
		// the step to the engine, sending the start event.
		f.rt.Store = commitsDown{f.st}
		defer func() { f.rt.Store = f.st }()
	}
	head, err := f.rt.Submit(t.Context(), runtime.Submission{File: "wf.yaml", Source: []byte(`
version: '2.0'
wf:
  tasks:
    each:
      with-items: i in <% range(5) %>
      action: std.echo output=<% $.i %>
`)})
	if err != nil {
		t.Fatal(err)
	}
	f.id = head.ID
	if start {
		f.handleEvents(t)
	}
	f.drain(t, f.tasks)
	return f
}

// commitsDown is a store whose commits fail.
type commitsDown struct{ store.Store }

func (commitsDown) CommitExecution(context.Context, *record.Execution) error {
	return errors.New("commit refused")
}

// handleEvents applies every queued engine event.
func (f *fixture) handleEvents(t *testing.T) {
	t.Helper()
	for {
		msgs, _ := f.events.Receive(t.Context(), 10, 0, time.Minute)
		if len(msgs) == 0 {
			return
		}
		for _, m := range msgs {
			var ev record.Event
			if err := json.Unmarshal(m.Body, &ev); err != nil {
				t.Fatal(err)
			}
			if err := f.rt.HandleEvent(t.Context(), ev); err != nil {
				t.Fatal(err)
			}
			_ = f.events.Delete(t.Context(), m.Handle)
		}
	}
}

// drain takes every message out of q and returns their bodies.
func (f *fixture) drain(t *testing.T, q *qmem.Queue) []string {
	t.Helper()
	var got []string
	for {
		msgs, _ := q.Receive(t.Context(), 10, 0, time.Minute)
		if len(msgs) == 0 {
			return got
		}
		for _, m := range msgs {
			got = append(got, string(m.Body))
			_ = q.Delete(t.Context(), m.Handle)
		}
	}
}

func (f *fixture) key(item int) record.UnitKey {
	return record.UnitKey{ExecID: f.id, Task: "each#1", Item: item}
}

// move sets a unit's state and due time, whatever it holds.
func (f *fixture) move(t *testing.T, item int, c record.UnitChange) {
	t.Helper()
	if _, err := f.st.UpdateUnit(t.Context(), f.key(item), record.Expect{}, c); err != nil {
		t.Fatal(err)
	}
}

func TestSweep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, true)
	head, err := f.st.GetExecution(ctx, f.id)
	if err != nil {
		t.Fatal(err)
	}
	if want := f.now.Add(engine.ResendAfter); !head.Due.Equal(want) {
		t.Fatalf("head Due %v after the start, want %v (the units' resend time)", head.Due, want)
	}
	// Nothing is due yet: the sweep reads no unit.
	if rep, err := f.rc.Sweep(ctx); err != nil || rep != (reconcile.Report{}) {
		t.Fatalf("sweep before anything is due: %+v, %v", rep, err)
	}

	f.now = f.now.Add(engine.ResendAfter + time.Second)
	f.move(t, 1, record.UnitChange{State: record.Delayed, Due: f.now.Add(-time.Second)})
	f.move(t, 2, record.UnitChange{State: record.Running, Due: f.now.Add(-time.Second)})
	f.move(t, 3, record.UnitChange{State: record.Running, Due: f.now.Add(time.Minute)})
	f.move(t, 4, record.UnitChange{State: record.Success, Result: []byte(`4`), Finished: f.now})
	rep, err := f.rc.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(reconcile.Report{Looked: 1, Resent: 1, Fired: 1, Expired: 1}, rep); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}

	// The overdue SCHEDULED unit's task message is sent again, as it was.
	u0, _ := f.st.GetUnit(ctx, f.key(0))
	want, _ := json.Marshal(record.TaskMessage{ExecID: f.id, Task: "each#1", Item: 0, Attempt: 1, Fence: u0.Fence, Action: "std.echo"})
	if diff := cmp.Diff([]string{string(want)}, f.drain(t, f.tasks)); diff != "" {
		t.Errorf("task messages (-want +got):\n%s", diff)
	}
	// The DELAYED unit's timer fires; the lost attempt ends and is
	// announced with the same events the engine and the worker use.
	var got []string
	for _, body := range f.drain(t, f.events) {
		var ev record.Event
		_ = json.Unmarshal([]byte(body), &ev)
		got = append(got, ev.ID)
	}
	u1, _ := f.st.GetUnit(ctx, f.key(1))
	wantEvents := []string{record.TimerEvent(f.key(1), 1, u1.Fence).ID, record.DoneEvent(f.key(2), 1, unitFence(t, f, 2)).ID}
	if diff := cmp.Diff(wantEvents, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	u2, _ := f.st.GetUnit(ctx, f.key(2))
	if u2.State != record.Error || !record.IsLost(u2.Error) || !u2.Due.IsZero() {
		t.Errorf("expired unit: %s %s due %v; want ERROR, lost, no due", u2.State, u2.Error, u2.Due)
	}
	if u3, _ := f.st.GetUnit(ctx, f.key(3)); u3.State != record.Running {
		t.Errorf("unit 3 is %s, but its lease had not expired", u3.State)
	}
	// The next look is when the next pending unit is due: unit 3's lease.
	head, _ = f.st.GetExecution(ctx, f.id)
	if want := f.now.Add(time.Minute); !head.Due.Equal(want) {
		t.Errorf("head Due %v after the look, want %v", head.Due, want)
	}

	// A second sweep right after looks at nothing.
	if rep, err := f.rc.Sweep(ctx); err != nil || rep != (reconcile.Report{}) {
		t.Errorf("second sweep: %+v, %v; want nothing done", rep, err)
	}
	// Once the re-sent units' pause has passed, those still unclaimed are
	// tried again, unit 3's lease has expired, and units 2 and 4, which
	// ended minutes ago without the engine applying their end (this test
	// drained their events), are announced again.
	f.now = f.now.Add(6 * time.Minute)
	rep, _ = f.rc.Sweep(ctx)
	if diff := cmp.Diff(reconcile.Report{Looked: 1, Resent: 1, Fired: 1, Expired: 1, Announced: 2}, rep); diff != "" {
		t.Errorf("sweep after the pause (-want +got):\n%s", diff)
	}
}

func unitFence(t *testing.T, f *fixture, item int) string {
	t.Helper()
	u, err := f.st.GetUnit(t.Context(), f.key(item))
	if err != nil {
		t.Fatal(err)
	}
	return u.Fence
}

// TestSweepStartsLostStart: an execution whose start event was lost is
// started when its Due comes; a final one only leaves the index.
func TestSweepStartsLostStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, false)
	f.drain(t, f.events) // the start event is lost
	f.now = f.now.Add(engine.ResendAfter)
	rep, err := f.rc.Sweep(ctx)
	if err != nil || rep != (reconcile.Report{Looked: 1, Started: 1}) {
		t.Fatalf("sweep: %+v, %v; want the execution started", rep, err)
	}
	if got, want := f.drain(t, f.events), mustJSON(engine.StartEvent(f.id)); len(got) != 1 || got[0] != want {
		t.Errorf("events %v, want the start event", got)
	}

	done := &record.Execution{ID: "done", State: record.ExecSuccess, Due: f.now.Add(-time.Second), CreatedAt: f.now, UpdatedAt: f.now}
	if err := f.st.CreateExecution(ctx, done); err != nil {
		t.Fatal(err)
	}
	if rep, err := f.rc.Sweep(ctx); err != nil || rep.Looked != 1 || rep.Started+rep.Resent+rep.Fired+rep.Expired != 0 {
		t.Errorf("sweep of a final execution: %+v, %v; want a look and nothing done", rep, err)
	}
	if e, _ := f.st.GetExecution(ctx, "done"); !e.Due.IsZero() {
		t.Errorf("final execution still due at %v", e.Due)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return string(b)
}

// TestSweepGoesOnPastFailures: a unit the store refuses to write (its lost
// attempt's error does not fit, say) does not stop the sweep: the other
// units of its execution and the other executions are healed, and the
// sweep reports what failed.
func TestSweepGoesOnPastFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, true)
	other, err := f.rt.Submit(ctx, runtime.Submission{File: "wf.yaml", Source: []byte("version: '2.0'\nwf:\n  tasks:\n    one:\n      action: std.noop\n")})
	if err != nil {
		t.Fatal(err)
	}
	f.handleEvents(t)
	f.drain(t, f.tasks)
	f.now = f.now.Add(engine.ResendAfter + time.Second)
	f.move(t, 1, record.UnitChange{State: record.Running, Due: f.now.Add(-time.Second)})
	f.move(t, 2, record.UnitChange{State: record.Running, Due: f.now.Add(-time.Second)})
	bad := f.key(1)
	f.rc.Store = &refusing{Store: f.st, key: bad}
	rep, err := f.rc.Sweep(ctx)
	if err == nil || !strings.Contains(err.Error(), bad.String()) {
		t.Errorf("sweep error = %v, want one naming %s", err, bad)
	}
	if rep.Looked != 2 || rep.Expired != 1 || rep.Resent < 3 {
		t.Errorf("report %+v: want both executions looked at, the other lost attempt ended, the overdue units resent", rep)
	}
	if u, _ := f.st.GetUnit(ctx, f.key(2)); u.State != record.Error {
		t.Errorf("unit 2 is %s, want its lost attempt ended", u.State)
	}
	if e, _ := f.st.GetExecution(ctx, other.ID); e.Due.IsZero() || !e.Due.After(f.now) {
		t.Errorf("the other execution's next look is %v, want it looked at and put off", e.Due)
	}
}

// refusing fails every write of one unit.
type refusing struct {
	store.Store
	key record.UnitKey
}

func (s *refusing) UpdateUnit(ctx context.Context, k record.UnitKey, x record.Expect, c record.UnitChange) (*record.Unit, error) {
	if k == s.key {
		return nil, &store.TooLargeError{What: "unit " + k.String(), Size: store.MaxItemBytes + 1, Limit: store.MaxItemBytes}
	}
	return s.Store.UpdateUnit(ctx, k, x, c)
}

// TestSweepWatchesADrainingTask: a task whose action runs when a `succeed`
// command ends its workflow goes on (engine keepRunning); if its worker is
// lost, the reconciler ends the attempt as it would in a running
// execution, and the task finishes.
func TestSweepWatchesADrainingTask(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := smem.New()
	tasks, events := qmem.New(qmem.Options{Now: clock}), qmem.New(qmem.Options{FIFO: true, Now: clock})
	rt := &runtime.Runtime{Store: st, Events: events, Tasks: tasks, Timers: qmem.New(qmem.Options{Now: clock}), Now: clock}
	if err := rt.Validate(); err != nil {
		t.Fatal(err)
	}
	rc := &reconcile.Reconciler{Store: st, Tasks: tasks, Events: events, Now: clock}
	f := &fixture{st: st, tasks: tasks, events: events, rt: rt}
	head, err := rt.Submit(ctx, runtime.Submission{File: "wf.yaml", Source: []byte(`
version: '2.0'
wf:
  tasks:
    slow:
      action: std.echo output=1
    fast:
      action: std.noop
      on-success: [succeed]
`)})
	if err != nil {
		t.Fatal(err)
	}
	f.handleEvents(t)
	f.drain(t, tasks)
	unit := func(task string) *record.Unit {
		u, err := st.GetUnit(ctx, record.UnitKey{ExecID: head.ID, Task: task, Item: 0})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	claim := func(task string, c record.UnitChange) {
		u := unit(task)
		if _, err := st.UpdateUnit(ctx, u.UnitKey, record.Expect{States: []record.State{u.State}, Attempt: u.Attempt, Fence: u.Fence}, c); err != nil {
			t.Fatal(err)
		}
	}
	// slow's worker claims it; fast runs and succeeds.
	claim("slow#1", record.UnitChange{State: record.Running, Due: now.Add(time.Minute), Started: now})
	claim("fast#1", record.UnitChange{State: record.Running, Due: now.Add(time.Minute), Started: now})
	claim("fast#1", record.UnitChange{State: record.Success, Result: []byte("null"), Finished: now})
	fast := unit("fast#1")
	ev := record.DoneEvent(fast.UnitKey, fast.Attempt, fast.Fence)
	body, _ := json.Marshal(ev)
	if err := events.Send(ctx, queue.Out{Body: body, Group: head.ID, DedupID: ev.ID}); err != nil {
		t.Fatal(err)
	}
	f.handleEvents(t)
	e, _ := st.GetExecution(ctx, head.ID)
	if e.State != record.ExecSuccess || e.Due.IsZero() {
		t.Fatalf("after succeed: %s due %v; want SUCCESS with a Due while slow drains", e.State, e.Due)
	}
	// slow's worker vanishes: once its lease and the Due have passed, the
	// sweep ends its attempt, and the engine finishes the task.
	now = now.Add(engine.ResendAfter + time.Minute)
	rep, err := rc.Sweep(ctx)
	if err != nil || rep.Expired != 1 {
		t.Fatalf("sweep: %+v, %v; want the lost attempt ended", rep, err)
	}
	f.handleEvents(t)
	slow, _ := st.GetTask(ctx, head.ID, "slow#1")
	e, _ = st.GetExecution(ctx, head.ID)
	if slow.State != record.Error || e.State != record.ExecSuccess || !e.Due.IsZero() {
		t.Errorf("after the sweep: slow %s, execution %s due %v; want ERROR, SUCCESS, no Due", slow.State, e.State, e.Due)
	}
}
