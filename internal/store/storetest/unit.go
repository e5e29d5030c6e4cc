package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

var unitTests = []test{
	{"CreateAndGet", testUnitRoundTrip},
	{"CreateTakenKey", testUnitExists},
	{"GetMissing", testUnitNotFound},
	{"ListByItem", testUnitList},
	{"UpdateExpectMismatch", testUnitExpect},
	{"UpdateChanges", testUnitChanges},
	{"UpdateMissing", testUnitUpdateMissing},
	{"ClaimRace", testClaimRace},
	{"UpdateAwaiting", testUnitAwaiting},
	{"AwaitRace", testAwaitRace},
	{"ItemZeroNeedsItsTask", testUnitNeedsTask},
}

// newUnit returns a scheduled first attempt.
func newUnit(execID, task string, item int, at time.Time) *record.Unit {
	return &record.Unit{
		UnitKey: record.UnitKey{ExecID: execID, Task: task, Item: item},
		State:   record.Scheduled,
		Attempt: 1,
		Fence:   "fence-1",
		Action:  "std.echo",
		Input:   raw(`{"output": {"n" : 1}}`),
		Timeout: 90 * time.Second,
		Due:     at.Add(time.Minute),
	}
}

// createUnit creates a unit; for one of item 0, which lives in its task's
// record, it first creates a plain task for it if there is none.
func createUnit(t *testing.T, s store.Store, u *record.Unit) {
	t.Helper()
	if u.Item == 0 {
		tk := plainTask(u.ExecID, u.Task, now())
		if err := s.CreateTask(ctx(t), tk); err != nil && !errors.Is(err, store.ErrExists) {
			t.Fatalf("CreateTask(%s/%s): %v", tk.ExecID, tk.Key, err)
		}
	}
	if err := s.CreateUnit(ctx(t), u); err != nil {
		t.Fatalf("CreateUnit(%s): %v", u.UnitKey, err)
	}
}

func getUnit(t *testing.T, s store.Store, k record.UnitKey) *record.Unit {
	t.Helper()
	u, err := s.GetUnit(ctx(t), k)
	if err != nil {
		t.Fatalf("GetUnit(%s): %v", k, err)
	}
	return u
}

func testUnitRoundTrip(t *testing.T, s store.Store) {
	ex := uid("ex")
	at := now()
	for _, tc := range []struct {
		name string
		unit *record.Unit
	}{
		{"scheduled", newUnit(ex, "a#1", 0, at)},
		{"every field", &record.Unit{
			UnitKey: record.UnitKey{ExecID: ex, Task: "b#1", Item: 4},
			State:   record.Error, Attempt: 3, Fence: "f3", Action: "std.http",
			Input: raw(`{"url":"http://x"}`), Timeout: 1500 * time.Millisecond,
			Due: at.Add(time.Hour), Result: raw(`{"partial": true}`), Error: raw(`"timeout"`), NoRetry: true,
			Started: at.Add(-time.Second), Finished: at,
		}},
		{"bare", &record.Unit{UnitKey: record.UnitKey{ExecID: ex, Task: "c#1"}, State: record.Waiting, Attempt: 1}},
	} {
		createUnit(t, s, tc.unit)
		mustDiff(t, tc.name, tc.unit, getUnit(t, s, tc.unit.UnitKey))
	}
}

func testUnitExists(t *testing.T, s store.Store) {
	u := newUnit(uid("ex"), "a#1", 0, now())
	createUnit(t, s, u)
	again := newUnit(u.ExecID, "a#1", 0, now().Add(time.Hour))
	again.Fence = "other"
	if err := s.CreateUnit(ctx(t), again); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second CreateUnit error = %v, want ErrExists", err)
	}
	mustDiff(t, "unit after refused create", u, getUnit(t, s, u.UnitKey))
}

func testUnitNotFound(t *testing.T, s store.Store) {
	u := newUnit(uid("ex"), "a#1", 0, now())
	createUnit(t, s, u)
	for _, k := range []record.UnitKey{
		{ExecID: u.ExecID, Task: "a#1", Item: 1},
		{ExecID: u.ExecID, Task: "a#2", Item: 0},
		{ExecID: uid("ex"), Task: "a#1", Item: 0},
	} {
		if _, err := s.GetUnit(ctx(t), k); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetUnit(%s) error = %v, want ErrNotFound", k, err)
		}
	}
}

