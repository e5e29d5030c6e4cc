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
	{"ListBySeq", testTaskList},
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
