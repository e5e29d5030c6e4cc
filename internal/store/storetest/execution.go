package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

var executionTests = []test{
	{"CreateAndGet", testExecutionRoundTrip},
	{"CreateTakenID", testExecutionExists},
	{"GetMissing", testExecutionNotFound},
	{"CommitNeedsPreviousVersion", testExecutionCommit},
	{"CommitRace", testExecutionCommitRace},
	{"ListByStateNewestFirst", testExecutionList},
	{"ListManyNewestFirst", testExecutionListMany},
	{"ListBadCursor", testExecutionListBadCursor},
	{"ListByWorkflowAndTime", testExecutionListFilters},
	{"DueExecutions", testDueExecutions},
	{"SetDue", testSetDue},
}

// newExec returns a head with every field set.
func newExec(id string, at time.Time) *record.Execution {
	return &record.Execution{
		ID:        id,
		Workflow:  "main",
		DefName:   "doc-" + id,
		DefVer:    3,
		ParentID:  "parent-" + id,
		ParentKey: "call#1/0",
		State:     record.ExecRunning,
		StateInfo: "started",
		Version:   0,
		Input:     raw(`{"b": [1, 2.50, "ü"],  "a":null}`),
		Env:       raw(`null`),
		Params:    raw(`{"task_name":"t"}`),
		Engine:    raw(`{"active":{"t#1":1}}`),
		Due:       at.Add(time.Hour),
		CreatedAt: at,
		UpdatedAt: at.Add(time.Millisecond),
	}
}

func createExec(t *testing.T, s store.Store, e *record.Execution) {
	t.Helper()
	if err := s.CreateExecution(ctx(t), e); err != nil {
		t.Fatalf("CreateExecution(%s): %v", e.ID, err)
	}
}

func getExec(t *testing.T, s store.Store, id string) *record.Execution {
	t.Helper()
	e, err := s.GetExecution(ctx(t), id)
	if err != nil {
		t.Fatalf("GetExecution(%s): %v", id, err)
	}
	return e
}

func testExecutionRoundTrip(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		name string
		edit func(e *record.Execution)
	}{
		{"every field", func(e *record.Execution) {}},
		{"top level with no optional values", func(e *record.Execution) {
			e.ParentID, e.ParentKey, e.StateInfo = "", "", ""
			e.Env, e.Params, e.Engine, e.Output = nil, nil, nil, nil
		}},
		{"final with output", func(e *record.Execution) {
			e.State = record.ExecError
			e.Output = raw(`{"result" : "x"}`)
			e.Version = 7
		}},
	} {
		e := newExec(uid("ex"), now())
		tc.edit(e)
		createExec(t, s, e)
		mustDiff(t, tc.name, e, getExec(t, s, e.ID))
	}
}

func testExecutionExists(t *testing.T, s store.Store) {
	e := newExec(uid("ex"), now())
	createExec(t, s, e)
	again := newExec(e.ID, now().Add(time.Hour))
	again.StateInfo = "second"
	if err := s.CreateExecution(ctx(t), again); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second CreateExecution error = %v, want ErrExists", err)
	}
	mustDiff(t, "head after refused create", e, getExec(t, s, e.ID))
}

func testExecutionNotFound(t *testing.T, s store.Store) {
	if _, err := s.GetExecution(ctx(t), uid("ex")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetExecution(missing) error = %v, want ErrNotFound", err)
	}
}

