// Package sim is Bora's deterministic simulation (docs/design.md, testing layer 3): the real
// runtime, worker and reconciler, over an in-memory store and queues that
// inject faults — duplicate and delayed delivery, reordering, a crash before
// or after any write, sends dropped after a commit, workers that vanish while
// holding a lease, task messages lost (as if dead-lettered), stale task
// messages after pause and cancel — driven by one goroutine and one seeded
// random source, so a seed replays exactly.
//
// Each run checks the protocol rules of docs/protocol.md as it goes and, at
// the end, compares the execution with the fault-free run of the same
// workflow.
package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/borawf/bora/internal/action"
	"github.com/borawf/bora/internal/cron"
	"github.com/borawf/bora/internal/engine"
	"github.com/borawf/bora/internal/queue"
	qmem "github.com/borawf/bora/internal/queue/memory"
	"github.com/borawf/bora/internal/reconcile"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
	"github.com/borawf/bora/internal/store"
	smem "github.com/borawf/bora/internal/store/memory"
	"github.com/borawf/bora/internal/worker"
)

// Faults chooses which faults a run injects. The zero value injects none.
type Faults struct {
	Duplicate   bool // deliver copies of messages again, late
	Crash       bool // fail a handler at a random store or queue call
	DropAfter   bool // lose the sends that follow a commit
	Reorder     bool // deliver messages in random order, with random delays
	LeaseExpiry bool // let a worker vanish mid-action so its lease expires
	Commands    bool // pause and resume mid-flight, then send stale task messages
	Cancel      bool // in some runs, cancel mid-flight, then send stale task messages
	Lose        bool // lose task messages, as a dead-letter queue would take them
	// Poison picks, in some runs, an engine event on which the process
	// dies at every delivery: it goes to the dead-letter queue, whose
	// handler must fail its execution.
	Poison bool
	// Stop stops the worker (SIGTERM) mid-action now and then: the action
	// sees its context end, and the attempt must be recorded interrupted.
	Stop bool
	// Triggers adds, in some runs, a cron trigger beside the execution,
	// fired by firers that run twice at once, crash at any store call,
	// lose their start events and are down for minutes at a time; each
	// fire must start exactly one execution.
	Triggers bool
	// Async has the remote side of asynchronous actions (sim.async) send
	// completions late (past the attempt's timeout or heartbeat timeout),
	// twice, for attempts that are no longer current, and crash while
	// completing; while late it sends heartbeats, some for earlier
	// attempts, some after the deadline.
	Async bool
}

// All is every fault at once.
var All = Faults{Duplicate: true, Crash: true, DropAfter: true, Reorder: true, LeaseExpiry: true, Commands: true, Cancel: true, Lose: true, Poison: true, Stop: true, Triggers: true, Async: true}

// Result is what one run observed.
type Result struct {
	Seed       uint64
	Shape      string
	Doc        *runtime.Document
	Steps      int
	Violations []string
	Faults     map[string]int // injected faults by kind
	// Cancelled is true when the run sent a cancel command; then the
	// execution may end CANCELLED instead of as the fault-free run does.
	Cancelled bool
	// Poisoned is true when an engine event killed its process at every
	// delivery; then the execution may end ERROR, failed by the handler
	// of the dead-letter queue, instead of as the fault-free run does.
	Poisoned bool
}

// Run runs one workflow shape under one seed.
func Run(ctx context.Context, shape Shape, seed uint64, f Faults) (*Result, error) {
	s := newSim(shape, seed, f)
	return s.run(ctx)
}

// trace prints every delivery (BORA_SIM_TRACE=1), to read a failing seed.
var trace = os.Getenv("BORA_SIM_TRACE") == "1"

