package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

var tooLargeTests = []test{
	{"Refused", testTooLarge},
	{"LargeButUnderLimit", testLargeAccepted},
}

// testTooLarge writes items over store.MaxItemBytes through every write of
// the port: each is refused with a *store.TooLargeError naming the item,
// and nothing is written.
func testTooLarge(t *testing.T, s store.Store) {
	over := bigJSON(store.MaxItemBytes + 1)
	half := bigJSON(store.MaxItemBytes/2 + 1024)
	at := now()
	for _, tc := range []struct {
		name  string
		what  func(ex string) string
		write func(t *testing.T, ex string) error
		check func(t *testing.T, ex string) // nothing was written
	}{
		{"CreateExecution",
			func(ex string) string { return "execution " + ex },
			func(t *testing.T, ex string) error {
				e := newExec(ex, at)
				e.Input = over
				return s.CreateExecution(ctx(t), e)
			},
			func(t *testing.T, ex string) {
				if _, err := s.GetExecution(ctx(t), ex); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("GetExecution after refused create: %v, want ErrNotFound", err)
				}
			}},
		{"CommitExecution",
			func(ex string) string { return "execution " + ex },
			func(t *testing.T, ex string) error {
				e := newExec(ex, at)
				e.Input = half
				createExec(t, s, e)
				c := *e
				c.Version = 1
				c.Output = half
				return s.CommitExecution(ctx(t), &c)
			},
			func(t *testing.T, ex string) {
				if e := getExec(t, s, ex); e.Version != 0 || e.Output != nil {
					t.Errorf("head after refused commit: version %d, output of %d bytes; want version 0, none", e.Version, len(e.Output))
				}
			}},
		{"CreateTask",
			func(ex string) string { return "task " + ex + "/a#1" },
			func(t *testing.T, ex string) error {
				tk := newTask(ex, "a#1", 1, at)
				tk.Inbound = over
				return s.CreateTask(ctx(t), tk)
			},
			func(t *testing.T, ex string) {
				if _, err := s.GetTask(ctx(t), ex, "a#1"); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("GetTask after refused create: %v, want ErrNotFound", err)
				}
			}},
		{"FinishTask",
			func(ex string) string { return "task " + ex + "/a#1" },
			func(t *testing.T, ex string) error {
				tk := newTask(ex, "a#1", 1, at)
				tk.Inbound = half
				createTask(t, s, tk)
				f := finished(tk, record.Success, at)
				f.Result = half
				return s.FinishTask(ctx(t), f)
			},
			func(t *testing.T, ex string) {
				if tk := getTask(t, s, ex, "a#1"); tk.Final() || tk.Result != nil {
					t.Errorf("task after refused finish: state %s, result of %d bytes; want not final, none", tk.State, len(tk.Result))
				}
			}},
		{"CreateUnit",
			func(ex string) string { return "unit " + ex + "/a#1/3" },
			func(t *testing.T, ex string) error {
				u := newUnit(ex, "a#1", 3, at)
				u.Input = over
				return s.CreateUnit(ctx(t), u)
			},
			func(t *testing.T, ex string) {
				k := record.UnitKey{ExecID: ex, Task: "a#1", Item: 3}
				if _, err := s.GetUnit(ctx(t), k); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("GetUnit after refused create: %v, want ErrNotFound", err)
				}
			}},
		{"UpdateUnit",
			func(ex string) string { return "unit " + ex + "/a#1/3" },
			func(t *testing.T, ex string) error {
				u := newUnit(ex, "a#1", 3, at)
				u.State, u.Input = record.Running, half
				createUnit(t, s, u)
				_, err := s.UpdateUnit(ctx(t), u.UnitKey,
					record.Expect{States: []record.State{record.Running}, Attempt: 1, Fence: u.Fence},
					record.UnitChange{State: record.Success, Result: half})
				return err
			},
			func(t *testing.T, ex string) {
				u := getUnit(t, s, record.UnitKey{ExecID: ex, Task: "a#1", Item: 3})
				if u.State != record.Running || u.Result != nil {
					t.Errorf("unit after refused update: state %s, result of %d bytes; want RUNNING, none", u.State, len(u.Result))
				}
			}},
		{"CreateUnitOfItemZero",
			func(ex string) string { return "unit " + ex + "/a#1/0" },
			func(t *testing.T, ex string) error {
				tk := plainTask(ex, "a#1", at)
				tk.Inbound = half
				createTask(t, s, tk)
				u := newUnit(ex, "a#1", 0, at)
				u.Input = half
				return s.CreateUnit(ctx(t), u)
			},
			func(t *testing.T, ex string) {
				k := record.UnitKey{ExecID: ex, Task: "a#1"}
				if _, err := s.GetUnit(ctx(t), k); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("GetUnit after refused create: %v, want ErrNotFound", err)
				}
			}},
		{"CreateTaskWithUnit",
			func(ex string) string { return "task " + ex + "/a#1" },
			func(t *testing.T, ex string) error {
				tk := plainTask(ex, "a#1", at)
				tk.Inbound = half
				tk.Unit = newUnit(ex, "a#1", 0, at)
				tk.Unit.Input = half
				return s.CreateTask(ctx(t), tk)
			},
			func(t *testing.T, ex string) {
				if _, err := s.GetTask(ctx(t), ex, "a#1"); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("GetTask after refused create: %v, want ErrNotFound", err)
				}
			}},
		{"OutcomeOfItemZero",
			// The outcome fits a unit alone; with its task's inbound
			// context it does not.
			func(ex string) string { return "unit " + ex + "/a#1/0" },
			func(t *testing.T, ex string) error {
				tk := plainTask(ex, "a#1", at)
				tk.Inbound = half
				tk.Unit = newUnit(ex, "a#1", 0, at)
				tk.Unit.State = record.Running
				createTask(t, s, tk)
				_, err := s.UpdateUnit(ctx(t), tk.Unit.UnitKey,
					record.Expect{States: []record.State{record.Running}, Attempt: 1, Fence: tk.Unit.Fence},
					record.UnitChange{State: record.Success, Result: half})
				return err
			},
			func(t *testing.T, ex string) {
				u := getUnit(t, s, record.UnitKey{ExecID: ex, Task: "a#1"})
				if u.State != record.Running || u.Result != nil {
					t.Errorf("unit after refused update: state %s, result of %d bytes; want RUNNING, none", u.State, len(u.Result))
				}
			}},
		{"FinishTaskWithUnitOutcome",
			// The final fields fit the task alone; with its unit's
			// outcome they do not.
			func(ex string) string { return "task " + ex + "/a#1" },
			func(t *testing.T, ex string) error {
				tk := plainTask(ex, "a#1", at)
				tk.Unit = newUnit(ex, "a#1", 0, at)
				tk.Unit.State = record.Running
				createTask(t, s, tk)
				if _, err := s.UpdateUnit(ctx(t), tk.Unit.UnitKey,
					record.Expect{States: []record.State{record.Running}, Attempt: 1, Fence: tk.Unit.Fence},
					record.UnitChange{State: record.Success, Result: half}); err != nil {
					t.Fatal(err)
				}
				f := finished(tk, record.Error, at)
				f.Unit = nil
				f.Error = half
				return s.FinishTask(ctx(t), f)
			},
			func(t *testing.T, ex string) {
				if tk := getTask(t, s, ex, "a#1"); tk.Final() || tk.Error != nil {
					t.Errorf("task after refused finish: state %s, error of %d bytes; want not final, none", tk.State, len(tk.Error))
				}
			}},
		{"PutDefinition",
			func(ex string) string { return "definition " + ex },
			func(t *testing.T, ex string) error {
				_, err := s.PutDefinition(ctx(t), ex, make([]byte, store.MaxDefinitionBytes+1))
				return err
			},
			func(t *testing.T, ex string) {
				if _, _, err := s.GetDefinition(ctx(t), ex, 0); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("GetDefinition after refused put: %v, want ErrNotFound", err)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ex := uid("big")
			err := tc.write(t, ex)
			var tl *store.TooLargeError
			if !errors.As(err, &tl) {
				t.Fatalf("error = %v, want a *store.TooLargeError", err)
			}
			if want := tc.what(ex); tl.What != want {
				t.Errorf("What = %q, want %q", tl.What, want)
			}
			limit := store.MaxItemBytes
			if tc.name == "PutDefinition" {
				limit = store.MaxDefinitionBytes // a definition takes several records
			}
			if tl.Limit != limit || tl.Size <= tl.Limit {
				t.Errorf("Size, Limit = %d, %d; want a size over the limit %d", tl.Size, tl.Limit, limit)
			}
			if !strings.Contains(err.Error(), tl.What) {
				t.Errorf("message %q does not name %q", err, tl.What)
			}
			tc.check(t, ex)
		})
	}
}