func testExecutionCommit(t *testing.T, s store.Store) {
	e := newExec(uid("ex"), now())
	createExec(t, s, e)
	next := func(v int64, info string) *record.Execution {
		n := *e
		n.Version = v
		n.StateInfo = info
		n.Engine = raw(fmt.Sprintf(`{"step":%d}`, v))
		n.UpdatedAt = e.UpdatedAt.Add(time.Duration(v) * time.Second)
		return &n
	}
	want := e
	for _, st := range []struct {
		name    string
		exec    *record.Execution
		wantErr error
	}{
		{"first step", next(1, "one"), nil},
		{"same version again", next(1, "stale"), store.ErrConflict},
		{"skips a version", next(3, "ahead"), store.ErrConflict},
		{"back to zero", next(0, "zero"), store.ErrConflict},
		{"second step", next(2, "two"), nil},
		{"final step", func() *record.Execution {
			n := next(3, "done")
			n.State = record.ExecSuccess
			n.Output = raw(`{"out": 1}`)
			return n
		}(), nil},
	} {
		err := s.CommitExecution(ctx(t), st.exec)
		if !errors.Is(err, st.wantErr) {
			t.Fatalf("%s: CommitExecution(version %d) error = %v, want %v", st.name, st.exec.Version, err, st.wantErr)
		}
		if err == nil {
			want = st.exec
		}
		mustDiff(t, st.name, want, getExec(t, s, e.ID))
	}

	missing := newExec(uid("ex"), now())
	missing.Version = 1
	if err := s.CommitExecution(ctx(t), missing); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CommitExecution(missing) error = %v, want ErrNotFound", err)
	}
	if _, err := s.GetExecution(ctx(t), missing.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CommitExecution(missing) created the head: GetExecution error = %v", err)
	}
}

// testExecutionCommitRace commits the same version from many goroutines:
// exactly one may win, and the head holds the winner's state.
func testExecutionCommitRace(t *testing.T, s store.Store) {
	const n = 12
	e := newExec(uid("ex"), now())
	createExec(t, s, e)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := *e
			c.Version = 1
			c.StateInfo = fmt.Sprintf("writer %d", i)
			errs[i] = s.CommitExecution(ctx(t), &c)
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("writers %d and %d both committed version 1", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("writer %d: error = %v, want ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer committed version 1")
	}
	got := getExec(t, s, e.ID)
	if want := fmt.Sprintf("writer %d", winner); got.StateInfo != want || got.Version != 1 {
		t.Errorf("head = version %d %q, want version 1 %q", got.Version, got.StateInfo, want)
	}
}

// testExecutionList creates executions one second apart in several states,
// some of them sub-workflows, and pages through them.
func testExecutionList(t *testing.T, s store.Store) {
	prefix := uid("list")
	base := now()
	type spec struct {
		state record.ExecState
		child bool
	}
	specs := []spec{
		{record.ExecRunning, false},
		{record.ExecSuccess, false},
		{record.ExecRunning, true},
		{record.ExecRunning, false},
		{record.ExecError, false},
		{record.ExecRunning, false},
		{record.ExecRunning, true},
		{record.ExecPaused, false},
		{record.ExecRunning, false},
	}
	var all []*record.Execution // oldest first
	for i, sp := range specs {
		e := newExec(fmt.Sprintf("%s-%02d", prefix, i), base.Add(time.Duration(i-len(specs))*time.Second))
		e.State = sp.state
		e.ParentID, e.ParentKey = "", ""
		if sp.child {
			e.ParentID, e.ParentKey = prefix+"-parent", "call#1/0"
		}
		createExec(t, s, e)
		all = append(all, e)
	}
	oldest := all[0].CreatedAt
	want := func(keep func(*record.Execution) bool) []string {
		var ids []string
		for _, e := range slices.Backward(all) {
			if keep(e) {
				ids = append(ids, e.ID)
			}
		}
		return ids
	}
	for _, tc := range []struct {
		name string
		q    store.ListQuery
		want []string
	}{
		{"running", store.ListQuery{State: record.ExecRunning},
			want(func(e *record.Execution) bool { return e.State == record.ExecRunning })},
		{"running in pages of 2", store.ListQuery{State: record.ExecRunning, Limit: 2},
			want(func(e *record.Execution) bool { return e.State == record.ExecRunning })},
		{"running top level in pages of 2", store.ListQuery{State: record.ExecRunning, Limit: 2, TopLevel: true},
			want(func(e *record.Execution) bool { return e.State == record.ExecRunning && e.ParentID == "" })},
		{"any state in pages of 3", store.ListQuery{Limit: 3},
			want(func(e *record.Execution) bool { return true })},
		{"any state top level", store.ListQuery{TopLevel: true},
			want(func(e *record.Execution) bool { return e.ParentID == "" })},
		{"success", store.ListQuery{State: record.ExecSuccess, Limit: 1},
			want(func(e *record.Execution) bool { return e.State == record.ExecSuccess })},
		{"cancelled", store.ListQuery{State: record.ExecCancelled}, nil},
	} {
		got := listOurs(t, s, tc.q, prefix, oldest)
		if d := cmp.Diff(tc.want, got, diffOpts...); d != "" {
			t.Errorf("%s: listed ids (-want +got):\n%s", tc.name, d)
		}
	}

	// A listed head is the whole head.
	page, _, err := s.ListExecutions(ctx(t), store.ListQuery{State: record.ExecPaused})
	if err != nil {
		t.Fatalf("ListExecutions: %v", err)
	}
	for _, e := range page {
		if e.ID == all[7].ID {
			mustDiff(t, "listed head", all[7], e)
		}
	}
}