type sim struct {
	shape  Shape
	seed   uint64
	f      Faults
	rng    *rand.Rand
	now    time.Time
	store  *faultStore
	events *faultQueue
	tasks  *faultQueue
	timers *faultQueue
	rt     *runtime.Runtime
	wk     *worker.Worker
	rc     *reconcile.Reconciler
	execID string

	ran        map[string]int // action runs per idempotency key (execution, task, item, attempt)
	vanished   bool           // the worker of this delivery vanished mid-action
	delivered  []delivered    // messages handed out, for duplicates and stale copies
	violations []string
	faults     map[string]int
	steps      int
	inAction   bool
	paused     bool
	cancelAt   int // the step at which to cancel; 0: never
	cancelled  bool
	// poisonAt is the engine delivery whose event kills the process at
	// every delivery (0: none); poison is that event's id once chosen.
	poisonAt, eventDeliveries int
	poison                    string
	lettered                  map[string]bool // executions with an event dead-lettered
	deadLetters               *qmem.Queue     // the engine queue's
	// stopHandle stops the worker handling the current task message.
	stopHandle context.CancelFunc
	// trigger is the run's cron trigger (Faults.Triggers), nil without;
	// firer fires it.
	trigger *record.Trigger
	firer   *cron.Firer
	// callbacks are the attempts of sim.async handed out and not yet
	// completed (Faults.Async keeps some for stale completions).
	callbacks []callback
	holdUntil time.Time // no completion comes before (Faults.Async)
}

type delivered struct {
	q    *faultQueue
	body []byte
	out  queue.Out
}

const lease = 30 * time.Second

// maxReceives is the engine queue's redrive limit in the simulation, as
// embedded.
const maxReceives = 10

func newSim(shape Shape, seed uint64, f Faults) *sim {
	s := &sim{
		shape: shape, seed: seed, f: f,
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		now:    time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		ran:    map[string]int{},
		faults: map[string]int{},

		lettered: map[string]bool{},
	}
	clock := func() time.Time { return s.now }
	s.store = &faultStore{Store: smem.New(), s: s}
	dlq := qmem.New(qmem.Options{Now: clock})
	s.deadLetters = qmem.New(qmem.Options{FIFO: true, Now: clock})
	s.events = &faultQueue{Queue: qmem.New(qmem.Options{FIFO: true, MaxReceives: maxReceives, DeadLetter: s.deadLetters, Now: clock}), s: s, name: "engine", fifo: true}
	s.tasks = &faultQueue{Queue: qmem.New(qmem.Options{MaxReceives: 50, DeadLetter: dlq, Now: clock}), s: s, name: "tasks"}
	s.timers = &faultQueue{Queue: qmem.New(qmem.Options{MaxReceives: 50, DeadLetter: dlq, Now: clock}), s: s, name: "timers"}
	log := slog.New(slog.DiscardHandler)
	s.rt = &runtime.Runtime{Store: s.store, Events: s.events, Tasks: s.tasks, Timers: s.timers, Log: log, Now: clock, Parallel: 1}
	if err := s.rt.Validate(); err != nil {
		panic(err)
	}
	reg := action.NewRegistry()
	for name, a := range s.actions() {
		if err := reg.Register(name, a); err != nil {
			panic(err)
		}
	}
	s.wk = &worker.Worker{Store: s.store, Events: s.events, Actions: reg, Log: log, Lease: lease, Now: clock}
	s.rc = &reconcile.Reconciler{Store: s.store, Tasks: s.tasks, Events: s.events, Log: log, Now: clock}
	if f.Cancel && s.chance(0.3) {
		s.cancelAt = 1 + s.rng.IntN(80)
	}
	if f.Poison && s.chance(0.1) {
		s.poisonAt = 1 + s.rng.IntN(30)
	}
	s.firer = &cron.Firer{Store: s.store, Runtime: s.rt, Now: clock, Log: log}
	return s
}

