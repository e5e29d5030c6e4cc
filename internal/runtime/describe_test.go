package runtime_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
	"github.com/borawf/bora/internal/store"
	smem "github.com/borawf/bora/internal/store/memory"
)

// unitsRead counts ListUnits calls.
type unitsRead struct {
	store.Store
	calls int
}

func (u *unitsRead) ListUnits(ctx context.Context, execID, task string) ([]*record.Unit, error) {
	u.calls++
	return u.Store.ListUnits(ctx, execID, task)
}

func TestDescribeAttempts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := &unitsRead{Store: smem.New()}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	if err := st.CreateExecution(ctx, &record.Execution{ID: "e", Workflow: "w", DefName: "w", DefVer: 1, State: record.ExecRunning, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	unit := func(task string, item, attempt int, state record.State, started time.Time) *record.Unit {
		return &record.Unit{UnitKey: record.UnitKey{ExecID: "e", Task: task, Item: item}, State: state, Attempt: attempt, Started: started}
	}
	tasks := []*record.Task{
		{ExecID: "e", Key: "plain#1", Name: "plain", Seq: 1, State: record.Running, Items: 1, Unit: unit("plain#1", 0, 3, record.Running, now.Add(time.Second))},
		{ExecID: "e", Key: "retrying#1", Name: "retrying", Seq: 2, State: record.Running, Items: 1, Unit: unit("retrying#1", 0, 2, record.Delayed, now)},
		{ExecID: "e", Key: "items#1", Name: "items", Seq: 3, State: record.Running, Items: 2, WithItems: true, Unit: unit("items#1", 0, 1, record.Success, now.Add(2*time.Second))},
		{ExecID: "e", Key: "many#1", Name: "many", Seq: 4, State: record.Running, Items: runtime.MaxDescribedItems + 1, WithItems: true, Unit: unit("many#1", 0, 1, record.Running, now)},
	}
	for _, tk := range tasks {
		if err := st.CreateTask(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CreateUnit(ctx, unit("items#1", 1, 2, record.Running, now.Add(time.Second))); err != nil {
		t.Fatal(err)
	}
	d, err := runtime.Describe(ctx, st, "e")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"plain#1": 3, "retrying#1": 1, "items#1": 3, "many#1": 0}
	for _, td := range d.Tasks {
		if td.Attempts != want[td.Key] {
			t.Errorf("%s: %d attempts, want %d", td.Key, td.Attempts, want[td.Key])
		}
		if td.StartedAt == nil {
			t.Errorf("%s: no started_at", td.Key)
		}
	}
	if st.calls != 1 {
		t.Errorf("ListUnits called %d times, want once (the small with-items task)", st.calls)
	}
	if _, err := runtime.DescribeTask(ctx, st, "e", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DescribeTask of an unknown task: %v", err)
	}
	if td, err := runtime.DescribeTask(ctx, st, "e", "items"); err != nil || td.Key != "items#1" || td.Items != 2 {
		t.Errorf("DescribeTask(items) = %+v, %v", td, err)
	}
}
