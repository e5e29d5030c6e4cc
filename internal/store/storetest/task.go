package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

var taskTests = []test{
	{"CreateAndGet", testTaskRoundTrip},
	{"CreateTakenKey", testTaskExists},
	{"GetMissing", testTaskNotFound},
	{"FinishOnce", testTaskFinish},
	{"SkipAfterError", testTaskSkip},
	{"ListBySeq", testTaskList},
	{"CreateWithUnit", testTaskWithUnit},
	{"EndsWithItsUnit", testTaskUnitEnds},
}

// plainTask returns a task of one unit, not final yet, with no unit.
func plainTask(execID, key string, at time.Time) *record.Task {
	name, _, _ := strings.Cut(key, "#")
	return &record.Task{ExecID: execID, Key: key, Name: name, Seq: 1, State: record.Running, Items: 1,
		Inbound: raw(`{"in": 1}`), CreatedAt: at}
}

// newTask returns a task execution that is not final yet.
func newTask(execID, key string, seq int, at time.Time) *record.Task {
	name, _, _ := strings.Cut(key, "#")
	return &record.Task{
		ExecID:    execID,
		Key:       key,
		Name:      name,
		Seq:       seq,
		State:     record.Running,
		Items:     3,
		WithItems: true,
		Inbound:   raw(`{"x": [1,2,3] , "y":"z"}`),
		ChildID:   "child-of-" + key,
		CreatedAt: at,
	}
}

func createTask(t *testing.T, s store.Store, tk *record.Task) {
	t.Helper()
	if err := s.CreateTask(ctx(t), tk); err != nil {
		t.Fatalf("CreateTask(%s/%s): %v", tk.ExecID, tk.Key, err)
	}
}

func getTask(t *testing.T, s store.Store, execID, key string) *record.Task {
	t.Helper()
	tk, err := s.GetTask(ctx(t), execID, key)
	if err != nil {
		t.Fatalf("GetTask(%s/%s): %v", execID, key, err)
	}
	return tk
}

// finished returns tk with its final fields written.
func finished(tk *record.Task, state record.State, at time.Time) *record.Task {
	f := *tk
	f.State = state
	f.StateInfo = "finished " + string(state)
	f.Published = raw(`{"v" : 1}`)
	f.Result = raw(`[{"r":1},{"r":2},{"r":3}]`)
	if state == record.Error {
		f.Error = raw(`{"message": "boom"}`)
	}
	f.ChildID = "child-final"
	f.FinishedAt = at
	return &f
}

func testTaskRoundTrip(t *testing.T, s store.Store) {
	ex := uid("ex")
	for i, tc := range []struct {
		name string
		task *record.Task
	}{
		{"every field", finished(newTask(ex, "a#1", 1, now()), record.Error, now().Add(time.Second))},
		{"not final", newTask(ex, "b#1", 2, now())},
		{"plain", &record.Task{ExecID: ex, Key: "c#1", Name: "c", Seq: 3, State: record.Waiting, Items: 1, CreatedAt: now()}},
		{"empty with-items", &record.Task{ExecID: ex, Key: "d#2", Name: "d", Seq: 4, State: record.Success, WithItems: true,
			Result: raw(`[]`), Published: raw(`{}`), CreatedAt: now(), FinishedAt: now()}},
	} {
		createTask(t, s, tc.task)
		mustDiff(t, fmt.Sprintf("%d %s", i, tc.name), tc.task, getTask(t, s, ex, tc.task.Key))
	}
}

func testTaskExists(t *testing.T, s store.Store) {
	ex := uid("ex")
	tk := newTask(ex, "a#1", 1, now())
	createTask(t, s, tk)
	again := newTask(ex, "a#1", 9, now().Add(time.Hour))
	if err := s.CreateTask(ctx(t), again); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second CreateTask error = %v, want ErrExists", err)
	}
	mustDiff(t, "task after refused create", tk, getTask(t, s, ex, "a#1"))
}

func testTaskNotFound(t *testing.T, s store.Store) {
	ex := uid("ex")
	createTask(t, s, newTask(ex, "a#1", 1, now()))
	for _, key := range []string{"a#2", "b#1"} {
		if _, err := s.GetTask(ctx(t), ex, key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetTask(%s) error = %v, want ErrNotFound", key, err)
		}
	}
	if _, err := s.GetTask(ctx(t), uid("ex"), "a#1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetTask(other execution) error = %v, want ErrNotFound", err)
	}
}