// submit starts the execution as a client would. With Crash or DropAfter
// the request may die at a store call or have a queue refuse its sends —
// in the middle of the first step it takes — and is made again with the
// same id until the execution exists; then the client may give up,
// leaving the rest to the engine and the reconciler. Its faults are drawn
// from a stream of their own, so that the run's draws stay those of the
// seed.
func (s *sim) submit(ctx context.Context, sub runtime.Submission) (*record.Execution, error) {
	rng := rand.New(rand.NewPCG(s.seed, 0x5ab))
	defer s.disarm()
	// Another client, knowing the id, pauses or cancels the execution
	// while the request runs: the command is ahead of everything the
	// request sends.
	if op := ""; s.f.Commands || s.f.Cancel {
		switch x := rng.Float64(); {
		case s.f.Cancel && x < 0.05:
			op, s.cancelled = record.OpCancel, true
		case s.f.Commands && x < 0.2:
			op, s.paused = record.OpPause, true
		}
		if op != "" {
			s.fault(op + "-before-start")
			out, err := queue.EventOut(engine.CommandEvent(sub.ID, op, record.Command{}, "early"))
			if err != nil {
				return nil, err
			}
			if err := s.events.Queue.Send(ctx, out); err != nil {
				return nil, err
			}
		}
	}
	for try := 0; ; try++ {
		s.disarm()
		if try < 3 && s.f.Crash && rng.Float64() < 0.3 {
			s.store.crashAt = 1 + rng.IntN(8)
		}
		if try < 3 && s.f.DropAfter && rng.Float64() < 0.2 {
			[]*faultQueue{s.events, s.tasks, s.timers}[rng.IntN(3)].failAt = 1
		}
		head, err := s.rt.Submit(ctx, sub)
		if err == nil || !isInjected(err) {
			return head, err
		}
		s.disarm()
		if head, gerr := s.store.Store.GetExecution(ctx, sub.ID); gerr == nil && rng.Float64() < 0.5 {
			s.fault("submit-abandoned")
			return head, nil
		}
	}
}

// disarm clears the faults armed for a delivery or a request.
func (s *sim) disarm() {
	s.store.reset()
	s.events.reset()
	s.tasks.reset()
	s.timers.reset()
}

func (s *sim) violate(format string, args ...any) {
	s.violations = append(s.violations, fmt.Sprintf(format, args...))
}

func (s *sim) fault(kind string) { s.faults[kind]++ }

// chance reports true with probability p, drawing from the seed.
func (s *sim) chance(p float64) bool { return s.rng.Float64() < p }

func (s *sim) run(ctx context.Context) (*Result, error) {
	head, err := s.submit(ctx, runtime.Submission{
		ID: fmt.Sprintf("sim-%d", s.seed), File: s.shape.Name + ".yaml", Source: []byte(s.shape.YAML), Workflow: s.shape.Workflow,
		Input: json.RawMessage(cmpOr(s.shape.Input, "{}")),
	})
	if err != nil {
		return nil, fmt.Errorf("submit %s: %w", s.shape.Name, err)
	}
	s.execID = head.ID
	if s.f.Triggers && s.chance(0.3) {
		if err := s.addTrigger(ctx); err != nil {
			return nil, err
		}
	}
	const maxSteps = 20_000
	for s.steps = 0; s.steps < maxSteps; s.steps++ {
		if done, err := s.step(ctx); err != nil {
			return nil, err
		} else if done {
			break
		}
	}
	doc, err := runtime.Describe(ctx, s.store.Store, s.execID)
	if err != nil {
		return nil, err
	}
	// Every execution ends: this one and every sub-workflow it started.
	all, _, err := s.store.Store.ListExecutions(ctx, store.ListQuery{Limit: 1000})
	if err != nil {
		return nil, err
	}
	for _, e := range all {
		if !e.State.Terminal() {
			s.violate("execution %s (%s) still %s after %d steps (invariant 7: every execution ends)", e.ID, e.Workflow, e.State, s.steps)
		}
	}
	if err := s.checkTrigger(ctx, all); err != nil {
		return nil, err
	}
	if err := s.checkSettled(ctx, all); err != nil {
		return nil, err
	}
	return &Result{Seed: s.seed, Shape: s.shape.Name, Doc: doc, Steps: s.steps, Violations: s.violations, Faults: s.faults, Cancelled: s.cancelled, Poisoned: s.poison != ""}, nil
}