func testUnitList(t *testing.T, s store.Store) {
	ex := uid("ex")
	at := now()
	var want []*record.Unit
	for i := range 12 {
		want = append(want, newUnit(ex, "a#1", i, at))
	}
	for _, i := range []int{5, 11, 0, 10, 2, 1, 3, 4, 9, 6, 8, 7} {
		createUnit(t, s, want[i])
	}
	createUnit(t, s, newUnit(ex, "a#10", 0, at))
	createUnit(t, s, newUnit(ex, "a#2", 0, at))
	createUnit(t, s, newUnit(ex, "b#1", 0, at))
	got, err := s.ListUnits(ctx(t), ex, "a#1")
	if err != nil {
		t.Fatalf("ListUnits: %v", err)
	}
	mustDiff(t, "ListUnits", want, got)

	none, err := s.ListUnits(ctx(t), ex, "z#1")
	if err != nil || len(none) != 0 {
		t.Errorf("ListUnits(no units) = %d units, %v; want none, nil", len(none), err)
	}
}

func testUnitExpect(t *testing.T, s store.Store) {
	at := now()
	claim := record.UnitChange{State: record.Running, Started: at, Due: at.Add(time.Minute)}
	for _, tc := range []struct {
		name string
		x    record.Expect
		ok   bool
	}{
		{"state, attempt and fence match", record.Expect{States: []record.State{record.Scheduled}, Attempt: 1, Fence: "fence-1"}, true},
		{"state among several", record.Expect{States: []record.State{record.Paused, record.Scheduled, record.Delayed}, Attempt: 1, Fence: "fence-1"}, true},
		{"any attempt and fence", record.Expect{States: []record.State{record.Scheduled}}, true},
		{"wrong state", record.Expect{States: []record.State{record.Running}, Attempt: 1, Fence: "fence-1"}, false},
		{"wrong states", record.Expect{States: []record.State{record.Paused, record.Delayed, record.Waiting}}, false},
		{"wrong attempt", record.Expect{States: []record.State{record.Scheduled}, Attempt: 2, Fence: "fence-1"}, false},
		{"wrong fence", record.Expect{States: []record.State{record.Scheduled}, Attempt: 1, Fence: "fence-2"}, false},
		{"wrong attempt only", record.Expect{States: []record.State{record.Scheduled}, Attempt: 2}, false},
		{"wrong fence only", record.Expect{States: []record.State{record.Scheduled}, Fence: "fence-0"}, false},
	} {
		u := newUnit(uid("ex"), "a#1", 2, at)
		createUnit(t, s, u)
		got, err := s.UpdateUnit(ctx(t), u.UnitKey, tc.x, claim)
		if !tc.ok {
			if !errors.Is(err, store.ErrConflict) {
				t.Errorf("%s: UpdateUnit error = %v, want ErrConflict", tc.name, err)
			}
			mustDiff(t, tc.name+": unit after refused update", u, getUnit(t, s, u.UnitKey))
			continue
		}
		if err != nil {
			t.Errorf("%s: UpdateUnit: %v", tc.name, err)
			continue
		}
		want := *u
		want.State, want.Started, want.Due = record.Running, claim.Started, claim.Due
		mustDiff(t, tc.name+": returned unit", &want, got)
		mustDiff(t, tc.name+": stored unit", &want, getUnit(t, s, u.UnitKey))
	}
}

