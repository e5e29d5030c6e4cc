package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/borawf/bora/internal/engine"
	"github.com/borawf/bora/internal/queue"
	qmem "github.com/borawf/bora/internal/queue/memory"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
	"github.com/borawf/bora/internal/store"
	smem "github.com/borawf/bora/internal/store/memory"
)

type fixture struct {
	rt                    *runtime.Runtime
	events, tasks, timers *qmem.Queue
	now                   time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return f.now }
	f.events = qmem.New(qmem.Options{FIFO: true, Now: clock})
	f.tasks = qmem.New(qmem.Options{Now: clock})
	f.timers = qmem.New(qmem.Options{Now: clock})
	f.rt = &runtime.Runtime{Store: smem.New(), Events: f.events, Tasks: f.tasks, Timers: f.timers, Now: clock}
	if err := f.rt.Validate(); err != nil {
		t.Fatal(err)
	}
	return f
}

const hello = `version: '2.0'
hello:
  tasks:
    greet:
      action: std.echo output="hi"
`

// TestSubmitTakesTheFirstStep: a submission takes its execution's first
// step itself, as the engine would on the start event: the head is
// committed at version 1, the first task's message is sent, and the engine
// queue carries nothing. A start event delivered later (a retried request
// sends one) changes nothing and sends that step's message again.
func TestSubmitTakesTheFirstStep(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	head, err := f.rt.Submit(ctx, runtime.Submission{File: "hello.yaml", Source: []byte(hello)})
	if err != nil {
		t.Fatal(err)
	}
	if head.Version != 1 || head.State != record.ExecRunning {
		t.Errorf("submitted head: version %d %s, want version 1 RUNNING", head.Version, head.State)
	}
	if n, m := f.events.Len(), f.tasks.Len(); n != 0 || m != 1 {
		t.Fatalf("%d events and %d task messages sent, want the first task's message alone", n, m)
	}
	first := f.taskMessages(t)[0]
	if err := f.rt.HandleEvent(ctx, engine.StartEvent(head.ID)); err != nil {
		t.Fatal(err)
	}
	after, _ := f.rt.Store.GetExecution(ctx, head.ID)
	if after.Version != 1 {
		t.Errorf("a start event after the first step moved the head to version %d", after.Version)
	}
	if again := f.taskMessages(t); len(again) != 1 || again[0] != first {
		t.Errorf("the start event sent %v, want the first step's message %v again", again, first)
	}
}

// TestFirstStepLeftToTheEngine: a submission leaves the first step to the
// engine, sending the start event, when the step starts a sub-workflow or
// cannot be committed; one committed whose messages could not be sent has
// them sent by the engine on the start event.
func TestFirstStepLeftToTheEngine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("sub-workflow", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		head, err := f.rt.Submit(ctx, runtime.Submission{File: "nested.yaml", Source: []byte(nested), Workflow: "parent"})
		if err != nil {
			t.Fatal(err)
		}
		if ev, _ := f.oneEvent(t, "the start event"); ev != engine.StartEvent(head.ID) || head.Version != 0 {
			t.Errorf("got %+v and head version %d, want the start event and a head at version 0", ev, head.Version)
		}
	})
	// A request whose commit, or whose sends, fail: the start event comes,
	// and the engine, applying it, sends the first task's message.
	for _, tc := range []struct {
		name    string
		down    func(f *fixture) (up func())
		version int64 // the head's, as Submit returns it
	}{
		{"commit fails", func(f *fixture) func() {
			st := &commitsDown{Store: f.rt.Store, down: true}
			f.rt.Store = st
			return func() { st.down = false }
		}, 0},
		{"send fails", func(f *fixture) func() {
			q := &sendsDown{Queue: f.tasks, down: true}
			f.rt.Tasks = q
			return func() { q.down = false }
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			up := tc.down(f)
			head, err := f.rt.Submit(ctx, runtime.Submission{File: "hello.yaml", Source: []byte(hello)})
			if err != nil {
				t.Fatal(err)
			}
			up()
			ev, _ := f.oneEvent(t, "the start event")
			if ev != engine.StartEvent(head.ID) || head.Version != tc.version || f.tasks.Len() != 0 {
				t.Fatalf("got %+v, head version %d, %d task messages; want the start event alone and version %d", ev, head.Version, f.tasks.Len(), tc.version)
			}
			if err := f.rt.HandleEvent(ctx, ev); err != nil {
				t.Fatal(err)
			}
			if got := f.taskMessages(t); len(got) != 1 {
				t.Errorf("the engine sent %d task messages, want the first task's one", len(got))
			}
		})
	}
}