// testTaskSkip: a task finished in ERROR may be finished once more, as
// SKIPPED (a user's skip); a task in any other final state may not.
func testTaskSkip(t *testing.T, s store.Store) {
	ex := uid("ex")
	for _, state := range []record.State{record.Success, record.Cancelled, record.Error} {
		key := "t" + string(state) + "#1"
		tk := newTask(ex, key, 1, now())
		createTask(t, s, tk)
		fin := finished(tk, state, now().Add(time.Second))
		if err := s.FinishTask(ctx(t), fin); err != nil {
			t.Fatalf("FinishTask(%s): %v", state, err)
		}
		skip := finished(tk, record.Skipped, now().Add(time.Minute))
		skip.Published, skip.Error = raw(`{"skipped":true}`), fin.Error
		err := s.FinishTask(ctx(t), skip)
		if state != record.Error {
			if !errors.Is(err, store.ErrConflict) {
				t.Errorf("skip of a task in %s: error = %v, want ErrConflict", state, err)
			}
			mustDiff(t, "task after a refused skip", fin, getTask(t, s, ex, key))
			continue
		}
		if err != nil {
			t.Fatalf("skip of a task in ERROR: %v", err)
		}
		mustDiff(t, "skipped task", skip, getTask(t, s, ex, key))
		again := finished(tk, record.Skipped, now().Add(time.Hour))
		if err := s.FinishTask(ctx(t), again); !errors.Is(err, store.ErrConflict) {
			t.Errorf("second skip: error = %v, want ErrConflict", err)
		}
		if err := s.FinishTask(ctx(t), finished(tk, record.Success, now())); !errors.Is(err, store.ErrConflict) {
			t.Errorf("finish of a skipped task: error = %v, want ErrConflict", err)
		}
		mustDiff(t, "skipped task after refused finishes", skip, getTask(t, s, ex, key))
	}
}

func testTaskFinish(t *testing.T, s store.Store) {
	ex := uid("ex")
	tk := newTask(ex, "a#1", 1, now())
	createTask(t, s, tk)

	// FinishTask writes only the final fields: whatever else the argument
	// says, the stored task keeps what CreateTask wrote.
	fin := finished(tk, record.Success, now().Add(2*time.Second))
	arg := *fin
	arg.Seq, arg.Items, arg.Inbound, arg.Name = 99, 99, raw(`{"changed":true}`), "changed"
	if err := s.FinishTask(ctx(t), &arg); err != nil {
		t.Fatalf("FinishTask: %v", err)
	}
	mustDiff(t, "finished task", fin, getTask(t, s, ex, "a#1"))

	for _, state := range []record.State{record.Error, record.Cancelled, record.Success} {
		again := finished(tk, state, now().Add(time.Hour))
		if err := s.FinishTask(ctx(t), again); !errors.Is(err, store.ErrConflict) {
			t.Errorf("FinishTask(%s) of a final task: error = %v, want ErrConflict", state, err)
		}
	}
	mustDiff(t, "task after refused finishes", fin, getTask(t, s, ex, "a#1"))

	missing := finished(newTask(ex, "b#1", 2, now()), record.Success, now())
	if err := s.FinishTask(ctx(t), missing); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishTask(missing) error = %v, want ErrNotFound", err)
	}
	if _, err := s.GetTask(ctx(t), ex, "b#1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishTask(missing) created it: GetTask error = %v", err)
	}
}

func testTaskList(t *testing.T, s store.Store) {
	ex, other := uid("ex"), uid("ex")
	at := now()
	// Keys sort differently from Seq: the listing must follow Seq.
	tasks := []*record.Task{
		newTask(ex, "c#1", 1, at),
		newTask(ex, "a#1", 2, at),
		newTask(ex, "b#1", 3, at),
		newTask(ex, "a#2", 4, at),
		newTask(ex, "a#10", 10, at),
	}
	for _, i := range []int{3, 0, 4, 2, 1} {
		createTask(t, s, tasks[i])
	}
	createTask(t, s, newTask(other, "a#1", 1, at))
	createTask(t, s, newTask(ex+"x", "a#1", 1, at))
	got, err := s.ListTasks(ctx(t), ex)
	if err != nil {
		t.Fatalf("ListTasks: %v", err)
	}
	mustDiff(t, "ListTasks", tasks, got)

	none, err := s.ListTasks(ctx(t), uid("ex"))
	if err != nil || len(none) != 0 {
		t.Errorf("ListTasks(no tasks) = %d tasks, %v; want none, nil", len(none), err)
	}
}