// testUnitChanges walks a unit through the life of two attempts and checks,
// after each write, the returned unit and the stored one.
func testUnitChanges(t *testing.T, s store.Store) {
	at := now()
	u := newUnit(uid("ex"), "a#1", 0, at)
	createUnit(t, s, u)
	want := *u
	steps := []struct {
		name   string
		x      record.Expect
		c      record.UnitChange
		expect func(w *record.Unit)
	}{
		{"claim",
			record.Expect{States: []record.State{record.Scheduled}, Attempt: 1, Fence: "fence-1"},
			record.UnitChange{State: record.Running, Started: at.Add(time.Second), Due: at.Add(time.Minute)},
			func(w *record.Unit) {
				w.State, w.Started, w.Due = record.Running, at.Add(time.Second), at.Add(time.Minute)
			}},
		{"heartbeat leaves the rest",
			record.Expect{States: []record.State{record.Running}, Attempt: 1, Fence: "fence-1"},
			record.UnitChange{State: record.Running, Due: at.Add(2 * time.Minute)},
			func(w *record.Unit) { w.Due = at.Add(2 * time.Minute) }},
		{"error outcome clears due",
			record.Expect{States: []record.State{record.Running}, Attempt: 1, Fence: "fence-1"},
			record.UnitChange{State: record.Error, Finished: at.Add(3 * time.Second), Error: []byte(`{"type": "E"}`), Result: []byte(`{"half":1}`), NoRetry: true},
			func(w *record.Unit) {
				w.State, w.Due, w.Finished = record.Error, time.Time{}, at.Add(3*time.Second)
				w.Error, w.Result, w.NoRetry = raw(`{"type": "E"}`), raw(`{"half":1}`), true
			}},
		{"retry delay keeps the outcome",
			record.Expect{States: []record.State{record.Error}, Attempt: 1},
			record.UnitChange{State: record.Delayed, Due: at.Add(10 * time.Second)},
			func(w *record.Unit) { w.State, w.Due = record.Delayed, at.Add(10*time.Second) }},
		{"second attempt starts clean",
			record.Expect{States: []record.State{record.Delayed}, Attempt: 1},
			record.UnitChange{State: record.Scheduled, Attempt: 2, Fence: "fence-2", Due: at.Add(20 * time.Second), ClearOutcome: true},
			func(w *record.Unit) {
				w.State, w.Attempt, w.Fence, w.Due = record.Scheduled, 2, "fence-2", at.Add(20*time.Second)
				w.Result, w.Error, w.NoRetry = nil, nil, false
			}},
		{"claim second attempt",
			record.Expect{States: []record.State{record.Scheduled}, Attempt: 2, Fence: "fence-2"},
			record.UnitChange{State: record.Running, Started: at.Add(21 * time.Second), Due: at.Add(30 * time.Second)},
			func(w *record.Unit) {
				w.State, w.Started, w.Due = record.Running, at.Add(21*time.Second), at.Add(30*time.Second)
			}},
		{"success",
			record.Expect{States: []record.State{record.Running}, Attempt: 2, Fence: "fence-2"},
			record.UnitChange{State: record.Success, Finished: at.Add(22 * time.Second), Result: []byte(`{"n":  2}`)},
			func(w *record.Unit) {
				w.State, w.Due, w.Finished, w.Result = record.Success, time.Time{}, at.Add(22*time.Second), raw(`{"n":  2}`)
			}},
	}
	for _, st := range steps {
		got, err := s.UpdateUnit(ctx(t), u.UnitKey, st.x, st.c)
		if err != nil {
			t.Fatalf("%s: UpdateUnit: %v", st.name, err)
		}
		st.expect(&want)
		mustDiff(t, st.name+": returned unit", &want, got)
		mustDiff(t, st.name+": stored unit", &want, getUnit(t, s, u.UnitKey))
	}

	// The old attempt's worker is fenced out of the new attempt.
	stale := record.Expect{States: []record.State{record.Running}, Attempt: 1, Fence: "fence-1"}
	if _, err := s.UpdateUnit(ctx(t), u.UnitKey, stale, record.UnitChange{State: record.Error, Error: []byte(`"late"`)}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("stale outcome: error = %v, want ErrConflict", err)
	}
	mustDiff(t, "unit after stale outcome", &want, getUnit(t, s, u.UnitKey))
}

func testUnitUpdateMissing(t *testing.T, s store.Store) {
	k := record.UnitKey{ExecID: uid("ex"), Task: "a#1"}
	_, err := s.UpdateUnit(ctx(t), k, record.Expect{States: []record.State{record.Scheduled}}, record.UnitChange{State: record.Running})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateUnit(missing) error = %v, want ErrNotFound", err)
	}
	if _, err := s.GetUnit(ctx(t), k); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateUnit(missing) created it: GetUnit error = %v", err)
	}
}

