package embedded_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/borawf/bora/internal/embedded"
	"github.com/borawf/bora/internal/engine"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
	"github.com/borawf/bora/internal/store"
)

// TestCancelReachesEveryDescendant cancels a workflow that starts three
// copies of itself, each of which does the same, while its descendants are
// being started: once the cancel has spread, nothing is left running, no
// execution is nested deeper than the limit, and the root is CANCELLED.
func TestCancelReachesEveryDescendant(t *testing.T) {
	t.Parallel()
	const depth = 4
	b, err := embedded.Open(embedded.Options{Path: filepath.Join(t.TempDir(), "bora.db"), Workers: 4, Limits: engine.Limits{Depth: depth}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	stop := b.Start(ctx)
	defer stop()

	root, err := b.Runtime.Submit(ctx, runtime.Submission{File: "fan.yaml", Source: []byte(`version: '2.0'
fan:
  tasks:
    again:
      with-items: i in <% range(3) %>
      workflow: fan
`)})
	if err != nil {
		t.Fatal(err)
	}
	all := func() []*record.Execution {
		t.Helper()
		page, _, err := b.Store.ListExecutions(ctx, store.ListQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return page
	}
	// Cancel while the tree grows: some children exist, more are coming.
	for len(all()) < 5 {
		if ctx.Err() != nil {
			t.Fatal("the workflow did not start its children")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := b.Runtime.Command(ctx, root.ID, record.Command{Op: record.OpCancel}); err != nil {
		t.Fatal(err)
	}
	// Settled: nothing is RUNNING, and stays so for a moment.
	for {
		running, _, err := b.Store.ListExecutions(ctx, store.ListQuery{State: record.ExecRunning, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(running) == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("executions still RUNNING after the cancel, such as %s (parent %s)", running[0].ID, running[0].ParentID)
		}
		time.Sleep(20 * time.Millisecond)
	}
	execs := all()
	if max := 3 + 9 + 27 + 81 + 1; len(execs) > max {
		t.Errorf("%d executions, more than a tree of depth %d holds (%d)", len(execs), depth, max)
	}
	for _, e := range execs {
		if !e.State.Terminal() {
			t.Errorf("execution %s is %s, want a final state", e.ID, e.State)
		}
	}
	if r, _ := b.Store.GetExecution(ctx, root.ID); r.State != record.ExecCancelled {
		t.Errorf("root is %s (%s), want CANCELLED", r.State, r.StateInfo)
	}
}
