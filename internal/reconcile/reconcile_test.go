package reconcile_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	qmem "github.com/borawf/bora/internal/queue/memory"
	"github.com/borawf/bora/internal/reconcile"
	"github.com/borawf/bora/internal/record"
	smem "github.com/borawf/bora/internal/store/memory"
)

func TestSweep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	st := smem.New()
	tasks := qmem.New(qmem.Options{Now: func() time.Time { return now }})
	events := qmem.New(qmem.Options{FIFO: true, Now: func() time.Time { return now }})
	unit := func(item int, state record.State, due time.Time) record.UnitKey {
		k := record.UnitKey{ExecID: "ex", Task: "t#1", Item: item}
		if err := st.CreateUnit(ctx, &record.Unit{UnitKey: k, State: state, Attempt: 2, Fence: "f", Action: "std.noop", Due: due}); err != nil {
			t.Fatal(err)
		}
		return k
	}
	scheduled := unit(0, record.Scheduled, now.Add(-time.Minute))
	delayed := unit(1, record.Delayed, now.Add(-time.Second))
	running := unit(2, record.Running, now.Add(-time.Second))
	notYet := unit(3, record.Running, now.Add(time.Minute))
	done := unit(4, record.Success, time.Time{})

	r := &reconcile.Reconciler{Store: st, Tasks: tasks, Events: events, Now: func() time.Time { return now }}
	rep, err := r.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(reconcile.Report{Resent: 1, Fired: 1, Expired: 1}, rep); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}

	// The overdue SCHEDULED unit's task message is sent again, as it was.
	msgs, _ := tasks.Receive(ctx, 10, 0, time.Minute)
	if len(msgs) != 1 {
		t.Fatalf("task messages: %d, want 1", len(msgs))
	}
	var tm record.TaskMessage
	_ = json.Unmarshal(msgs[0].Body, &tm)
	if want := (record.TaskMessage{ExecID: "ex", Task: "t#1", Item: scheduled.Item, Attempt: 2, Fence: "f", Action: "std.noop"}); tm != want {
		t.Errorf("task message = %+v, want %+v", tm, want)
	}

	// The DELAYED unit's timer fires; the lost attempt ends and is announced
	// with the same events the engine and the worker use.
	var got []string
	for {
		ms, _ := events.Receive(ctx, 10, 0, time.Minute)
		if len(ms) == 0 {
			break
		}
		for _, m := range ms {
			var ev record.Event
			_ = json.Unmarshal(m.Body, &ev)
			got = append(got, ev.ID)
			_ = events.Delete(ctx, m.Handle)
		}
	}
	want := []string{record.TimerEvent(delayed, 2, "f").ID, record.DoneEvent(running, 2, "f").ID}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	u, _ := st.GetUnit(ctx, running)
	if u.State != record.Error || !record.IsLost(u.Error) || !u.Due.IsZero() {
		t.Errorf("expired unit: %s %s due %v; want ERROR, lost, out of the due index", u.State, u.Error, u.Due)
	}
	for _, k := range []record.UnitKey{notYet, done} {
		if u, _ := st.GetUnit(ctx, k); u.State == record.Error {
			t.Errorf("unit %d was ended, but it was not overdue", k.Item)
		}
	}

	// A second sweep right after does nothing: the re-sent units are left
	// alone for a while, and the ended attempt is not ended twice.
	rep, err = r.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep != (reconcile.Report{}) {
		t.Errorf("second sweep: %+v, want nothing done", rep)
	}
	// Once that while has passed, a unit still unclaimed is tried again.
	now = now.Add(6 * time.Minute)
	if rep, _ = r.Sweep(ctx); rep.Resent != 1 || rep.Fired != 1 {
		t.Errorf("sweep after the pause: %+v, want the two units tried again", rep)
	}
}
