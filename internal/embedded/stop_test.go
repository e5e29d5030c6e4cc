package embedded_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/borawf/bora/internal/action"
	"github.com/borawf/bora/internal/embedded"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
)

// TestGracefulStop stops a Bora while actions run: it takes no new work,
// an action that finishes within the grace period is recorded as it ended,
// one that does not is recorded as interrupted once the grace is over, and
// no attempt is left RUNNING to be found lost later.
func TestGracefulStop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		grace     time.Duration
		runFor    time.Duration
		wantState record.State
	}{
		{"the action finishes within the grace", 5 * time.Second, 300 * time.Millisecond, record.Success},
		{"the action outlasts the grace", 200 * time.Millisecond, time.Hour, record.Error},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			started := make(chan struct{}, 10)
			reg := action.NewRegistry()
			if err := reg.Register("test.slow", action.Func(func(ctx context.Context, in action.Input) (any, error) {
				started <- struct{}{}
				select {
				case <-time.After(tt.runFor):
					return "finished", nil
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			})); err != nil {
				t.Fatal(err)
			}
			b, err := embedded.Open(embedded.Options{Path: filepath.Join(t.TempDir(), "bora.db"), Workers: 2, Actions: reg, Grace: tt.grace, Lease: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			runCtx, stopRun := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); _ = b.Run(runCtx) }()

			head, err := b.Runtime.Submit(ctx, runtime.Submission{File: "slow.yaml", Source: []byte(`version: '2.0'
slow:
  tasks:
    one:
      action: test.slow
      on-success: two
    two:
      action: test.slow
`)})
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-started:
			case <-ctx.Done():
				t.Fatal("the action did not start")
			}
			stopRun()
			select {
			case <-done:
			case <-ctx.Done():
				t.Fatal("Run did not return after its grace period")
			}
			tasks, err := b.Store.ListTasks(ctx, head.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(tasks) != 1 {
				t.Fatalf("%d tasks after the stop, want the one that was running", len(tasks))
			}
			u := tasks[0].Unit
			if u == nil || u.State != tt.wantState {
				t.Fatalf("the running attempt ended %+v, want %s", u, tt.wantState)
			}
			if tt.wantState == record.Error && (!record.IsLost(u.Error) || !strings.Contains(string(u.Error), "interrupted")) {
				t.Errorf("error %s, want one saying the attempt was interrupted", u.Error)
			}
			// After a stop, nothing more starts.
			select {
			case <-started:
				t.Error("an action started after the stop")
			default:
			}
		})
	}
}