// TestStartComesFirst: an event of an execution whose start is not taken
// yet — a command sent while the request that created it was taking the
// first step, which it then left to the engine and failed to send the
// start event, is
// sent again behind the start event, and applied after it: a cancel
// cancels the first task, and a pause pauses it, to run on resume.
// Applied before the start, a cancel would leave the task the request
// wrote SCHEDULED in a cancelled execution, and a pause an execution whose
// start the engine then refuses (it is no longer at version 0). The start
// is not taken by the command's handler: should that handler stop after
// the start's commit, the command's redelivery would not send the start's
// messages again.
func TestStartComesFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	unstarted := func(t *testing.T) (*fixture, *record.Execution) {
		f := newFixture(t)
		st := &commitsDown{Store: f.rt.Store, down: true}
		q := &sendsDown{Queue: f.events, down: true}
		f.rt.Store, f.rt.Events = st, q
		if _, err := f.rt.Submit(ctx, runtime.Submission{ID: "x", File: "hello.yaml", Source: []byte(hello)}); err == nil {
			t.Fatal("Submit with commits and events down succeeded")
		}
		st.down, q.down = false, false
		head, err := f.rt.Store.GetExecution(ctx, "x")
		if err != nil || head.Version != 0 || f.events.Len() != 0 {
			t.Fatalf("after the failed request: %+v, %v, %d events; want a head at version 0 and no event", head, err, f.events.Len())
		}
		return f, head
	}
	// early sends op to an unstarted execution, and applies what follows:
	// the start, then op. It returns the first task's unit.
	early := func(t *testing.T, op string) (*fixture, *record.Execution, record.UnitKey) {
		f, head := unstarted(t)
		if err := f.rt.HandleEvent(ctx, engine.CommandEvent(head.ID, op, record.Command{}, "n")); err != nil {
			t.Fatal(err)
		}
		if e, _ := f.rt.Store.GetExecution(ctx, head.ID); e.Version != 0 {
			t.Fatalf("the command's handler moved the head to version %d, want it sent behind the start", e.Version)
		}
		f.drive(t)
		return f, head, record.UnitKey{ExecID: head.ID, Task: "greet#1"}
	}
	t.Run("cancel", func(t *testing.T) {
		t.Parallel()
		f, head, greet := early(t, record.OpCancel)
		e, _ := f.rt.Store.GetExecution(ctx, head.ID)
		u, err := f.rt.Store.GetUnit(ctx, greet)
		if err != nil || e.State != record.ExecCancelled || u.State != record.Cancelled {
			t.Errorf("execution %s, its first task's unit %+v (%v); want both cancelled", e.State, u, err)
		}
	})
	t.Run("pause", func(t *testing.T) {
		t.Parallel()
		f, head, greet := early(t, record.OpPause)
		if u, err := f.rt.Store.GetUnit(ctx, greet); err != nil || u.State != record.Paused {
			t.Fatalf("first task's unit %+v (%v), want PAUSED", u, err)
		}
		_ = f.taskMessages(t) // the start's message, stale once paused
		if err := f.rt.HandleEvent(ctx, engine.CommandEvent(head.ID, record.OpResume, record.Command{}, "n")); err != nil {
			t.Fatal(err)
		}
		e, _ := f.rt.Store.GetExecution(ctx, head.ID)
		if got := f.taskMessages(t); e.State != record.ExecRunning || len(got) != 1 || got[0].Task != greet.Task {
			t.Errorf("resumed: %s with task messages %+v, want RUNNING and greet's message", e.State, got)
		}
	})
}

