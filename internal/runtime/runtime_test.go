package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/borawf/bora/internal/engine"
	"github.com/borawf/bora/internal/queue"
	qmem "github.com/borawf/bora/internal/queue/memory"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
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

func TestSubmitSendsStart(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	head, err := f.rt.Submit(ctx, runtime.Submission{File: "hello.yaml", Source: []byte(hello)})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := f.events.Receive(ctx, 10, 0, time.Minute)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("engine queue: %d messages, %v; want the start event", len(msgs), err)
	}
	var ev record.Event
	if err := json.Unmarshal(msgs[0].Body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev != engine.StartEvent(head.ID) || msgs[0].Group != head.ID {
		t.Errorf("got %+v in group %q, want the start event of %s in its group", ev, msgs[0].Group, head.ID)
	}
	// Applying it schedules the task: one task message.
	if err := f.rt.HandleEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if n := f.tasks.Len(); n != 1 {
		t.Errorf("task queue holds %d messages, want 1", n)
	}
	// Applying it again (redelivery) changes nothing and sends nothing new
	// that a claim would accept.
	before, _ := f.rt.Store.GetExecution(ctx, head.ID)
	if err := f.rt.HandleEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	after, _ := f.rt.Store.GetExecution(ctx, head.ID)
	if before.Version != after.Version {
		t.Errorf("redelivered start moved the head from version %d to %d", before.Version, after.Version)
	}
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
	// The start event was sent twice with one id: the engine queue keeps one.
	if n := f.events.Len(); n != 1 {
		t.Errorf("engine queue holds %d events, want 1", n)
	}
	// Another workflow under a taken id is refused.
	other := runtime.Submission{ID: "fixed", File: "other.yaml", Source: []byte(strings.Replace(hello, "hello:", "other:", 1))}
	var inv *runtime.InvalidError
	if _, err := f.rt.Submit(ctx, other); !errors.As(err, &inv) {
		t.Errorf("submission of another workflow under a taken id: %v, want an InvalidError", err)
	}
}