// testTaskWithUnit creates tasks with their unit of item 0 in one write:
// the unit reads as a unit and as the task's Unit, lists with the other
// units of the task, and its writes leave the task's fields alone.
func testTaskWithUnit(t *testing.T, s store.Store) {
	ex := uid("ex")
	at := now()
	tk := plainTask(ex, "a#1", at)
	tk.Unit = newUnit(ex, "a#1", 0, at)
	createTask(t, s, tk)
	mustDiff(t, "task with its unit", tk, getTask(t, s, ex, "a#1"))
	mustDiff(t, "its unit", tk.Unit, getUnit(t, s, tk.Unit.UnitKey))

	// Another task's unit, and units of a with-items task beside item 0.
	wi := newTask(ex, "b#1", 2, at)
	wi.Unit = newUnit(ex, "b#1", 0, at)
	createTask(t, s, wi)
	units := []*record.Unit{wi.Unit}
	for i := 1; i < 3; i++ {
		u := newUnit(ex, "b#1", i, at)
		createUnit(t, s, u)
		units = append(units, u)
	}
	got, err := s.ListUnits(ctx(t), ex, "b#1")
	if err != nil {
		t.Fatalf("ListUnits: %v", err)
	}
	mustDiff(t, "units of the with-items task", units, got)

	// Claim and outcome of item 0: the task's own fields stay as created.
	claimed, err := s.UpdateUnit(ctx(t), tk.Unit.UnitKey,
		record.Expect{States: []record.State{record.Scheduled}, Attempt: 1, Fence: "fence-1"},
		record.UnitChange{State: record.Running, Started: at, Due: at.Add(time.Minute)})
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	if _, err := s.UpdateUnit(ctx(t), tk.Unit.UnitKey,
		record.Expect{States: []record.State{record.Running}, Attempt: 1, Fence: "fence-1"},
		record.UnitChange{State: record.Success, Finished: at.Add(time.Second), Result: []byte(`{"ok": 1}`)}); err != nil {
		t.Fatalf("outcome: %v", err)
	}
	want := *tk
	wu := *claimed
	wu.State, wu.Due, wu.Finished, wu.Result = record.Success, time.Time{}, at.Add(time.Second), raw(`{"ok": 1}`)
	want.Unit = &wu
	mustDiff(t, "task after its unit's outcome", &want, getTask(t, s, ex, "a#1"))

	// The engine finishes it; the unit stays as it was.
	fin := finished(tk, record.Success, at.Add(2*time.Second))
	fin.Unit = nil
	if err := s.FinishTask(ctx(t), fin); err != nil {
		t.Fatalf("FinishTask: %v", err)
	}
	fin.Unit = &wu
	mustDiff(t, "finished task", fin, getTask(t, s, ex, "a#1"))
	tasks, err := s.ListTasks(ctx(t), ex)
	if err != nil {
		t.Fatal(err)
	}
	mustDiff(t, "listed tasks", []*record.Task{fin, getTask(t, s, ex, "b#1")}, tasks)
}

// testTaskUnitEnds: a task that ends as its unit does reads as ended once
// its unit did — SUCCESS with the result, ERROR with the error and its
// text — until final fields are written, which then win.
func testTaskUnitEnds(t *testing.T, s store.Store) {
	ex := uid("ex")
	at := now()
	for _, tc := range []struct {
		name  string
		c     record.UnitChange
		state record.State
		info  string
	}{
		{"success", record.UnitChange{State: record.Success, Result: []byte(`[1, 2]`)}, record.Success, ""},
		{"error", record.UnitChange{State: record.Error, Error: []byte(`{"b": 1, "a": "x"}`)}, record.Error, `{"a":"x","b":1}`},
		{"string error", record.UnitChange{State: record.Error, Error: []byte(`"boom"`)}, record.Error, "boom"},
		{"lost worker", record.UnitChange{State: record.Error, Error: record.LostError("gone")}, record.Error, "gone"},
	} {
		key := "t" + strings.ReplaceAll(tc.name, " ", "") + "#1"
		tk := plainTask(ex, key, at)
		tk.UnitEnds = true
		tk.Unit = newUnit(ex, key, 0, at)
		createTask(t, s, tk)
		if got := getTask(t, s, ex, key); got.State != record.Running {
			t.Errorf("%s: task of a scheduled unit reads %s, want RUNNING", tc.name, got.State)
		}
		x := record.Expect{States: []record.State{record.Scheduled}, Attempt: 1, Fence: "fence-1"}
		if _, err := s.UpdateUnit(ctx(t), tk.Unit.UnitKey, x, record.UnitChange{State: record.Running, Started: at}); err != nil {
			t.Fatal(err)
		}
		if got := getTask(t, s, ex, key); got.State != record.Running {
			t.Errorf("%s: task of a running unit reads %s, want RUNNING", tc.name, got.State)
		}
		x.States = []record.State{record.Running}
		tc.c.Finished = at.Add(time.Second)
		u, err := s.UpdateUnit(ctx(t), tk.Unit.UnitKey, x, tc.c)
		if err != nil {
			t.Fatal(err)
		}
		want := *tk
		want.Unit = u
		want.State, want.StateInfo, want.Published, want.FinishedAt = tc.state, tc.info, raw(`{}`), at.Add(time.Second)
		want.Result, want.Error = tc.c.Result, tc.c.Error
		mustDiff(t, tc.name+": ended with its unit", &want, getTask(t, s, ex, key))
		listed, err := s.ListTasks(ctx(t), ex)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range listed {
			if l.Key == key {
				mustDiff(t, tc.name+": listed", &want, l)
			}
		}
		// Final fields written by the engine win over the unit's outcome.
		fin := finished(tk, record.Cancelled, at.Add(2*time.Second))
		if err := s.FinishTask(ctx(t), fin); err != nil {
			t.Fatalf("%s: FinishTask of a task ended with its unit: %v", tc.name, err)
		}
		fin.Unit = u
		mustDiff(t, tc.name+": finished", fin, getTask(t, s, ex, key))
		if err := s.FinishTask(ctx(t), finished(tk, record.Success, at)); !errors.Is(err, store.ErrConflict) {
			t.Errorf("%s: second FinishTask error = %v, want ErrConflict", tc.name, err)
		}
	}
}