// taskMessages receives and deletes every message of the task queue.
func (f *fixture) taskMessages(t *testing.T) []record.TaskMessage {
	t.Helper()
	ctx := context.Background()
	msgs, err := f.tasks.Receive(ctx, 10, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]record.TaskMessage, len(msgs))
	for i, m := range msgs {
		if err := json.Unmarshal(m.Body, &out[i]); err != nil {
			t.Fatal(err)
		}
		if err := f.tasks.Delete(ctx, m.Handle); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestSubmitInvalid(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, err := f.rt.Submit(context.Background(), runtime.Submission{File: "bad.yaml", Source: []byte("version: '2.0'\nwf:\n  tasks:\n    a:\n      on-success: missing\n")})
	var inv *runtime.InvalidError
	if !errors.As(err, &inv) || !strings.Contains(err.Error(), "bad.yaml:5:") {
		t.Fatalf("error = %v, want an InvalidError with the file's position", err)
	}
}

func TestTimerRedelaysUntilDue(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	ev := record.Event{ID: "t1", Kind: record.EventTimer, ExecID: "x"}
	// An hour away: it goes back to the timer queue, not to the engine.
	if err := f.rt.HandleTimer(ctx, record.TimerMessage{Due: f.now.Add(time.Hour), Event: ev}); err != nil {
		t.Fatal(err)
	}
	if f.events.Len() != 0 || f.timers.Len() != 1 {
		t.Fatalf("events %d, timers %d; want 0, 1", f.events.Len(), f.timers.Len())
	}
	// The queue holds it for at most its maximum delay.
	f.now = f.now.Add(queue.MaxDelay - time.Second)
	if msgs, _ := f.timers.Receive(ctx, 1, 0, time.Minute); len(msgs) != 0 {
		t.Fatal("timer visible before the queue's delay ran out")
	}
	// Due: it becomes the event.
	if err := f.rt.HandleTimer(ctx, record.TimerMessage{Due: f.now, Event: ev}); err != nil {
		t.Fatal(err)
	}
	if f.events.Len() != 1 {
		t.Errorf("engine queue holds %d events, want 1", f.events.Len())
	}
}

func TestPoisonedEventFailsItsExecution(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	head, err := f.rt.Submit(ctx, runtime.Submission{File: "hello.yaml", Source: []byte(hello)})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(record.Event{ID: "e1", Kind: record.EventTimer, ExecID: head.ID})
	if err := f.rt.Poisoned(ctx, body, 5, errors.New("boom")); err != nil {
		t.Fatal(err)
	}
	e, err := f.rt.Store.GetExecution(ctx, head.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e.State != record.ExecError || !strings.Contains(e.StateInfo, "e1") || !strings.Contains(e.StateInfo, "boom") {
		t.Errorf("execution %s: %q; want ERROR naming the event and the cause", e.State, e.StateInfo)
	}
	// A final execution is left alone.
	if err := f.rt.Poisoned(ctx, body, 5, errors.New("again")); err != nil {
		t.Fatal(err)
	}
	if e2, _ := f.rt.Store.GetExecution(ctx, head.ID); e2.Version != e.Version {
		t.Error("a second poisoned event rewrote a final execution")
	}
}

func TestSubmitReverseNeedsTarget(t *testing.T) {
	t.Parallel()
	const rev = `version: '2.0'
rev:
  type: reverse
  tasks:
    a:
      action: std.noop
    b:
      action: std.noop
      requires: [a]
`
	for _, tt := range []struct {
		name, params, want string
	}{
		{"none", ``, "needs a task to reach"},
		{"unknown", `{"task_name": "zz"}`, `has no task "zz"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			_, err := f.rt.Submit(context.Background(), runtime.Submission{File: "rev.yaml", Source: []byte(rev), Params: json.RawMessage(tt.params)})
			var inv *runtime.InvalidError
			if !errors.As(err, &inv) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "a, b") {
				t.Fatalf("error = %v, want an InvalidError saying %q and listing the tasks", err, tt.want)
			}
		})
	}
}

func TestSubmitRetriedWithSameID(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	sub := runtime.Submission{ID: "fixed", File: "hello.yaml", Source: []byte(hello)}
	first, err := f.rt.Submit(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.rt.Submit(ctx, sub)
	if err != nil {
		t.Fatalf("retried submission: %v", err)
	}
	if again.ID != first.ID || again.Version != first.Version {
		t.Errorf("retry gave %s v%d, want the same execution %s v%d", again.ID, again.Version, first.ID, first.Version)
	}
	// The retry sent the start event, which the engine meets applied: it
	// only sends the first step's messages again.
	if n := f.events.Len(); n != 1 {
		t.Errorf("engine queue holds %d events, want the start event", n)
	}
	// Another workflow under a taken id is refused.
	other := runtime.Submission{ID: "fixed", File: "other.yaml", Source: []byte(strings.Replace(hello, "hello:", "other:", 1))}
	var inv *runtime.InvalidError
	if _, err := f.rt.Submit(ctx, other); !errors.As(err, &inv) {
		t.Errorf("submission of another workflow under a taken id: %v, want an InvalidError", err)
	}
}

// drive applies the engine events in the queue until none is left, and
// runs each task message as a worker would, with echo's result.
func (f *fixture) drive(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for range 100 {
		msgs, err := f.events.Receive(ctx, 10, 0, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			return
		}
		for _, m := range msgs {
			var ev record.Event
			if err := json.Unmarshal(m.Body, &ev); err != nil {
				t.Fatal(err)
			}
			if err := f.rt.HandleEvent(ctx, ev); err != nil {
				t.Fatalf("HandleEvent(%s) = %v, want the event handled", ev.ID, err)
			}
			if err := f.events.Delete(ctx, m.Handle); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Fatal("events did not settle")
}

// finishUnit records an outcome on a unit as a worker would, and returns
// the attempt-done event.
func (f *fixture) finishUnit(t *testing.T, k record.UnitKey, result string) record.Event {
	t.Helper()
	ctx := context.Background()
	u, err := f.rt.Store.GetUnit(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.rt.Store.UpdateUnit(ctx, k, record.Expect{States: []record.State{record.Scheduled}, Attempt: u.Attempt, Fence: u.Fence},
		record.UnitChange{State: record.Success, Result: []byte(result), Finished: f.now}); err != nil {
		t.Fatal(err)
	}
	return record.DoneEvent(k, u.Attempt, u.Fence)
}

// TestPermanentFailureFailsAtOnce checks that an event the engine can
// never apply fails its execution on its first delivery, with a state_info
// that says why, instead of being retried until it is dead-lettered.
func TestPermanentFailureFailsAtOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		result string
		store  func(*smem.Store) store.Store
		want   []string
	}{
		{
			name:   "a stored result that is not JSON",
			result: `"fine"`,
			store: func(s *smem.Store) store.Store {
				return &damaged{Store: s}
			},
			want: []string{"could not be applied", "result of task greet#1", "not valid JSON"},
		},
		{
			name:   "a record over the store's size limit",
			result: `"fine"`,
			store: func(s *smem.Store) store.Store {
				return &tooLarge{Store: s}
			},
			want: []string{"could not be applied", "over the", "item limit"},
		},
		{
			name:   "a panic under the engine",
			result: `"fine"`,
			store: func(s *smem.Store) store.Store {
				return &panicky{Store: s}
			},
			want: []string{"could not be applied", "internal error in the engine: boom"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			if tt.store != nil {
				f.rt.Store = tt.store(f.rt.Store.(*smem.Store))
			}
			ctx := context.Background()
			head, err := f.rt.Submit(ctx, runtime.Submission{File: "publish.yaml", Source: []byte(publishing)})
			if err != nil {
				t.Fatal(err)
			}
			f.drive(t)
			done := f.finishUnit(t, record.UnitKey{ExecID: head.ID, Task: "greet#1"}, tt.result)
			if err := f.rt.HandleEvent(ctx, done); err != nil {
				t.Fatalf("HandleEvent = %v, want the event handled by failing its execution", err)
			}
			e, err := f.rt.Store.GetExecution(ctx, head.ID)
			if err != nil {
				t.Fatal(err)
			}
			if e.State != record.ExecError {
				t.Fatalf("execution is %s (%s), want ERROR", e.State, e.StateInfo)
			}
			for _, w := range append(tt.want, done.ID) {
				if !strings.Contains(e.StateInfo, w) {
					t.Errorf("state_info %q does not say %q", e.StateInfo, w)
				}
			}
		})
	}
}

// publishing reads its task's result to publish it.
const publishing = `version: '2.0'
publishing:
  tasks:
    greet:
      action: std.echo output="hi"
      publish:
        said: <% task().result %>
`

// tooLarge refuses to commit a SUCCESS head, as a store refuses an item
// over its limit.
type tooLarge struct{ store.Store }

func (s *tooLarge) CommitExecution(ctx context.Context, e *record.Execution) error {
	if e.State == record.ExecSuccess {
		return &store.TooLargeError{What: "execution " + e.ID, Size: store.MaxItemBytes + 1, Limit: store.MaxItemBytes}
	}
	return s.Store.CommitExecution(ctx, e)
}

// damaged returns finished units with a result that is not JSON, as a
// damaged store would.
type damaged struct{ store.Store }

func (s *damaged) GetTask(ctx context.Context, execID, key string) (*record.Task, error) {
	t, err := s.Store.GetTask(ctx, execID, key)
	if err == nil && t.Unit != nil && t.Unit.State == record.Success {
		t.Unit.Result = json.RawMessage(`{"broken`)
	}
	return t, err
}

// brokenHead returns the head of one execution with engine state that is
// not JSON.
type brokenHead struct {
	store.Store
	id string
}

func (s *brokenHead) GetExecution(ctx context.Context, id string) (*record.Execution, error) {
	e, err := s.Store.GetExecution(ctx, id)
	if err == nil && id == s.id && !e.State.Terminal() {
		e.Engine = json.RawMessage(`{"run": "not a list of runs"}`)
	}
	return e, err
}

// panicky panics when the engine reads a finished unit.
type panicky struct{ store.Store }

func (s *panicky) GetTask(ctx context.Context, execID, key string) (*record.Task, error) {
	t, err := s.Store.GetTask(ctx, execID, key)
	if err == nil && t.Unit != nil && t.Unit.State == record.Success {
		panic("boom")
	}
	return t, err
}

// TestFailedChildTellsItsParent checks that a sub-workflow failed by the
// runtime, even one whose head the engine cannot step, tells its parent.
func TestFailedChildTellsItsParent(t *testing.T) {
	t.Parallel()
	for _, broken := range []bool{false, true} {
		t.Run(fmt.Sprintf("head broken %v", broken), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			ctx := context.Background()
			head, childID := f.startNested(t)
			child, err := f.rt.Store.GetExecution(ctx, childID)
			if err != nil {
				t.Fatalf("child: %v", err)
			}
			if broken {
				f.rt.Store = &brokenHead{Store: f.rt.Store, id: child.ID}
			}
			if err := f.rt.FailExecution(ctx, childID, "it could not go on"); err != nil {
				t.Fatal(err)
			}
			f.drive(t)
			c, _ := f.rt.Store.GetExecution(ctx, childID)
			p, _ := f.rt.Store.GetExecution(ctx, head.ID)
			if c.State != record.ExecError || c.StateInfo != "it could not go on" {
				t.Errorf("child is %s %q, want ERROR with the reason", c.State, c.StateInfo)
			}
			if p.State != record.ExecError || !strings.Contains(p.StateInfo, "it could not go on") {
				t.Errorf("parent is %s %q, want ERROR naming its child's reason", p.State, p.StateInfo)
			}
		})
	}
}

// TestChildOfEndedParentDoesNotStart: a sub-workflow whose parent ended
// before the child's start event was applied (a cancel that overtook the
// start) starts nothing: it ends CANCELLED, so that a cancel stops a tree
// of sub-workflows from growing instead of chasing it.
func TestChildOfEndedParentDoesNotStart(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	head, err := f.rt.Submit(ctx, runtime.Submission{File: "nested.yaml", Source: []byte(nested), Workflow: "parent"})
	if err != nil {
		t.Fatal(err)
	}
	// Apply the parent's start, keep the child's start event back, and
	// cancel the parent.
	msgs, _ := f.events.Receive(ctx, 10, 0, time.Minute)
	for _, m := range msgs {
		var ev record.Event
		_ = json.Unmarshal(m.Body, &ev)
		if err := f.rt.HandleEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
		_ = f.events.Delete(ctx, m.Handle)
	}
	childID := engine.ChildID(head.ID, "call#1", 0, 1)
	msgs, _ = f.events.Receive(ctx, 10, 0, time.Minute)
	if len(msgs) != 1 {
		t.Fatalf("%d events after the parent's start, want the child's start", len(msgs))
	}
	cancel := engine.CommandEvent(head.ID, record.OpCancel, record.Command{}, "n")
	if err := f.rt.HandleEvent(ctx, cancel); err != nil {
		t.Fatal(err)
	}
	if err := f.rt.HandleEvent(ctx, engine.StartEvent(childID)); err != nil {
		t.Fatal(err)
	}
	c, err := f.rt.Store.GetExecution(ctx, childID)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != record.ExecCancelled {
		t.Errorf("child is %s (%s), want CANCELLED", c.State, c.StateInfo)
	}
	if tasks, _ := f.rt.Store.ListTasks(ctx, childID); len(tasks) != 0 {
		t.Errorf("child started %d tasks, want none", len(tasks))
	}
}

// TestChildStartCutShortAfterItsWrites: a sub-workflow whose start step
// made its writes and was cut short before its commit, and whose parent
// then ended, takes its start when the start event comes again — the
// cancel the parent sent it follows and ends the task the start made.
// Turned into a cancel instead, the start would leave that task SCHEDULED
// in a cancelled execution.
func TestChildStartCutShortAfterItsWrites(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	head, err := f.rt.Submit(ctx, runtime.Submission{File: "nested.yaml", Source: []byte(nested), Workflow: "parent"})
	if err != nil {
		t.Fatal(err)
	}
	ev, m := f.oneEvent(t, "the parent's start")
	if err := f.rt.HandleEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	_ = f.events.Delete(ctx, m.Handle)
	childID := engine.ChildID(head.ID, "call#1", 0, 1)
	ev, m = f.oneEvent(t, "the child's start")
	st := &commitsDown{Store: f.rt.Store, down: true}
	f.rt.Store = st
	if err := f.rt.HandleEvent(ctx, ev); err == nil {
		t.Fatal("the child's start committed with commits down")
	}
	st.down = false
	_ = f.events.ChangeVisibility(ctx, m.Handle, 0) // delivered again
	if err := f.rt.HandleEvent(ctx, engine.CommandEvent(head.ID, record.OpCancel, record.Command{}, "n")); err != nil {
		t.Fatal(err)
	}
	f.drive(t)
	c, _ := f.rt.Store.GetExecution(ctx, childID)
	u, err := f.rt.Store.GetUnit(ctx, record.UnitKey{ExecID: childID, Task: "work#1"})
	if err != nil || c.State != record.ExecCancelled || u.State != record.Cancelled {
		t.Errorf("child %s, its task's unit %v (%v); want both cancelled", c.State, u.State, err)
	}
}

// chained publishes what each of its two tasks returns, so that the engine
// writes each task's final fields when it applies the task's outcome.
const chained = `version: '2.0'
chained:
  tasks:
    a:
      action: std.echo output=1
      publish: {a: <% task().result %>}
      on-success: b
    b:
      action: std.echo output=2
      publish: {b: <% task().result %>}
`

// commitsDown refuses every commit while down is set, as a store that
// stopped answering between a step's writes and its commit.
type commitsDown struct {
	store.Store
	down bool
}

func (s *commitsDown) CommitExecution(ctx context.Context, e *record.Execution) error {
	if s.down {
		return errors.New("the store did not answer")
	}
	return s.Store.CommitExecution(ctx, e)
}

// TestDeadLetterFailsThroughTheGroup: an event taken by the engine queue's
// dead-letter queue leaves its execution's group, which goes on with the
// events behind it. The dead-letter handler runs beside the group, so it
// takes no step of its own: it sends the fail command into the group, where
// it is applied in its turn — after events sent before it, whose steps must
// not meet writes of a fail step that never committed (a task finished
// CANCELLED in an execution that then succeeds).
func TestDeadLetterFailsThroughTheGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// groupFirst applies a's outcome before the fail command: the
		// group's events were there first.
		groupFirst bool
		want       record.ExecState
		wantA      record.State
	}{
		{name: "the group's events come first", groupFirst: true, want: record.ExecSuccess, wantA: record.Success},
		{name: "the fail command comes first", want: record.ExecError, wantA: record.Cancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			st := &commitsDown{Store: f.rt.Store}
			f.rt.Store = st
			ctx := context.Background()
			head, err := f.rt.Submit(ctx, runtime.Submission{File: "chained.yaml", Source: []byte(chained)})
			if err != nil {
				t.Fatal(err)
			}
			f.drive(t)
			// a's worker records its outcome; its attempt-done event is
			// not applied yet when a pause command of the execution,
			// which killed every process that took it, is dead-lettered.
			doneA := f.finishUnit(t, record.UnitKey{ExecID: head.ID, Task: "a#1"}, "1")
			pause := engine.CommandEvent(head.ID, record.OpPause, record.Command{}, "n")
			body, _ := json.Marshal(pause)
			st.down = true
			first := f.rt.DeadLettered(ctx, body, 10)
			st.down = false
			if tt.groupFirst {
				if err := f.rt.HandleEvent(ctx, doneA); err != nil {
					t.Fatal(err)
				}
				doneB := f.finishUnit(t, record.UnitKey{ExecID: head.ID, Task: "b#1"}, "2")
				if err := f.rt.HandleEvent(ctx, doneB); err != nil {
					t.Fatal(err)
				}
			}
			if first != nil {
				// Not handled: the dead letter is delivered again.
				if err := f.rt.DeadLettered(ctx, body, 10); err != nil {
					t.Fatal(err)
				}
			}
			f.drive(t)
			if err := f.rt.HandleEvent(ctx, doneA); err != nil {
				t.Fatal(err)
			}
			e, err := f.rt.Store.GetExecution(ctx, head.ID)
			if err != nil {
				t.Fatal(err)
			}
			if e.State != tt.want {
				t.Fatalf("execution is %s (%s), want %s", e.State, e.StateInfo, tt.want)
			}
			if e.State == record.ExecError {
				for _, w := range []string{"engine event " + pause.ID + " ", "dead-lettered after 10 deliveries"} {
					if !strings.Contains(e.StateInfo, w) {
						t.Errorf("state_info %q does not say %q", e.StateInfo, w)
					}
				}
			}
			a, err := f.rt.Store.GetTask(ctx, head.ID, "a#1")
			if err != nil {
				t.Fatal(err)
			}
			if a.State != tt.wantA {
				t.Errorf("task a#1 is %s (%s) in a %s execution, want %s", a.State, a.StateInfo, e.State, tt.wantA)
			}
		})
	}
}