// step takes one scheduling decision. It reports true when the execution
// is final and every queue is drained.
func (s *sim) step(ctx context.Context) (bool, error) {
	s.vanished = false
	s.disarm()

	if s.cancelAt > 0 && s.steps == s.cancelAt {
		return false, s.command(ctx, record.OpCancel)
	}
	if s.f.Commands && !s.paused && !s.cancelled && s.chance(0.02) {
		return false, s.command(ctx, record.OpPause)
	}
	if s.paused && s.chance(0.2) {
		return false, s.command(ctx, record.OpResume)
	}
	if s.f.Async && len(s.callbacks) > 0 && s.chance(0.05) {
		// A completion comes at any time, stale or not.
		_, err := s.complete(ctx)
		return false, err
	}
	if s.f.Duplicate && len(s.delivered) > 0 && s.chance(0.05) {
		d := s.delivered[s.rng.IntN(len(s.delivered))]
		s.fault("duplicate")
		return false, d.q.Queue.Send(ctx, d.out)
	}
	if s.f.Crash || s.f.DropAfter {
		s.arm()
	}
	queues := []*faultQueue{s.events, s.tasks, s.timers}
	if s.f.Reorder {
		s.rng.Shuffle(len(queues), func(i, j int) { queues[i], queues[j] = queues[j], queues[i] })
	}
	for _, q := range queues {
		handled, err := s.deliver(ctx, q)
		if err != nil || handled {
			return false, err
		}
	}
	// The engine's dead letters fail their executions.
	if msgs, err := s.deadLetters.Receive(ctx, 1, 0, lease); err != nil {
		return false, err
	} else if len(msgs) == 1 {
		if trace {
			fmt.Printf("t=%s step=%d dead letter %s\n", s.now.Format("15:04:05"), s.steps, msgs[0].Body)
		}
		var ev record.Event
		if json.Unmarshal(msgs[0].Body, &ev) == nil {
			s.lettered[ev.ExecID] = true
		}
		if err := s.rt.DeadLettered(ctx, msgs[0].Body, maxReceives); err != nil {
			if isInjected(err) {
				return false, nil
			}
			return false, err
		}
		return false, s.deadLetters.Delete(ctx, msgs[0].Handle)
	}
	// Nothing visible: the remote side of sim.async completes what it
	// was handed; else sweep, fire the triggers, then let time pass.
	if done, err := s.complete(ctx); err != nil || done {
		return false, err
	}
	if _, err := s.rc.Sweep(ctx); err != nil && !isInjected(err) {
		return false, err
	}
	if err := s.fire(ctx); err != nil {
		return false, err
	}
	e, err := s.store.Store.GetExecution(ctx, s.execID)
	if err != nil {
		return false, err
	}
	if e.State.Terminal() && s.events.Queue.Len() == 0 && s.tasks.Queue.Len() == 0 && s.timers.Queue.Len() == 0 && s.deadLetters.Len() == 0 && s.triggerDone(ctx) {
		return true, nil
	}
	s.now = s.now.Add(time.Duration(1+s.rng.IntN(20)) * time.Second)
	if s.trigger != nil && s.chance(0.02) {
		// The firers are down for a while: the fires missed meanwhile
		// make one execution.
		s.fault("firer-down")
		s.now = s.now.Add(time.Duration(2+s.rng.IntN(30)) * time.Minute)
	}
	if (s.paused || e.State == record.ExecPaused) && !s.cancelled {
		return false, s.command(ctx, record.OpResume)
	}
	return false, nil
}