// testExecutionListMany lists more heads than a store may spread one
// state over (the DynamoDB store shards its by-state index), created a
// millisecond apart, some of which end: every page is newest first, across
// states and partitions, and every head is listed once.
func testExecutionListMany(t *testing.T, s store.Store) {
	prefix := uid("many")
	base := now().Add(-time.Minute)
	var all []*record.Execution // oldest first
	for i := range 80 {
		e := newExec(fmt.Sprintf("%s-%02d", prefix, i), base.Add(time.Duration(i)*time.Millisecond))
		e.ParentID, e.ParentKey = "", ""
		createExec(t, s, e)
		if i%3 == 0 {
			e.Version++
			e.State, e.Due = record.ExecSuccess, time.Time{}
			if err := s.CommitExecution(ctx(t), e); err != nil {
				t.Fatalf("CommitExecution: %v", err)
			}
		}
		all = append(all, e)
	}
	want := func(st record.ExecState) []string {
		var ids []string
		for _, e := range slices.Backward(all) {
			if st == "" || e.State == st {
				ids = append(ids, e.ID)
			}
		}
		return ids
	}
	for _, tc := range []struct {
		name string
		q    store.ListQuery
		want []string
	}{
		{"running in pages of 7", store.ListQuery{State: record.ExecRunning, Limit: 7}, want(record.ExecRunning)},
		{"success in pages of 5", store.ListQuery{State: record.ExecSuccess, Limit: 5}, want(record.ExecSuccess)},
		{"any state in pages of 9", store.ListQuery{Limit: 9}, want("")},
	} {
		if d := cmp.Diff(tc.want, listOurs(t, s, tc.q, prefix, all[0].CreatedAt), diffOpts...); d != "" {
			t.Errorf("%s: listed ids (-want +got):\n%s", tc.name, d)
		}
	}
}

// listOurs pages through a listing and returns the ids with prefix in the
// order listed. It checks that pages honour the limit, that no id repeats,
// and that the order is newest first. It stops once the listing has gone
// past oldest, so that it stays quick on a store holding much else.
func listOurs(t *testing.T, s store.Store, q store.ListQuery, prefix string, oldest time.Time) []string {
	t.Helper()
	var ids []string
	seen := map[string]bool{}
	var last time.Time
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatalf("listing did not end after %d pages", pages)
		}
		page, next, err := s.ListExecutions(ctx(t), q)
		if err != nil {
			t.Fatalf("ListExecutions(%+v): %v", q, err)
		}
		if limit := cmpLimit(q.Limit); len(page) > limit {
			t.Fatalf("ListExecutions(%+v) returned %d heads, over the limit %d", q, len(page), limit)
		}
		for _, e := range page {
			if seen[e.ID] {
				t.Fatalf("ListExecutions(%+v) returned %s twice", q, e.ID)
			}
			seen[e.ID] = true
			if !last.IsZero() && e.CreatedAt.After(last) {
				t.Fatalf("ListExecutions(%+v) is not newest first: %s (%v) after one created %v", q, e.ID, e.CreatedAt, last)
			}
			last = e.CreatedAt
			if q.State != "" && e.State != q.State {
				t.Fatalf("ListExecutions(%+v) returned %s in state %s", q, e.ID, e.State)
			}
			if q.TopLevel && e.ParentID != "" {
				t.Fatalf("ListExecutions(%+v) returned sub-workflow %s", q, e.ID)
			}
			if q.Workflow != "" && e.DefName != q.Workflow && e.Workflow != q.Workflow {
				t.Fatalf("ListExecutions(%+v) returned %s of %s (%s)", q, e.ID, e.Workflow, e.DefName)
			}
			if (!q.Since.IsZero() && e.CreatedAt.Before(q.Since)) || (!q.Until.IsZero() && !e.CreatedAt.Before(q.Until)) {
				t.Fatalf("ListExecutions(%+v) returned %s created at %v, out of the range", q, e.ID, e.CreatedAt)
			}
			if strings.HasPrefix(e.ID, prefix) {
				ids = append(ids, e.ID)
			}
		}
		if next == "" || (!last.IsZero() && last.Before(oldest)) {
			return ids
		}
		q.Cursor = next
	}
}

