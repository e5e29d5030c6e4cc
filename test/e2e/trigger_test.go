package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/borawf/bora/internal/cron"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

// The reconciler function fires a due cron trigger: two invocations at
// once, as a late schedule and the next one may be, start its execution
// once and record the fire once.
func TestCronTriggerFires(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*settle)
	defer cancel()
	def := c.s.prefix + "-tick"
	if _, err := c.store.PutDefinition(ctx, def, []byte("version: '2.0'\ntick:\n  input: [n]\n  output: {n: <% $.n %>}\n  tasks:\n    t:\n      action: std.noop\n")); err != nil {
		t.Fatal(err)
	}
	due := time.Now().UTC().Add(-2 * time.Minute).Truncate(time.Minute)
	tr := &record.Trigger{
		Name: c.s.prefix + "-every-hour", ID: c.s.prefix, Pattern: "0 * * * *", WorkflowName: def, DefName: def,
		Input: json.RawMessage(`{"n": 42}`), Remaining: 2, Next: due, CreatedAt: due,
	}
	if err := c.store.CreateTrigger(ctx, tr); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if out, err := c.s.invoke(ctx, fnReconciler, map[string]any{"source": "aws.events", "detail-type": "Scheduled Event"}); err != nil {
				t.Errorf("reconciler: %v: %s", err, out)
			}
		})
	}
	wg.Wait()
	id := cron.ExecutionID(tr, due)
	d := c.succeed(t, id, settle)
	if string(d.Output) != `{"n":42}` {
		t.Errorf("output %s, want the trigger's input", d.Output)
	}
	got, err := c.store.GetTrigger(ctx, tr.Name)
	if err != nil || got.Remaining != 1 || !got.Next.After(due) {
		t.Errorf("trigger after its fire: %+v, %v", got, err)
	}
	page, _, err := c.store.ListExecutions(ctx, store.ListQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page {
		if e.DefName == def && e.ID != id {
			t.Errorf("a second execution %s of the trigger's workflow", e.ID)
		}
	}
	if err := c.store.DeleteTrigger(ctx, tr.Name); err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Error(err)
	}
}
