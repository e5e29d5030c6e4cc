package cron_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/borawf/bora/internal/cron"
	"github.com/borawf/bora/internal/queue"
	qmem "github.com/borawf/bora/internal/queue/memory"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
	"github.com/borawf/bora/internal/store"
	smem "github.com/borawf/bora/internal/store/memory"
)

const hello = `version: '2.0'
hello:
  input: [who]
  tasks:
    greet:
      action: std.echo output=<% $.who %>
`

// rig is a store and a runtime over memory adapters, with a clock the test
// moves, and a trigger on the workflow hello.
type rig struct {
	store *smem.Store
	rt    *runtime.Runtime
	clock atomic.Pointer[time.Time]
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{store: smem.New()}
	r.set(time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC))
	now := func() time.Time { return *r.clock.Load() }
	r.rt = &runtime.Runtime{
		Store: r.store, Now: now,
		Events: qmem.New(qmem.Options{FIFO: true, Now: now}), Tasks: qmem.New(qmem.Options{Now: now}), Timers: qmem.New(qmem.Options{Now: now}),
	}
	if err := r.rt.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.store.PutDefinition(t.Context(), "hello", []byte(hello)); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *rig) set(t time.Time) { r.clock.Store(&t) }
func (r *rig) now() time.Time  { return *r.clock.Load() }