func cmpLimit(l int) int {
	if l <= 0 {
		return 100
	}
	return l
}

// testExecutionListFilters lists executions of one workflow (by its
// definition's name or its own) and in a time range.
func testExecutionListFilters(t *testing.T, s store.Store) {
	prefix := uid("filter")
	base := now()
	var all []*record.Execution // oldest first
	for i := range 8 {
		e := newExec(fmt.Sprintf("%s-%02d", prefix, i), base.Add(time.Duration(i-8)*time.Second))
		e.ParentID, e.ParentKey = "", ""
		e.DefName, e.Workflow = prefix+"-book", prefix+"-book.one"
		if i%3 == 1 {
			e.DefName, e.Workflow = prefix+"-plain", prefix+"-plain"
		}
		if i == 5 {
			e.State = record.ExecSuccess
		}
		createExec(t, s, e)
		all = append(all, e)
	}
	oldest := all[0].CreatedAt
	want := func(keep func(i int, e *record.Execution) bool) []string {
		var ids []string
		for i := len(all) - 1; i >= 0; i-- {
			if keep(i, all[i]) {
				ids = append(ids, all[i].ID)
			}
		}
		return ids
	}
	book := func(_ int, e *record.Execution) bool { return e.DefName == prefix+"-book" }
	for _, tc := range []struct {
		name string
		q    store.ListQuery
		want []string
	}{
		{"by definition", store.ListQuery{Workflow: prefix + "-book", Limit: 2}, want(book)},
		{"by workflow", store.ListQuery{Workflow: prefix + "-book.one"}, want(book)},
		{"plain", store.ListQuery{Workflow: prefix + "-plain", Limit: 1},
			want(func(_ int, e *record.Execution) bool { return e.DefName == prefix+"-plain" })},
		{"unknown", store.ListQuery{Workflow: prefix + "-none"}, nil},
		{"by workflow and state", store.ListQuery{Workflow: prefix + "-book", State: record.ExecSuccess}, want(func(i int, _ *record.Execution) bool { return i == 5 })},
		{"since", store.ListQuery{Since: all[5].CreatedAt, Limit: 2}, want(func(i int, _ *record.Execution) bool { return i >= 5 })},
		{"until", store.ListQuery{Until: all[2].CreatedAt}, want(func(i int, _ *record.Execution) bool { return i < 2 })},
		{"between", store.ListQuery{Since: all[2].CreatedAt, Until: all[6].CreatedAt, Limit: 3}, want(func(i int, _ *record.Execution) bool { return i >= 2 && i < 6 })},
		{"between, one workflow, one state", store.ListQuery{Since: all[2].CreatedAt, Until: all[6].CreatedAt, Workflow: prefix + "-book", State: record.ExecRunning},
			want(func(i int, e *record.Execution) bool { return i >= 2 && i < 6 && book(i, e) && i != 5 })},
	} {
		got := listOurs(t, s, tc.q, prefix, oldest)
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s: listed ids (-want +got):\n%s", tc.name, d)
		}
	}
}