// deliver hands one visible message of q to its handler, deleting it only
// when the handler succeeded, as the Lambda event source mapping does.
func (s *sim) deliver(ctx context.Context, q *faultQueue) (bool, error) {
	msgs, err := q.Queue.Receive(ctx, 1, 0, lease)
	if err != nil || len(msgs) == 0 {
		return false, err
	}
	m := msgs[0]
	if s.f.Lose && q == s.tasks && s.chance(0.01) {
		// Gone, as if to its dead-letter queue: only the reconciler's
		// look at the execution can heal what it carried.
		s.fault("lost")
		return true, q.Queue.Delete(ctx, m.Handle)
	}
	if s.f.Reorder && s.chance(0.1) {
		// Put it back for a while: others overtake it.
		s.fault("delay")
		return true, q.Queue.ChangeVisibility(ctx, m.Handle, time.Duration(1+s.rng.IntN(5))*time.Second)
	}
	if q == s.events && s.poisoned(m) {
		// The process dies applying it, every time: nothing is written,
		// no handler answers; the message comes back after its
		// visibility timeout until it is dead-lettered.
		if trace {
			fmt.Printf("t=%s step=%d %s recv=%d %s -> the process dies\n", s.now.Format("15:04:05"), s.steps, q.name, m.ReceiveCount, m.Body)
		}
		return true, nil
	}
	if len(s.delivered) >= 64 {
		s.delivered = s.delivered[1:]
	}
	s.delivered = append(s.delivered, delivered{q: q, out: queue.Out{Body: m.Body, Group: m.Group, DedupID: fmt.Sprintf("dup-%d-%s", s.steps, m.ID)}})
	var herr error
	switch q {
	case s.events:
		var ev record.Event
		if err := json.Unmarshal(m.Body, &ev); err != nil {
			return false, err
		}
		herr = s.rt.HandleEvent(ctx, ev)
	case s.timers:
		var tm record.TimerMessage
		if err := json.Unmarshal(m.Body, &tm); err != nil {
			return false, err
		}
		herr = s.rt.HandleTimer(ctx, tm)
	case s.tasks:
		var tm record.TaskMessage
		if err := json.Unmarshal(m.Body, &tm); err != nil {
			return false, err
		}
		hctx, stop := context.WithCancel(ctx)
		s.stopHandle = stop
		herr = s.wk.Handle(hctx, tm, nil)
		s.stopHandle = nil
		stop()
	}
	if trace {
		fmt.Printf("t=%s step=%d %s recv=%d %s -> %v\n", s.now.Format("15:04:05"), s.steps, q.name, m.ReceiveCount, m.Body, herr)
	}
	if herr != nil {
		if !isInjected(herr) && !errors.Is(herr, worker.ErrAttemptRunning) {
			return false, fmt.Errorf("%s handler: %w", q.name, herr)
		}
		if s.vanished && s.f.Lose && s.chance(0.3) {
			// The vanished worker's message is lost too: no redelivery
			// will find the expired lease, the reconciler must.
			s.fault("lost")
			return true, q.Queue.Delete(ctx, m.Handle)
		}
		// The handler "crashed", or kept a message whose attempt still
		// runs: it stays and comes back after its visibility timeout.
		return true, nil
	}
	if err := q.Queue.Delete(ctx, m.Handle); err != nil {
		return false, err
	}
	return true, nil
}

// poisoned reports whether an engine message carries the event on which
// the process dies (Faults.Poison): the poisonAt-th event delivered, and
// every copy of it after.
func (s *sim) poisoned(m queue.Message) bool {
	var ev record.Event
	if json.Unmarshal(m.Body, &ev) != nil {
		return false
	}
	s.eventDeliveries++
	if s.poisonAt > 0 && s.eventDeliveries == s.poisonAt && s.poison == "" {
		s.poison = ev.ID
		s.fault("poison")
	}
	return s.poison != "" && ev.ID == s.poison
}

