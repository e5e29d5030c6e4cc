package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

var triggerTests = []test{
	{"CreateAndGet", testTriggerRoundTrip},
	{"CreateTakenName", testTriggerExists},
	{"GetMissing", testTriggerNotFound},
	{"Delete", testTriggerDelete},
	{"ListByName", testTriggerList},
	{"Advance", testTriggerAdvance},
	{"AdvanceToTheEnd", testTriggerAdvanceEnds},
	{"AdvanceRace", testTriggerAdvanceRace},
	{"TooLarge", testTriggerTooLarge},
}

func newTrigger(name string) *record.Trigger {
	at := now()
	return &record.Trigger{
		Name: name, ID: uid("tid"), Pattern: "*/5 * * * *",
		WorkflowName: "book.wf", DefName: "book", Workflow: "book.wf",
		Input: raw(`{"a": [1, 2.5], "b": "ü"}`), Env: raw(`{"e":true}`),
		FirstExecution: at.Add(time.Hour), Remaining: 3, Next: at.Add(time.Hour), CreatedAt: at,
	}
}

func createTrigger(t *testing.T, s store.Store, tr *record.Trigger) {
	t.Helper()
	if err := s.CreateTrigger(ctx(t), tr); err != nil {
		t.Fatalf("CreateTrigger(%s): %v", tr.Name, err)
	}
}

func getTrigger(t *testing.T, s store.Store, name string) *record.Trigger {
	t.Helper()
	tr, err := s.GetTrigger(ctx(t), name)
	if err != nil {
		t.Fatalf("GetTrigger(%s): %v", name, err)
	}
	return tr
}

func testTriggerRoundTrip(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		name string
		edit func(*record.Trigger)
	}{
		{"every field", func(*record.Trigger) {}},
		{"no optional values", func(tr *record.Trigger) {
			tr.Workflow, tr.Input, tr.Env, tr.FirstExecution, tr.Remaining = "", nil, nil, time.Time{}, 0
		}},
		{"once, without a pattern", func(tr *record.Trigger) { tr.Pattern, tr.Remaining = "", 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTrigger(uid("trig"))
			tc.edit(tr)
			createTrigger(t, s, tr)
			mustDiff(t, "trigger", tr, getTrigger(t, s, tr.Name))
		})
	}
}

func testTriggerExists(t *testing.T, s store.Store) {
	tr := newTrigger(uid("trig"))
	createTrigger(t, s, tr)
	other := newTrigger(tr.Name)
	other.Pattern = "0 * * * *"
	if err := s.CreateTrigger(ctx(t), other); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second CreateTrigger = %v, want ErrExists", err)
	}
	mustDiff(t, "trigger", tr, getTrigger(t, s, tr.Name))
}

func testTriggerNotFound(t *testing.T, s store.Store) {
	if _, err := s.GetTrigger(ctx(t), uid("none")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetTrigger = %v, want ErrNotFound", err)
	}
}

// A deleted trigger is gone; its name may be used again, by another
// trigger.
func testTriggerDelete(t *testing.T, s store.Store) {
	tr := newTrigger(uid("trig"))
	createTrigger(t, s, tr)
	if err := s.DeleteTrigger(ctx(t), tr.Name); err != nil {
		t.Fatalf("DeleteTrigger: %v", err)
	}
	if _, err := s.GetTrigger(ctx(t), tr.Name); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetTrigger after delete = %v, want ErrNotFound", err)
	}
	if err := s.DeleteTrigger(ctx(t), tr.Name); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second DeleteTrigger = %v, want ErrNotFound", err)
	}
	if err := s.AdvanceTrigger(ctx(t), tr, tr.Next.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AdvanceTrigger after delete = %v, want ErrNotFound", err)
	}
	again := newTrigger(tr.Name)
	createTrigger(t, s, again)
	mustDiff(t, "trigger created again", again, getTrigger(t, s, tr.Name))
	// The old trigger's fire does not move the new one.
	if err := s.AdvanceTrigger(ctx(t), tr, tr.Next.Add(time.Minute)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("AdvanceTrigger of the deleted trigger = %v, want ErrConflict", err)
	}
	mustDiff(t, "trigger created again", again, getTrigger(t, s, tr.Name))
}

// listed pages through every trigger and keeps those whose name starts
// with prefix: the store may hold others'.
func listed(t *testing.T, s store.Store, prefix string, limit int) []string {
	t.Helper()
	var names []string
	cursor := ""
	for range 10000 {
		page, next, err := s.ListTriggers(ctx(t), store.TriggerQuery{Limit: limit, Cursor: cursor})
		if err != nil {
			t.Fatalf("ListTriggers(cursor %q): %v", cursor, err)
		}
		if len(page) > limit {
			t.Fatalf("ListTriggers returned %d triggers, over the limit %d", len(page), limit)
		}
		for _, tr := range page {
			if strings.HasPrefix(tr.Name, prefix) {
				names = append(names, tr.Name)
			}
		}
		if next == "" {
			return names
		}
		cursor = next
	}
	t.Fatal("ListTriggers never ends")
	return nil
}

