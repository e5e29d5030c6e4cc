package embedded_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/borawf/bora/internal/cron"
	"github.com/borawf/bora/internal/embedded"
	"github.com/borawf/bora/internal/record"
)

// An embedded Bora that fires triggers (bora serve) starts the execution
// of a due trigger, which runs to its end, and records the fire.
func TestTriggersFire(t *testing.T) {
	t.Parallel()
	b, err := embedded.Open(embedded.Options{Path: filepath.Join(t.TempDir(), "bora.db"), Triggers: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := b.Store.PutDefinition(ctx, "hello", []byte("version: '2.0'\nhello:\n  input: [who]\n  output: {said: <% $.who %>}\n  tasks:\n    t:\n      action: std.noop\n")); err != nil {
		t.Fatal(err)
	}
	due := time.Now().Add(-time.Minute).Truncate(time.Minute)
	tr := &record.Trigger{Name: "hourly", ID: "hourly-1", Pattern: "0 * * * *", WorkflowName: "hello", DefName: "hello",
		Input: json.RawMessage(`{"who": "cron"}`), Remaining: 2, Next: due, CreatedAt: due}
	if err := b.Store.CreateTrigger(ctx, tr); err != nil {
		t.Fatal(err)
	}
	stop := b.Start(ctx)
	id := cron.ExecutionID(tr, due)
	e, err := b.Wait(ctx, id, 0)
	stop()
	if err != nil {
		t.Fatalf("the trigger's execution %s: %v", id, err)
	}
	if e.State != record.ExecSuccess || string(e.Output) != `{"said":"cron"}` {
		t.Errorf("execution %s %s with output %s", id, e.State, e.Output)
	}
	got, err := b.Store.GetTrigger(ctx, "hourly")
	if err != nil || got.Remaining != 1 || !got.Next.After(time.Now()) {
		t.Errorf("trigger after its fire: %+v, %v", got, err)
	}
}