// TestDeadLetteredFailCommandWritesTheHead: the fail command the
// dead-letter handler sent is itself dead-lettered only when the engine
// cannot take it at all; then the head alone is written ERROR with the
// command's reason, and nothing more is sent.
func TestDeadLetteredFailCommandWritesTheHead(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	head, err := f.rt.Submit(ctx, runtime.Submission{File: "chained.yaml", Source: []byte(chained)})
	if err != nil {
		t.Fatal(err)
	}
	f.drive(t)
	pause, _ := json.Marshal(engine.CommandEvent(head.ID, record.OpPause, record.Command{}, "n"))
	if err := f.rt.DeadLettered(ctx, pause, 10); err != nil {
		t.Fatal(err)
	}
	fail, msg := f.oneEvent(t, "the fail command")
	if fail.Command == nil || fail.Command.Op != record.OpFail || msg.Group != head.ID {
		t.Fatalf("sent %s in group %q, want a fail command in the execution's group", msg.Body, msg.Group)
	}
	if err := f.rt.DeadLettered(ctx, msg.Body, 10); err != nil {
		t.Fatal(err)
	}
	e, err := f.rt.Store.GetExecution(ctx, head.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e.State != record.ExecError || e.StateInfo != fail.Command.Msg {
		t.Errorf("execution is %s %q, want ERROR %q", e.State, e.StateInfo, fail.Command.Msg)
	}
	if n := f.events.Len(); n != 1 {
		t.Errorf("engine queue holds %d events, want only the fail command", n)
	}
}

// sendsDown refuses every send while down is set.
type sendsDown struct {
	queue.Queue
	down bool
}

func (q *sendsDown) Send(ctx context.Context, out ...queue.Out) error {
	if q.down {
		return errors.New("the queue did not answer")
	}
	return q.Queue.Send(ctx, out...)
}

// TestDeadLetterOfAnEndCarriesOutItsEffects: an event whose step ended its
// execution, committed, and never got its effects carried out (the send to
// the parent failed, then every delivery stopped the process until the
// event was dead-lettered) has them carried out by the dead-letter
// handler, as a redelivery would have: else the parent would wait for
// ever for its child's end.
func TestDeadLetterOfAnEndCarriesOutItsEffects(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	head, childID := f.startNested(t)
	done := f.finishUnit(t, record.UnitKey{ExecID: childID, Task: "work#1"}, `"hi"`)
	q := &sendsDown{Queue: f.events, down: true}
	f.rt.Events = q
	if err := f.rt.HandleEvent(ctx, done); err == nil {
		t.Fatal("HandleEvent with the engine queue down = nil, want its send's error")
	}
	q.down = false
	if c, _ := f.rt.Store.GetExecution(ctx, childID); c.State != record.ExecSuccess {
		t.Fatalf("child is %s, want SUCCESS committed before the failed send", c.State)
	}
	body, _ := json.Marshal(done)
	if err := f.rt.DeadLettered(ctx, body, 10); err != nil {
		t.Fatal(err)
	}
	f.drive(t)
	p, err := f.rt.Store.GetExecution(ctx, head.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.State != record.ExecSuccess {
		t.Errorf("parent is %s (%s), want SUCCESS: told of its child's end", p.State, p.StateInfo)
	}
	// Another dead letter of the ended child, not its last event, sends
	// nothing.
	stale, _ := json.Marshal(engine.CommandEvent(childID, record.OpPause, record.Command{}, "n"))
	if err := f.rt.DeadLettered(ctx, stale, 10); err != nil {
		t.Fatal(err)
	}
	if n := f.events.Len(); n != 0 {
		t.Errorf("engine queue holds %d events after a stale dead letter of a final execution, want 0", n)
	}
}

// TestDeadLetteredFailOfAChildTellsItsParent: a child's fail command that
// is dead-lettered has its head written ERROR here; when the send to the
// parent fails after that write, the dead letter's next delivery finds
// the child final and tells the parent all the same.
func TestDeadLetteredFailOfAChildTellsItsParent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	head, childID := f.startNested(t)
	if c, err := f.rt.Store.GetExecution(ctx, childID); err != nil || c.State != record.ExecRunning {
		t.Fatalf("child: %v, %v; want RUNNING", c, err)
	}
	body, _ := json.Marshal(engine.CommandEvent(childID, record.OpFail, record.Command{Msg: "the engine cannot take it"}, "dl"))
	q := &sendsDown{Queue: f.events, down: true}
	f.rt.Events = q
	if err := f.rt.DeadLettered(ctx, body, 10); err == nil {
		t.Fatal("DeadLettered with the engine queue down = nil, want its send's error")
	}
	q.down = false
	if c, _ := f.rt.Store.GetExecution(ctx, childID); c.State != record.ExecError {
		t.Fatalf("child is %s, want ERROR written before the failed send", c.State)
	}
	if err := f.rt.DeadLettered(ctx, body, 10); err != nil {
		t.Fatal(err)
	}
	f.drive(t)
	p, err := f.rt.Store.GetExecution(ctx, head.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.State != record.ExecError || !strings.Contains(p.StateInfo, "the engine cannot take it") {
		t.Errorf("parent is %s (%s), want ERROR with its child's reason", p.State, p.StateInfo)
	}
}

// nested is a parent whose one task calls a child workflow of one std.echo
// task.
const nested = `version: '2.0'
parent:
  tasks:
    call:
      workflow: child
child:
  tasks:
    work:
      action: std.echo output="hi"
`

// startNested starts nested's parent and drives it until the child's task
// is scheduled.
func (f *fixture) startNested(t *testing.T) (parent *record.Execution, childID string) {
	t.Helper()
	head, err := f.rt.Submit(context.Background(), runtime.Submission{File: "nested.yaml", Source: []byte(nested), Workflow: "parent"})
	if err != nil {
		t.Fatal(err)
	}
	f.drive(t)
	return head, engine.ChildID(head.ID, "call#1", 0, 1)
}

// oneEvent receives the one event the engine queue holds (want says what
// it should be), leaving it in the queue.
func (f *fixture) oneEvent(t *testing.T, want string) (record.Event, queue.Message) {
	t.Helper()
	msgs, err := f.events.Receive(context.Background(), 10, 0, time.Minute)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("engine queue: %d messages, %v; want %s", len(msgs), err, want)
	}
	var ev record.Event
	if err := json.Unmarshal(msgs[0].Body, &ev); err != nil {
		t.Fatal(err)
	}
	return ev, msgs[0]
}

// waitsAtCommit records, just before the commit of a step that ends an
// execution, the wait of an attempt a worker held: as a worker whose
// action returned pending right after the step's own write had found the
// attempt RUNNING under it, and left it.
type waitsAtCommit struct {
	store.Store
	unit record.UnitKey
}

func (s *waitsAtCommit) CommitExecution(ctx context.Context, e *record.Execution) error {
	if u, err := s.Store.GetUnit(ctx, s.unit); err == nil && e.State.Terminal() && u.State == record.Running && !u.Awaiting() {
		x := record.Expect{States: []record.State{record.Running}, Attempt: u.Attempt, Fence: u.Fence}
		wait := record.UnitChange{State: record.Running, Result: record.Awaited(record.CallbackID(u.UnitKey, u.Attempt, u.Fence), 0)}
		if _, err := s.Store.UpdateUnit(ctx, s.unit, x, wait); err != nil {
			return err
		}
	}
	return s.Store.CommitExecution(ctx, e)
}

// TestEndLooksAgainForWaits: a cancel's step finds an attempt RUNNING
// under its worker and leaves it; the worker records its wait before the
// step commits. After the commit the runtime looks at the units again
// (EndWaits) and ends that wait CANCELLED, for a task of one item (one
// read) as for an item of a with-items task (a listing), so no final
// execution keeps an attempt waiting for ever.
func TestEndLooksAgainForWaits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		item int
	}{
		{name: "a task of one item", src: hello},
		{name: "an item of a with-items task", item: 1, src: `version: '2.0'
hello:
  tasks:
    greet:
      with-items: x in <% [1, 2, 3] %>
      action: std.echo output=<% $.x %>
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			ctx := context.Background()
			head, err := f.rt.Submit(ctx, runtime.Submission{File: "hello.yaml", Source: []byte(tt.src)})
			if err != nil {
				t.Fatal(err)
			}
			k := record.UnitKey{ExecID: head.ID, Task: "greet#1", Item: tt.item}
			f.rt.Store = &waitsAtCommit{Store: f.rt.Store, unit: k}
			if _, err := f.rt.Store.UpdateUnit(ctx, k, record.Expect{States: []record.State{record.Scheduled}},
				record.UnitChange{State: record.Running, Started: f.now, Due: f.now.Add(time.Minute)}); err != nil {
				t.Fatal(err)
			}
			if err := f.rt.Command(ctx, head.ID, record.Command{Op: record.OpCancel}); err != nil {
				t.Fatal(err)
			}
			f.drive(t)
			e, err := f.rt.Store.GetExecution(ctx, head.ID)
			if err != nil {
				t.Fatal(err)
			}
			if e.State != record.ExecCancelled {
				t.Fatalf("execution %s, want CANCELLED", e.State)
			}
			units, err := f.rt.Store.ListUnits(ctx, head.ID, "greet#1")
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range units {
				if u.State != record.Cancelled || len(u.Result) != 0 {
					t.Errorf("unit %s is %s holding %s, want CANCELLED holding nothing", u.UnitKey, u.State, u.Result)
				}
			}
		})
	}
}