func testExecutionListBadCursor(t *testing.T, s store.Store) {
	if _, _, err := s.ListExecutions(ctx(t), store.ListQuery{Cursor: "not a cursor!"}); !errors.Is(err, store.ErrBadCursor) {
		t.Fatalf("ListExecutions with a malformed cursor: %v, want ErrBadCursor", err)
	}
}

// testDueExecutions creates heads with a Due just past, not yet come, and
// none: only the due ones are listed, earliest first. Other tests' heads
// may be listed too (a shared store), so the check looks at this test's.
func testDueExecutions(t *testing.T, s store.Store) {
	at := now()
	type spec struct {
		due  time.Duration // relative to at; 0: none
		want bool
	}
	specs := []spec{{-2 * time.Second, true}, {-3 * time.Second, true}, {0, false}, {time.Hour, false}, {time.Millisecond, false}, {-time.Second, true}}
	ours := map[string]bool{}
	var want []string
	for i, sp := range specs {
		e := newExec(uid(fmt.Sprintf("due%d", i)), at)
		e.Due = time.Time{}
		if sp.due != 0 {
			e.Due = at.Add(sp.due)
		}
		createExec(t, s, e)
		ours[e.ID] = true
		t.Cleanup(func() { _ = s.SetDue(context.Background(), e.ID, 0, time.Time{}) })
		if sp.want {
			want = append(want, e.ID)
		}
	}
	// Earliest first: -3 s, -2 s, -1 s.
	want = []string{want[1], want[0], want[2]}
	list := func(limit int, at time.Time) []string {
		t.Helper()
		due, err := s.DueExecutions(ctx(t), at, limit)
		if err != nil {
			t.Fatalf("DueExecutions: %v", err)
		}
		var got []string
		for i, e := range due {
			if i > 0 && e.Due.Before(due[i-1].Due) {
				t.Errorf("DueExecutions not earliest first: %v after %v", e.Due, due[i-1].Due)
			}
			if e.Due.IsZero() || e.Due.After(at) {
				t.Errorf("DueExecutions(%v) listed %s due %v", at, e.ID, e.Due)
			}
			if ours[e.ID] {
				got = append(got, e.ID)
				mustDiff(t, "listed head", getExec(t, s, e.ID), e)
			}
		}
		return got
	}
	mustDiff(t, "due heads of this test", want, list(1000, at))
	if got := list(1000, at.Add(-5*time.Second)); len(got) != 0 {
		t.Errorf("DueExecutions before any due time listed %v", got)
	}
	if due, err := s.DueExecutions(ctx(t), at, 2); err != nil || len(due) != 2 {
		t.Errorf("DueExecutions(limit 2) = %d heads, %v; want 2 (at least 3 are due)", len(due), err)
	}
}

// testSetDue moves and clears a head's Due, only at the version it names,
// and leaves the version and everything else alone.
func testSetDue(t *testing.T, s store.Store) {
	at := now()
	e := newExec(uid("ex"), at)
	e.Due = at.Add(-time.Second)
	createExec(t, s, e)
	want := *e
	for _, tc := range []struct {
		name    string
		version int64
		due     time.Time
		err     error
	}{
		{"later", 0, at.Add(time.Minute), nil},
		{"stale version", 1, at.Add(time.Hour), store.ErrConflict},
		{"cleared", 0, time.Time{}, nil},
		{"set again", 0, at.Add(2 * time.Minute), nil},
	} {
		err := s.SetDue(ctx(t), e.ID, tc.version, tc.due)
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Fatalf("%s: SetDue error = %v, want %v", tc.name, err, tc.err)
		}
		if tc.err == nil {
			want.Due = tc.due
		}
		mustDiff(t, tc.name, &want, getExec(t, s, e.ID))
	}
	// A commit carries the Due it is given.
	c := want
	c.Version, c.Due = 1, at.Add(30*time.Second)
	if err := s.CommitExecution(ctx(t), &c); err != nil {
		t.Fatal(err)
	}
	mustDiff(t, "after commit", &c, getExec(t, s, e.ID))
	if err := s.SetDue(ctx(t), uid("ex"), 0, at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetDue(missing) error = %v, want ErrNotFound", err)
	}
}