// testLargeAccepted writes items well over typical sizes but under the
// limit (with room for keys and small fields): they round-trip.
func testLargeAccepted(t *testing.T, s store.Store) {
	big := bigJSON(store.MaxItemBytes - 8*1024)
	ex := uid("big")
	e := newExec(ex, now())
	e.Input = big
	createExec(t, s, e)
	mustDiff(t, "large head", e, getExec(t, s, ex))

	tk := newTask(ex, "a#1", 1, now())
	tk.Inbound = bigJSON(store.MaxItemBytes / 2)
	createTask(t, s, tk)
	f := finished(tk, record.Success, now().Add(time.Second))
	f.Result = bigJSON(store.MaxItemBytes/2 - 8*1024)
	f.Published = nil
	if err := s.FinishTask(ctx(t), f); err != nil {
		t.Fatalf("FinishTask: %v", err)
	}
	mustDiff(t, "large task", f, getTask(t, s, ex, "a#1"))

	u := newUnit(ex, "a#1", 1, now())
	u.Input = big
	createUnit(t, s, u)
	mustDiff(t, "large unit", u, getUnit(t, s, u.UnitKey))

	// Item 0 shares its task's item: a large input beside a small task.
	u0 := newUnit(ex, "b#1", 0, now())
	u0.Input = bigJSON(store.MaxItemBytes - 16*1024)
	createUnit(t, s, u0)
	mustDiff(t, "large unit of item 0", u0, getUnit(t, s, u0.UnitKey))

	src := strings.Repeat("#", store.MaxItemBytes-8*1024)
	if _, err := s.PutDefinition(ctx(t), ex, []byte(src)); err != nil {
		t.Fatalf("PutDefinition: %v", err)
	}
}
