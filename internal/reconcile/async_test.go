package reconcile_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/borawf/bora/internal/engine"
	"github.com/borawf/bora/internal/record"
)

// TestSweepEndsAWaitPastItsDeadline: an attempt that awaits its
// completion is left alone until its deadline (its Due), then ended in an
// ordinary ERROR that says no completion came — not as a lost worker,
// which would run a safe-rerun task's action again — with its callback id
// cleared, and announced.
func TestSweepEndsAWaitPastItsDeadline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		heartbeat time.Duration
		want      string
	}{
		{name: "no completion", want: "no completion came"},
		{name: "no heartbeat", heartbeat: 30 * time.Second, want: "no heartbeat came for attempt 1 within 30 seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, true)
			f.now = f.now.Add(engine.ResendAfter + time.Second)
			for item := range 5 {
				f.move(t, item, record.UnitChange{State: record.Success, Result: []byte(`0`), Finished: f.now})
			}
			fence := unitFence(t, f, 2)
			f.move(t, 2, record.UnitChange{State: record.Running, Due: f.now.Add(time.Minute), ClearOutcome: true,
				Result: record.Awaited(record.CallbackID(f.key(2), 1, fence), tt.heartbeat)})
			f.drain(t, f.events)

			if _, err := f.rc.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			if u, _ := f.st.GetUnit(ctx, f.key(2)); !u.Awaiting() {
				t.Fatalf("before its deadline the wait was ended: %s %s", u.State, u.Error)
			}
			f.now = f.now.Add(time.Minute + time.Second)
			if _, err := f.rc.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			u, _ := f.st.GetUnit(ctx, f.key(2))
			if u.State != record.Error || record.IsLost(u.Error) || !strings.Contains(record.ErrorText(u.Error), tt.want) || len(u.Result) != 0 {
				t.Errorf("after its deadline the unit is %s, error %s, result %s; want an ordinary ERROR saying %q, no result", u.State, u.Error, u.Result, tt.want)
			}
			done := record.DoneEvent(f.key(2), 1, fence).ID
			found := false
			for _, body := range f.drain(t, f.events) {
				found = found || strings.Contains(body, done)
			}
			if !found {
				t.Errorf("the end of the wait was not announced (%s)", done)
			}
		})
	}
}