// testUnitNeedsTask: a unit of item 0 is part of its task's record, so it
// cannot be created without the task; once there, it is created once.
func testUnitNeedsTask(t *testing.T, s store.Store) {
	u := newUnit(uid("ex"), "a#1", 0, now())
	if err := s.CreateUnit(ctx(t), u); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CreateUnit(item 0 of a missing task) error = %v, want ErrNotFound", err)
	}
	if _, err := s.GetUnit(ctx(t), u.UnitKey); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUnit after refused create: %v, want ErrNotFound", err)
	}
	createTask(t, s, plainTask(u.ExecID, u.Task, now()))
	if _, err := s.GetUnit(ctx(t), u.UnitKey); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUnit of a task without its unit: %v, want ErrNotFound", err)
	}
	if got, err := s.ListUnits(ctx(t), u.ExecID, u.Task); err != nil || len(got) != 0 {
		t.Errorf("ListUnits of a task without units = %d units, %v; want none", len(got), err)
	}
	createUnit(t, s, u)
	again := *u
	again.Fence = "other"
	if err := s.CreateUnit(ctx(t), &again); !errors.Is(err, store.ErrExists) {
		t.Errorf("second CreateUnit(item 0) error = %v, want ErrExists", err)
	}
	mustDiff(t, "unit", u, getUnit(t, s, u.UnitKey))
	tk := getTask(t, s, u.ExecID, u.Task)
	mustDiff(t, "the task's unit", u, tk.Unit)
}

