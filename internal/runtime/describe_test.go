package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/engine"
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

// TestDescribeStates: an unfinished task reads as its units are — the
// engine keeps the task itself RUNNING — and a with-items task counts its
// items by state.
func TestDescribeStates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := smem.New()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	if err := st.CreateExecution(ctx, &record.Execution{ID: "e", Workflow: "w", DefName: "w", DefVer: 1, State: record.ExecPaused, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	unit := func(task string, item int, state record.State) *record.Unit {
		return &record.Unit{UnitKey: record.UnitKey{ExecID: "e", Task: task, Item: item}, State: state, Attempt: 1}
	}
	tests := []struct {
		key   string
		units []record.State // item 0 first
		items bool
		want  string
		count map[string]int
	}{
		{key: "running#1", units: []record.State{record.Running}, want: "RUNNING"},
		{key: "paused#1", units: []record.State{record.Paused}, want: "PAUSED"},
		{key: "scheduled#1", units: []record.State{record.Scheduled}, want: "SCHEDULED"},
		{key: "delayed#1", units: []record.State{record.Delayed}, want: "DELAYED"},
		{key: "join#1", units: []record.State{record.Waiting}, want: "WAITING"},
		{key: "ending#1", units: []record.State{record.Success}, want: "RUNNING"},
		{key: "fan#1", items: true, units: []record.State{record.Success, record.Running, record.Error, record.Scheduled}, want: "RUNNING",
			count: map[string]int{"SUCCESS": 1, "RUNNING": 1, "ERROR": 1, "SCHEDULED": 1}},
		{key: "held#1", items: true, units: []record.State{record.Success, record.Paused, record.Paused}, want: "PAUSED",
			count: map[string]int{"SUCCESS": 1, "PAUSED": 2}},
	}
	for i, tc := range tests {
		name, _, _ := strings.Cut(tc.key, "#")
		task := &record.Task{ExecID: "e", Key: tc.key, Name: name, Seq: i + 1, State: record.Running, Items: len(tc.units), WithItems: tc.items,
			Unit: unit(tc.key, 0, tc.units[0])}
		if err := st.CreateTask(ctx, task); err != nil {
			t.Fatal(err)
		}
		for item, s := range tc.units[1:] {
			if err := st.CreateUnit(ctx, unit(tc.key, item+1, s)); err != nil {
				t.Fatal(err)
			}
		}
	}
	d, err := runtime.Describe(ctx, st, "e")
	if err != nil {
		t.Fatal(err)
	}
	for i, td := range d.Tasks {
		tc := tests[i]
		if td.State != tc.want {
			t.Errorf("%s: state %s, want %s", td.Key, td.State, tc.want)
		}
		if d := cmp.Diff(tc.count, td.ItemStates); d != "" {
			t.Errorf("%s: item states (-want +got):\n%s", td.Key, d)
		}
	}
}

// TestDescribeTaskDetail: a task execution's units, a page at a time:
// at most Limit units, at most MaxBytes of values (but one), from From;
// with the sub-workflow execution each unit runs.
func TestDescribeTaskDetail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := smem.New()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, id := range []string{"e", engine.ChildID("e", "kids#1", 0, 1)} {
		if err := st.CreateExecution(ctx, &record.Execution{ID: id, Workflow: "w", DefName: "w", DefVer: 1, State: record.ExecRunning, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	unit := func(task string, item int, input string) *record.Unit {
		return &record.Unit{UnitKey: record.UnitKey{ExecID: "e", Task: task, Item: item}, State: record.Success, Attempt: 1,
			Action: "std.echo", Input: json.RawMessage(input), Result: json.RawMessage(`"ok"`), Started: now, Finished: now}
	}
	for i, key := range []string{"fan#1", "kids#1"} {
		if err := st.CreateTask(ctx, &record.Task{ExecID: "e", Key: key, Name: strings.TrimSuffix(key, "#1"), Seq: i + 1, State: record.Running, Items: 5, WithItems: true, Unit: unit(key, 0, `{"i": 0}`)}); err != nil {
			t.Fatal(err)
		}
		for item := 1; item < 5; item++ {
			if err := st.CreateUnit(ctx, unit(key, item, fmt.Sprintf(`{"i": %d, "pad": %q}`, item, strings.Repeat("x", 100)))); err != nil {
				t.Fatal(err)
			}
		}
	}
	items := func(d *runtime.TaskDetail) (out []int) {
		for _, u := range d.Units {
			out = append(out, u.Item)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		page runtime.UnitPage
		want []int
		next string
	}{
		{"a page", runtime.UnitPage{Limit: 2, MaxBytes: 1 << 20}, []int{0, 1}, "2"},
		{"the next", runtime.UnitPage{From: 2, Limit: 2, MaxBytes: 1 << 20}, []int{2, 3}, "4"},
		{"the last", runtime.UnitPage{From: 4, Limit: 2, MaxBytes: 1 << 20}, []int{4}, ""},
		{"bytes bound it", runtime.UnitPage{From: 1, Limit: 10, MaxBytes: 250}, []int{1, 2}, "3"},
		{"one always fits", runtime.UnitPage{From: 1, Limit: 10, MaxBytes: 1}, []int{1}, "2"},
	} {
		d, err := runtime.DescribeTaskDetail(ctx, st, "e", "fan", tc.page)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(items(d), tc.want) || d.NextCursor != tc.next {
			t.Errorf("%s: items %v next %q, want %v next %q", tc.name, items(d), d.NextCursor, tc.want, tc.next)
		}
		for _, u := range d.Units {
			if u.ChildID != "" || u.Action != "std.echo" || !strings.Contains(string(u.Input), `"i"`) || string(u.Result) != `"ok"` {
				t.Errorf("%s: unit %+v", tc.name, u)
			}
		}
	}
	d, err := runtime.DescribeTaskDetail(ctx, st, "e", "kids#1", runtime.UnitPage{Limit: 5, MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range d.Units {
		if u.ChildID != engine.ChildID("e", "kids#1", u.Item, 1) {
			t.Errorf("kids item %d: child %q", u.Item, u.ChildID)
		}
	}
}