// trigger creates a trigger on hello, changed by edits.
func (r *rig) trigger(t *testing.T, name, pattern string, remaining int, edits ...func(*record.Trigger)) *record.Trigger {
	t.Helper()
	tr := &record.Trigger{
		Name: name, ID: name + "-id", Pattern: pattern, WorkflowName: "hello", DefName: "hello",
		Input: json.RawMessage(`{"who": "cron"}`), Remaining: remaining, CreatedAt: r.now(),
	}
	for _, edit := range edits {
		edit(tr)
	}
	if err := cron.Plan(tr, r.now()); err != nil {
		t.Fatal(err)
	}
	if err := r.store.CreateTrigger(t.Context(), tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

func (r *rig) firer(s cron.Store) *cron.Firer {
	if s == nil {
		s = r.store
	}
	return &cron.Firer{Store: s, Runtime: r.rt, Now: r.now, Log: slog.New(slog.DiscardHandler)}
}

// executions lists every execution id in the store.
func (r *rig) executions(t *testing.T) []string {
	t.Helper()
	page, _, err := r.store.ListExecutions(t.Context(), store.ListQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(page))
	for i, e := range page {
		ids[i] = e.ID
	}
	return ids
}

func at(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestFireStartsOneExecutionPerFire(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	tr := r.trigger(t, "every-minute", "* * * * *", 0)
	f := r.firer(nil)
	var want []string
	for i, now := range []string{"2026-03-01 10:00:59", "2026-03-01 10:01:00", "2026-03-01 10:01:40", "2026-03-01 10:02:05"} {
		r.set(at(now))
		rep, err := f.Fire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		fires := 0
		if i != 0 && i != 2 { // 10:00:59 is before the first fire; 10:01 fired at 10:01:00
			fires = 1
			want = append(want, cron.ExecutionID(tr, r.now().Truncate(time.Minute)))
		}
		if rep.Fired != fires || rep.Due != fires {
			t.Errorf("at %s: report %+v, want %d fires", now, rep, fires)
		}
	}
	if got := r.executions(t); !sameSet(got, want) {
		t.Errorf("executions %v, want %v", got, want)
	}
	e, err := r.store.GetExecution(t.Context(), want[0])
	if err != nil {
		t.Fatal(err)
	}
	if e.DefName != "hello" || string(e.Input) != `{"who":"cron"}` && string(e.Input) != `{"who": "cron"}` {
		t.Errorf("execution of %s with input %s", e.DefName, e.Input)
	}
}

// Firers that run at once start one execution per fire and record each
// fire once.
func TestFireTwice(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	tr := r.trigger(t, "twice", "*/5 * * * *", 3)
	r.set(at("2026-03-01 10:05:10"))
	var wg sync.WaitGroup
	reports := make([]cron.Report, 8)
	for i := range reports {
		wg.Go(func() {
			var err error
			if reports[i], err = r.firer(nil).Fire(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got, want := r.executions(t), []string{cron.ExecutionID(tr, at("2026-03-01 10:05:00"))}; !sameSet(got, want) {
		t.Errorf("executions %v, want %v", got, want)
	}
	got, err := r.store.GetTrigger(t.Context(), "twice")
	if err != nil {
		t.Fatal(err)
	}
	if got.Remaining != 2 || !got.Next.Equal(at("2026-03-01 10:10:00")) {
		t.Errorf("after the fire: remaining %d, next %s; want 2, 10:10", got.Remaining, got.Next)
	}
}

// failing is a store whose trigger calls fail while fail is set, as when
// the firer's process dies at that call.
type failing struct {
	*smem.Store
	failList, failAdvance atomic.Bool
	advanced              atomic.Int32
}

var errCrash = errors.New("the process died here")

func (s *failing) ListTriggers(ctx context.Context, q store.TriggerQuery) ([]*record.Trigger, string, error) {
	if s.failList.Load() {
		return nil, "", errCrash
	}
	return s.Store.ListTriggers(ctx, q)
}

func (s *failing) AdvanceTrigger(ctx context.Context, t *record.Trigger, next time.Time) error {
	if s.failAdvance.Load() {
		return errCrash
	}
	s.advanced.Add(1)
	return s.Store.AdvanceTrigger(ctx, t, next)
}

// A firer that stops after starting a fire's execution and before
// recording the fire leaves the trigger due: the next firer starts the
// same execution — it is there — and records the fire. No fire is lost,
// none doubled.
func TestCrashBetweenStartAndRecord(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	tr := r.trigger(t, "crashy", "0 * * * *", 2)
	s := &failing{Store: r.store}
	r.set(at("2026-03-01 11:00:20"))
	s.failAdvance.Store(true)
	if _, err := r.firer(s).Fire(t.Context()); !errors.Is(err, errCrash) {
		t.Fatalf("Fire = %v, want the crash", err)
	}
	first := cron.ExecutionID(tr, at("2026-03-01 11:00:00"))
	if got := r.executions(t); !sameSet(got, []string{first}) {
		t.Fatalf("executions after the crash %v, want %s", got, first)
	}
	if got, _ := r.store.GetTrigger(t.Context(), "crashy"); !got.Next.Equal(tr.Next) || got.Remaining != 2 {
		t.Fatalf("the crashed fire changed the trigger: next %s, remaining %d", got.Next, got.Remaining)
	}

	// The next firer, a little later.
	s.failAdvance.Store(false)
	r.set(at("2026-03-01 11:01:00"))
	rep, err := r.firer(s).Fire(t.Context())
	if err != nil || rep.Fired != 1 {
		t.Fatalf("Fire after the crash = %+v, %v", rep, err)
	}
	if got := r.executions(t); !sameSet(got, []string{first}) {
		t.Errorf("executions %v, want only %s", got, first)
	}
	if got, _ := r.store.GetTrigger(t.Context(), "crashy"); !got.Next.Equal(at("2026-03-01 12:00:00")) || got.Remaining != 1 {
		t.Errorf("trigger after the fire: next %s, remaining %d; want 12:00, 1", got.Next, got.Remaining)
	}

	// A firer that stops after recording the fire leaves nothing to do.
	r.set(at("2026-03-01 12:00:01"))
	if _, err := r.firer(s).Fire(t.Context()); err != nil {
		t.Fatal(err)
	}
	second := cron.ExecutionID(tr, at("2026-03-01 12:00:00"))
	if _, err := r.firer(s).Fire(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := r.executions(t); !sameSet(got, []string{first, second}) {
		t.Errorf("executions %v, want %s and %s", got, first, second)
	}
}

// A start whose execution was created but whose start event was not sent
// (the queue failed) is started again by the next firer, which sends the
// event: the reconciler would start it too, but the trigger stays due
// until its fire is recorded.
func TestStartFailureLeavesTheFireDue(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	tr := r.trigger(t, "later", "* * * * *", 0)
	events, tasks := r.rt.Events, r.rt.Tasks
	r.rt.Events, r.rt.Tasks = brokenQueue{events}, brokenQueue{tasks}
	r.set(at("2026-03-01 10:01:00"))
	rep, err := r.firer(nil).Fire(t.Context())
	if err == nil || rep.Fired != 0 {
		t.Fatalf("Fire with a broken queue = %+v, %v; want an error", rep, err)
	}
	if got, _ := r.store.GetTrigger(t.Context(), "later"); !got.Next.Equal(tr.Next) {
		t.Fatalf("a fire whose start failed was recorded: next %s", got.Next)
	}
	r.rt.Events, r.rt.Tasks = events, tasks
	if rep, err = r.firer(nil).Fire(t.Context()); err != nil || rep.Fired != 1 {
		t.Fatalf("Fire = %+v, %v", rep, err)
	}
	if got := r.executions(t); !sameSet(got, []string{cron.ExecutionID(tr, at("2026-03-01 10:01:00"))}) {
		t.Errorf("executions %v", got)
	}
	if n := events.(*qmem.Queue).Len(); n != 1 {
		t.Errorf("%d start events sent, want 1", n)
	}
}

type brokenQueue struct{ queue.Queue }

func (brokenQueue) Send(context.Context, ...queue.Out) error { return errCrash }

// A trigger whose firer was down for hours fires once, for the earliest
// fire it missed, then at its next time after now: not a burst.
func TestMissedFiresStartOne(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	tr := r.trigger(t, "missed", "*/10 * * * *", 0)
	r.set(at("2026-03-01 15:33:00"))
	rep, err := r.firer(nil).Fire(t.Context())
	if err != nil || rep.Fired != 1 {
		t.Fatalf("Fire = %+v, %v", rep, err)
	}
	if got := r.executions(t); !sameSet(got, []string{cron.ExecutionID(tr, at("2026-03-01 10:10:00"))}) {
		t.Errorf("executions %v, want the one of 10:10", got)
	}
	if got, _ := r.store.GetTrigger(t.Context(), "missed"); !got.Next.Equal(at("2026-03-01 15:40:00")) {
		t.Errorf("next fire %s, want 15:40", got.Next)
	}
}

// remaining_executions counts fires down; the last one deletes the
// trigger, which fires no more.
func TestRemainingReachesZero(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.trigger(t, "thrice", "* * * * *", 3)
	f := r.firer(nil)
	for i := range 6 {
		r.set(at("2026-03-01 10:01:00").Add(time.Duration(i) * time.Minute))
		if _, err := f.Fire(t.Context()); err != nil {
			t.Fatal(err)
		}
		_, err := r.store.GetTrigger(t.Context(), "thrice")
		if gone := errors.Is(err, store.ErrNotFound); gone != (i >= 2) {
			t.Errorf("after fire %d: trigger gone = %v", i+1, gone)
		}
	}
	if n := len(r.executions(t)); n != 3 {
		t.Errorf("%d executions, want 3", n)
	}
}

// A trigger with a first execution time and no pattern fires once, then.
func TestFireOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	tr := &record.Trigger{Name: "once", ID: "once-id", WorkflowName: "hello", DefName: "hello",
		Input: json.RawMessage(`{"who": "once"}`), FirstExecution: at("2026-03-01 12:30:00")}
	if err := cron.Plan(tr, r.now()); err != nil {
		t.Fatal(err)
	}
	if err := r.store.CreateTrigger(t.Context(), tr); err != nil {
		t.Fatal(err)
	}
	for _, now := range []string{"2026-03-01 12:29:59", "2026-03-01 12:30:00", "2026-03-02 00:00:00"} {
		r.set(at(now))
		if _, err := r.firer(nil).Fire(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if got := r.executions(t); !sameSet(got, []string{cron.ExecutionID(tr, at("2026-03-01 12:30:00"))}) {
		t.Errorf("executions %v", got)
	}
	if _, err := r.store.GetTrigger(t.Context(), "once"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("trigger after its fire: %v, want it gone", err)
	}
}

// A fire whose workflow cannot start (it was deleted, or refuses the
// trigger's input) is recorded all the same, and reported: the trigger
// goes on.
func TestFailedStartIsRecorded(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.trigger(t, "orphan", "* * * * *", 0, func(tr *record.Trigger) { tr.DefName = "nowhere" })
	r.trigger(t, "bad-input", "* * * * *", 0, func(tr *record.Trigger) { tr.Input = json.RawMessage(`{"whom": 1}`) })
	r.set(at("2026-03-01 10:01:00"))
	rep, err := r.firer(nil).Fire(t.Context())
	if err != nil || rep.Failed != 2 || rep.Fired != 0 {
		t.Fatalf("Fire = %+v, %v; want two failed fires", rep, err)
	}
	for _, name := range []string{"orphan", "bad-input"} {
		if got, _ := r.store.GetTrigger(t.Context(), name); !got.Next.Equal(at("2026-03-01 10:02:00")) {
			t.Errorf("%s: next fire %s, want 10:02", name, got.Next)
		}
	}
	if n := len(r.executions(t)); n != 0 {
		t.Errorf("%d executions started", n)
	}
}

func TestListFailure(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	s := &failing{Store: r.store}
	s.failList.Store(true)
	if _, err := r.firer(s).Fire(t.Context()); !errors.Is(err, errCrash) || !strings.Contains(err.Error(), "list triggers") {
		t.Errorf("Fire = %v, want the store's error", err)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		if m[s] == 0 {
			return false
		}
		m[s]--
	}
	return true
}