// testClaimRace has many workers claim one scheduled unit with the right
// attempt and fence: exactly one may win.
func testClaimRace(t *testing.T, s store.Store) {
	const n = 16
	at := now()
	u := newUnit(uid("ex"), "a#1", 0, at)
	createUnit(t, s, u)
	x := record.Expect{States: []record.State{record.Scheduled}, Attempt: 1, Fence: "fence-1"}
	errs := make([]error, n)
	won := make([]*record.Unit, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := record.UnitChange{State: record.Running, Started: at.Add(time.Duration(i+1) * time.Millisecond), Due: at.Add(time.Minute)}
			won[i], errs[i] = s.UpdateUnit(ctx(t), u.UnitKey, x, c)
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("workers %d and %d both claimed the unit", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("worker %d: error = %v, want ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no worker claimed the unit")
	}
	got := getUnit(t, s, u.UnitKey)
	mustDiff(t, "claimed unit", won[winner], got)
	if want := at.Add(time.Duration(winner+1) * time.Millisecond); !got.Started.Equal(want) {
		t.Errorf("Started = %v, want the winner's %v", got.Started, fmt.Sprint(want))
	}
}

// awaitingUnit creates a unit of item and moves it to state: claimed
// (RUNNING), awaiting its completion (RUNNING with the marker), or ended.
func awaitingUnit(t *testing.T, s store.Store, item int, state string) *record.Unit {
	t.Helper()
	at := now()
	u := newUnit(uid("ex"), "a#1", item, at)
	createUnit(t, s, u)
	x := record.Expect{States: []record.State{record.Scheduled}, Attempt: 1, Fence: "fence-1"}
	steps := map[string][]record.UnitChange{
		"scheduled": nil,
		"running":   {{State: record.Running, Started: at, Due: at.Add(time.Minute)}},
		"awaiting": {{State: record.Running, Started: at, Due: at.Add(time.Minute)},
			{State: record.Running, Due: at.Add(time.Hour), Result: record.Awaited(record.CallbackID(u.UnitKey, 1, "fence-1"), 0)}},
		"success": {{State: record.Running, Started: at, Due: at.Add(time.Minute)},
			{State: record.Success, Finished: at, Result: raw(`{"n":1}`)}},
	}[state]
	for _, c := range steps {
		if _, err := s.UpdateUnit(ctx(t), u.UnitKey, x, c); err != nil {
			t.Fatalf("%s: UpdateUnit(%+v): %v", state, c, err)
		}
		x = record.Expect{States: []record.State{record.Running}, Attempt: 1, Fence: "fence-1"}
	}
	return getUnit(t, s, u.UnitKey)
}

// testUnitAwaiting: with Expect.Awaiting a RUNNING unit matches only when
// it awaits its completion (it holds a result), in a unit's own record and
// in its task's; the other states are not affected.
func testUnitAwaiting(t *testing.T, s store.Store) {
	unclaimed := []record.State{record.Scheduled, record.Delayed, record.Paused, record.Waiting, record.Running}
	for _, tc := range []struct {
		name  string
		state string
		x     record.Expect
		ok    bool
	}{
		{"awaiting among unclaimed states", "awaiting", record.Expect{States: unclaimed, Awaiting: true}, true},
		{"awaiting alone", "awaiting", record.Expect{States: []record.State{record.Running}, Awaiting: true, Attempt: 1, Fence: "fence-1"}, true},
		{"awaiting in any state", "awaiting", record.Expect{Awaiting: true}, true},
		{"awaiting, wrong attempt", "awaiting", record.Expect{States: unclaimed, Awaiting: true, Attempt: 2}, false},
		{"awaiting, wrong fence", "awaiting", record.Expect{States: unclaimed, Awaiting: true, Fence: "fence-2"}, false},
		{"awaiting, RUNNING not expected", "awaiting", record.Expect{States: unclaimed[:4], Awaiting: true}, false},
		{"worker holds it, among unclaimed states", "running", record.Expect{States: unclaimed, Awaiting: true}, false},
		{"worker holds it, RUNNING alone", "running", record.Expect{States: []record.State{record.Running}, Awaiting: true, Attempt: 1, Fence: "fence-1"}, false},
		{"worker holds it, any state", "running", record.Expect{Awaiting: true}, false},
		{"worker holds it, without Awaiting", "running", record.Expect{States: unclaimed}, true},
		{"unclaimed", "scheduled", record.Expect{States: unclaimed, Awaiting: true}, true},
		{"ended with a result", "success", record.Expect{States: []record.State{record.Success}, Awaiting: true}, true},
	} {
		for _, item := range []int{0, 3} {
			name := fmt.Sprintf("%s (item %d)", tc.name, item)
			u := awaitingUnit(t, s, item, tc.state)
			c := record.UnitChange{State: record.Cancelled, ClearOutcome: true}
			got, err := s.UpdateUnit(ctx(t), u.UnitKey, tc.x, c)
			if !tc.ok {
				if !errors.Is(err, store.ErrConflict) {
					t.Errorf("%s: UpdateUnit error = %v, want ErrConflict", name, err)
				}
				mustDiff(t, name+": unit after refused update", u, getUnit(t, s, u.UnitKey))
				continue
			}
			if err != nil {
				t.Errorf("%s: UpdateUnit: %v", name, err)
				continue
			}
			want := *u
			want.State, want.Due, want.Result, want.Error = record.Cancelled, time.Time{}, nil, nil
			mustDiff(t, name+": returned unit", &want, got)
			mustDiff(t, name+": stored unit", &want, getUnit(t, s, u.UnitKey))
		}
	}
}

// testAwaitRace has the completion of an attempt that awaits it and the
// cancel of its execution write the unit at once, each on its own
// condition: exactly one may win, and the unit holds what the winner wrote.
func testAwaitRace(t *testing.T, s store.Store) {
	for _, item := range []int{0, 3} {
		for range 4 {
			u := awaitingUnit(t, s, item, "awaiting")
			writes := []struct {
				x record.Expect
				c record.UnitChange
			}{
				{record.Expect{States: []record.State{record.Running}, Attempt: 1, Fence: "fence-1"},
					record.UnitChange{State: record.Success, Finished: now(), Result: raw(`{"done":true}`), ClearOutcome: true}},
				{record.Expect{States: []record.State{record.Scheduled, record.Delayed, record.Paused, record.Waiting, record.Running}, Awaiting: true},
					record.UnitChange{State: record.Cancelled, ClearOutcome: true}},
			}
			errs := make([]error, len(writes))
			won := make([]*record.Unit, len(writes))
			var wg sync.WaitGroup
			for i, w := range writes {
				wg.Go(func() { won[i], errs[i] = s.UpdateUnit(ctx(t), u.UnitKey, w.x, w.c) })
			}
			wg.Wait()
			winner := -1
			for i, err := range errs {
				switch {
				case err == nil && winner >= 0:
					t.Errorf("item %d: the completion and the cancel both wrote the unit", item)
				case err == nil:
					winner = i
				case !errors.Is(err, store.ErrConflict):
					t.Errorf("item %d: write %d: error = %v, want ErrConflict", item, i, err)
				}
			}
			if winner < 0 {
				t.Fatalf("item %d: neither the completion nor the cancel wrote the unit", item)
			}
			mustDiff(t, "raced unit", won[winner], getUnit(t, s, u.UnitKey))
		}
	}
}