func testTriggerList(t *testing.T, s store.Store) {
	prefix := uid("list") + "-"
	var want []string
	for i := range 5 {
		tr := newTrigger(fmt.Sprintf("%s%d", prefix, 4-i))
		createTrigger(t, s, tr)
	}
	if err := s.DeleteTrigger(ctx(t), prefix+"2"); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, 3, 4} {
		want = append(want, fmt.Sprintf("%s%d", prefix, i))
	}
	for _, limit := range []int{1, 2, 100} {
		mustDiff(t, fmt.Sprintf("names listed in pages of %d", limit), want, listed(t, s, prefix, limit))
	}
}

func testTriggerAdvance(t *testing.T, s store.Store) {
	tr := newTrigger(uid("trig"))
	createTrigger(t, s, tr)
	next := tr.Next.Add(5 * time.Minute)
	if err := s.AdvanceTrigger(ctx(t), tr, next); err != nil {
		t.Fatalf("AdvanceTrigger: %v", err)
	}
	want := *tr
	want.Next, want.Remaining = next, 2
	mustDiff(t, "advanced trigger", &want, getTrigger(t, s, tr.Name))

	// The same fire again, and a fire of another trigger of that name,
	// change nothing.
	if err := s.AdvanceTrigger(ctx(t), tr, next.Add(time.Hour)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("AdvanceTrigger of a recorded fire = %v, want ErrConflict", err)
	}
	other := want
	other.ID = uid("tid")
	if err := s.AdvanceTrigger(ctx(t), &other, next.Add(time.Hour)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("AdvanceTrigger of another trigger's fire = %v, want ErrConflict", err)
	}
	mustDiff(t, "trigger after stale fires", &want, getTrigger(t, s, tr.Name))

	// Without a limit, fires count nothing.
	free := newTrigger(uid("trig"))
	free.Remaining = 0
	createTrigger(t, s, free)
	if err := s.AdvanceTrigger(ctx(t), free, free.Next.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := getTrigger(t, s, free.Name); got.Remaining != 0 || !got.Next.Equal(free.Next.Add(time.Minute)) {
		t.Errorf("trigger without a limit after a fire: remaining %d, next %s", got.Remaining, got.Next)
	}
}

// A trigger's last fire deletes it: its last remaining one, or one after
// which it has no next time.
func testTriggerAdvanceEnds(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		name      string
		remaining int
		next      time.Duration // 0: no next fire
	}{
		{"last remaining fire", 1, time.Minute},
		{"no next fire", 0, 0},
		{"no next fire with fires left", 5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTrigger(uid("trig"))
			tr.Remaining = tc.remaining
			createTrigger(t, s, tr)
			var next time.Time
			if tc.next > 0 {
				next = tr.Next.Add(tc.next)
			}
			if err := s.AdvanceTrigger(ctx(t), tr, next); err != nil {
				t.Fatalf("AdvanceTrigger: %v", err)
			}
			if _, err := s.GetTrigger(ctx(t), tr.Name); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("GetTrigger after the last fire = %v, want ErrNotFound", err)
			}
			if err := s.AdvanceTrigger(ctx(t), tr, next); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("AdvanceTrigger again = %v, want ErrNotFound", err)
			}
		})
	}
}

// Of many firers recording the same fire, one does.
func testTriggerAdvanceRace(t *testing.T, s store.Store) {
	tr := newTrigger(uid("trig"))
	tr.Remaining = 0
	createTrigger(t, s, tr)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.AdvanceTrigger(ctx(t), tr, tr.Next.Add(time.Duration(i+1)*time.Minute))
		})
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("firers %d and %d both recorded the fire", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("firer %d: %v, want ErrConflict", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no firer recorded the fire")
	}
	if got := getTrigger(t, s, tr.Name); !got.Next.Equal(tr.Next.Add(time.Duration(won+1) * time.Minute)) {
		t.Errorf("next fire %s, want the winner's", got.Next)
	}
}

func testTriggerTooLarge(t *testing.T, s store.Store) {
	tr := newTrigger(uid("trig"))
	tr.Input = bigJSON(store.MaxItemBytes)
	var tl *store.TooLargeError
	if err := s.CreateTrigger(ctx(t), tr); !errors.As(err, &tl) {
		t.Fatalf("CreateTrigger of %d bytes = %v, want a *TooLargeError", len(tr.Input), err)
	}
	if _, err := s.GetTrigger(ctx(t), tr.Name); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetTrigger after a refused create = %v, want ErrNotFound", err)
	}
}