// command sends pause, resume or cancel through the engine queue, and
// after a pause or cancel re-sends stale copies of earlier task messages:
// none may run an attempt again or run while the execution is not RUNNING.
func (s *sim) command(ctx context.Context, op string) error {
	e, err := s.store.Store.GetExecution(ctx, s.execID)
	if err != nil {
		return err
	}
	if e.State.Terminal() {
		s.paused = false
		return nil
	}
	s.fault(op)
	out, err := queue.EventOut(engine.CommandEvent(s.execID, op, record.Command{}, fmt.Sprintf("%d", s.steps)))
	if err != nil {
		return err
	}
	if err := s.events.Queue.Send(ctx, out); err != nil {
		return err
	}
	s.paused = op == record.OpPause
	if op == record.OpCancel {
		s.cancelled, s.paused = true, false
	}
	if op == record.OpPause || op == record.OpCancel {
		stale := 0
		for _, d := range slices.Backward(s.delivered) {
			if d.q == s.tasks && stale < 3 {
				stale++
				s.fault("stale")
				if err := s.tasks.Queue.Send(ctx, d.out); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// arm picks, for the next delivery, a store or queue call at which the
// handler crashes, or the sends after a commit that are lost.
func (s *sim) arm() {
	if s.f.Crash && s.chance(0.08) {
		s.store.crashAt = 1 + s.rng.IntN(6)
	}
	if s.f.DropAfter && s.chance(0.05) {
		q := []*faultQueue{s.events, s.tasks, s.timers}[s.rng.IntN(3)]
		q.failAt = 1
	}
}

// actions are the simulation's actions: each records that it ran, and checks
// that its execution is RUNNING when it starts (invariant 2).
func (s *sim) actions() map[string]action.Action {
	check := func(ctx context.Context, in action.Input) error {
		key := in.IdempotencyKey
		s.ran[key]++
		if n := s.ran[key]; n > 1 {
			s.violate("attempt %s ran %d times (invariant 2: claim before run)", key, n)
		}
		e, err := s.store.Store.GetExecution(ctx, in.ExecutionID)
		if err != nil {
			return err
		}
		if e.State != record.ExecRunning {
			s.violate("attempt %s started while its execution was %s (invariant 7)", key, e.State)
		}
		if s.f.Stop && s.stopHandle != nil && s.chance(0.03) {
			// SIGTERM while the action runs: it sees its context end and
			// stops; the worker records the attempt as interrupted.
			s.fault("sigterm")
			s.stopHandle()
			<-ctx.Done()
			return ctx.Err()
		}
		if s.f.LeaseExpiry && !s.inAction && s.chance(0.04) {
			if s.chance(0.5) {
				// The worker vanishes mid-action: it records nothing and
				// never deletes its message, which comes back when its
				// lease has expired and ends the attempt.
				s.fault("vanish")
				s.vanished = true
				s.store.crashAt, s.store.calls = 1, 0
				return nil
			}
			// The worker stalls: time passes beyond its lease and past
			// the execution's next look, and the reconciler ends the
			// attempt while it "runs"; its outcome then comes too late.
			s.fault("lease-expiry")
			s.inAction = true
			s.now = s.now.Add(lease + time.Second)
			if e.Due.After(s.now) {
				s.now = e.Due
			}
			_, _ = s.rc.Sweep(ctx)
			s.inAction = false
		}
		return nil
	}
	return map[string]action.Action{
		// sim.work returns its input "value".
		"sim.work": action.Func(func(ctx context.Context, in action.Input) (any, error) {
			if err := check(ctx, in); err != nil {
				return nil, err
			}
			return in.Params["value"], nil
		}),
		// sim.flaky fails until its attempt reaches "succeed_on".
		"sim.flaky": action.Func(func(ctx context.Context, in action.Input) (any, error) {
			if err := check(ctx, in); err != nil {
				return nil, err
			}
			n, _ := in.Params["succeed_on"].(int64)
			if int64(in.Attempt) < n {
				return nil, fmt.Errorf("flaky: fails before attempt %d", n)
			}
			return in.Params["value"], nil
		}),
		// sim.big returns a string of "kib" KiB.
		"sim.big": action.Func(func(ctx context.Context, in action.Input) (any, error) {
			if err := check(ctx, in); err != nil {
				return nil, err
			}
			n, _ := in.Params["kib"].(int64)
			return strings.Repeat("z", int(n)<<10), nil
		}),
		// sim.async leaves its attempt awaiting a completion with "value".
		"sim.async": s.asyncAction(check),
		// sim.final fails with an error it marks final: no retry applies.
		"sim.final": action.Func(func(ctx context.Context, in action.Input) (any, error) {
			if err := check(ctx, in); err != nil {
				return nil, err
			}
			return nil, action.NonRetryable(errors.New("final: another attempt cannot help"))
		}),
	}
}

// errInjected marks failures the simulation injected.
var errInjected = errors.New("injected fault")

func isInjected(err error) bool { return errors.Is(err, errInjected) }

// faultStore fails every call from the crashAt-th one on, until reset: the
// process died there.
type faultStore struct {
	store.Store
	s       *sim
	crashAt int // 0: no crash armed
	calls   int
}

func (f *faultStore) reset() { f.crashAt, f.calls = 0, 0 }

func (f *faultStore) hit() error {
	if f.crashAt == 0 {
		return nil
	}
	f.calls++
	if f.calls >= f.crashAt {
		if f.calls == f.crashAt {
			f.s.fault("crash")
		}
		return fmt.Errorf("crash at store call %d: %w", f.calls, errInjected)
	}
	return nil
}

func (f *faultStore) GetExecution(ctx context.Context, id string) (*record.Execution, error) {
	if err := f.hit(); err != nil {
		return nil, err
	}
	return f.Store.GetExecution(ctx, id)
}

func (f *faultStore) CommitExecution(ctx context.Context, e *record.Execution) error {
	if err := f.hit(); err != nil {
		return err
	}
	return f.Store.CommitExecution(ctx, e)
}

func (f *faultStore) CreateExecution(ctx context.Context, e *record.Execution) error {
	if err := f.hit(); err != nil {
		return err
	}
	return f.Store.CreateExecution(ctx, e)
}

func (f *faultStore) CreateTask(ctx context.Context, t *record.Task) error {
	if err := f.hit(); err != nil {
		return err
	}
	return f.Store.CreateTask(ctx, t)
}

func (f *faultStore) FinishTask(ctx context.Context, t *record.Task) error {
	if err := f.hit(); err != nil {
		return err
	}
	return f.Store.FinishTask(ctx, t)
}

func (f *faultStore) CreateUnit(ctx context.Context, u *record.Unit) error {
	if err := f.hit(); err != nil {
		return err
	}
	return f.Store.CreateUnit(ctx, u)
}

func (f *faultStore) SetDue(ctx context.Context, id string, version int64, due time.Time) error {
	if err := f.hit(); err != nil {
		return err
	}
	return f.Store.SetDue(ctx, id, version, due)
}

func (f *faultStore) ListTriggers(ctx context.Context, q store.TriggerQuery) ([]*record.Trigger, string, error) {
	if err := f.hit(); err != nil {
		return nil, "", err
	}
	return f.Store.ListTriggers(ctx, q)
}

func (f *faultStore) AdvanceTrigger(ctx context.Context, t *record.Trigger, next time.Time) error {
	if err := f.hit(); err != nil {
		return err
	}
	return f.Store.AdvanceTrigger(ctx, t, next)
}

func (f *faultStore) UpdateUnit(ctx context.Context, k record.UnitKey, x record.Expect, c record.UnitChange) (*record.Unit, error) {
	if err := f.hit(); err != nil {
		return nil, err
	}
	return f.Store.UpdateUnit(ctx, k, x, c)
}

// faultQueue fails sends from the failAt-th one on, until reset: the sends
// after a commit are lost and the handler fails.
type faultQueue struct {
	*qmem.Queue
	s      *sim
	name   string
	fifo   bool
	failAt int
	calls  int
}

func (f *faultQueue) reset() { f.failAt, f.calls = 0, 0 }

func (f *faultQueue) Send(ctx context.Context, out ...queue.Out) error {
	if f.failAt > 0 {
		f.calls++
		if f.calls >= f.failAt {
			f.s.fault("drop-after-commit")
			return fmt.Errorf("send to %s dropped: %w", f.name, errInjected)
		}
	}
	if f.s.f.Reorder && !f.fifo && f.s.chance(0.2) {
		// Delay some messages of standard queues.
		for i := range out {
			out[i].Delay = min(out[i].Delay+time.Duration(1+f.s.rng.IntN(3))*time.Second, queue.MaxDelay)
		}
	}
	return f.Queue.Send(ctx, out...)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Compare reports how got differs from want, the fault-free run's document:
// state, output and every task execution (per name, in start order).
func Compare(want, got *runtime.Document) []string {
	var diffs []string
	if want.State != got.State {
		diffs = append(diffs, fmt.Sprintf("state %s, fault-free run %s", got.State, want.State))
	}
	if !jsonEqual(want.Output, got.Output) {
		diffs = append(diffs, fmt.Sprintf("output %s, fault-free run %s", got.Output, want.Output))
	}
	byName := func(d *runtime.Document) map[string][]runtime.TaskDocument {
		m := map[string][]runtime.TaskDocument{}
		for _, t := range d.Tasks {
			m[t.Name] = append(m[t.Name], t)
		}
		return m
	}
	w, g := byName(want), byName(got)
	names := make([]string, 0, len(w)+len(g))
	for n := range w {
		names = append(names, n)
	}
	for n := range g {
		if _, ok := w[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		if len(w[n]) != len(g[n]) {
			diffs = append(diffs, fmt.Sprintf("task %s ran %d times, fault-free run %d", n, len(g[n]), len(w[n])))
			continue
		}
		for i := range w[n] {
			a, b := w[n][i], g[n][i]
			if a.State != b.State || !jsonEqual(a.Published, b.Published) || !jsonEqual(a.Result, b.Result) {
				diffs = append(diffs, fmt.Sprintf("task %s #%d: %s %s %s, fault-free run %s %s %s", n, i+1, b.State, b.Published, b.Result, a.State, a.Published, a.Result))
			}
		}
	}
	return diffs
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// Summary is the one-line result of many runs.
func Summary(seeds, violations int) string {
	return fmt.Sprintf("simulation: %d seeds, %d violations", seeds, violations)
}

var _ = strings.TrimSpace
