// Package runtime drives the engine against a Store and Queues: it loads an
// execution's head, asks the engine for the next step, performs the step's
// writes, commits the head, and carries out the step's effects — in that
// order, so that a crash at any point is healed by redelivery (docs/protocol.md,
// "Commit, then send").
//
// The same Runtime serves the Lambda functions and the embedded mode; only
// the adapters behind its ports differ.
package runtime

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/borawf/bora/internal/dsl"
	"github.com/borawf/bora/internal/engine"
	"github.com/borawf/bora/internal/expr"
	"github.com/borawf/bora/internal/queue"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

// Runtime carries out engine steps. Its zero value is not usable; fill the
// ports and call Validate (or use it through a constructor that does).
type Runtime struct {
	Store  store.Store
	Events queue.Queue // the engine queue (FIFO, grouped by execution)
	Tasks  queue.Queue // the task queue
	Timers queue.Queue // the timer queue
	Log    *slog.Logger
	Now    func() time.Time
	// Parallel bounds the concurrent writes of one step (a with-items
	// task creates many units at once). Default 16.
	Parallel int
	// Limits bound what executions may build (engine.Limits); zero
	// fields take the defaults.
	Limits engine.Limits

	defs defCache
}

// Validate fills defaults and reports missing ports.
func (r *Runtime) Validate() error {
	var errs []error
	if r.Store == nil {
		errs = append(errs, errors.New("runtime: no store"))
	}
	if r.Events == nil {
		errs = append(errs, errors.New("runtime: no engine queue"))
	}
	if r.Tasks == nil {
		errs = append(errs, errors.New("runtime: no task queue"))
	}
	if r.Timers == nil {
		errs = append(errs, errors.New("runtime: no timer queue"))
	}
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	r.Parallel = cmp.Or(r.Parallel, 16)
	if err := r.Limits.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("runtime: %w", err))
	}
	return errors.Join(errs...)
}

// HandleEvent applies one engine event. A nil error means the message may be
// deleted: the event was applied, or it was recognised as already applied or
// stale, or it can never be applied and its execution was failed for it. An
// error means it must be delivered again.
//
// An event fails for good, at once, when the engine itself fails on it (the
// engine is pure: it would fail the same way on every delivery), panics, or
// makes a record larger than the store holds. Then its execution ends in
// ERROR with a state_info that says why (FailExecution), rather than the
// event being retried until it is dead-lettered.
func (r *Runtime) HandleEvent(ctx context.Context, ev record.Event) error {
	log := r.Log.With("execution_id", ev.ExecID, "event", ev.ID)
	head, err := r.Store.GetExecution(ctx, ev.ExecID)
	if errors.Is(err, store.ErrNotFound) {
		log.Warn("event for an unknown execution dropped")
		return nil
	}
	if err != nil {
		return fmt.Errorf("load execution %s: %w", ev.ExecID, err)
	}
	bundle, wf, err := r.workflow(ctx, head)
	if err != nil {
		return err
	}
	if head.Version == 0 && ev.Kind != record.EventStart && (ev.Command == nil || ev.Command.Op != record.OpFail) {
		// An execution's first step is its start. An event that comes
		// before its start event — a command sent while the request that
		// created the execution was taking the first step, which it then
		// left to the engine — goes back into the group behind the start
		// event, so that each step is still taken by the handler of its
		// own event. (A fail command is not deferred: it is sent when an
		// event, perhaps the start, cannot be applied at all.)
		log.Info("event before the start: sent again behind the start event")
		return r.afterStart(ctx, ev)
	}
	return r.take(ctx, log, head, bundle, wf, ev)
}

// take applies one event to the head read for it, failing the execution
// when the event cannot be applied at all.
func (r *Runtime) take(ctx context.Context, log *slog.Logger, head *record.Execution, bundle *dsl.Bundle, wf *dsl.Workflow, ev record.Event) error {
	ev, err := r.orphan(ctx, head, ev)
	if err != nil {
		return err
	}
	err = r.apply(ctx, log, head, bundle, wf, ev)
	var perm *permanentError
	if !errors.As(err, &perm) || ctx.Err() != nil {
		return err
	}
	log.Error("engine event cannot be applied; failing its execution", "err", perm.err)
	if ferr := r.FailExecution(ctx, ev.ExecID, fmt.Sprintf("engine event %s could not be applied: %v", ev.ID, perm.err)); ferr != nil {
		return errors.Join(err, ferr)
	}
	return nil
}

// orphan turns the start event of a sub-workflow whose parent has ended
// into a cancel: the parent's cancel reaches its running children only
// after their start (their queue holds the start first), and a child that
// started its own children first would let a cancelled tree go on growing.
// It costs one read of the parent per sub-workflow start, and a listing of
// the child's tasks when the parent has ended.
func (r *Runtime) orphan(ctx context.Context, head *record.Execution, ev record.Event) (record.Event, error) {
	if ev.Kind != record.EventStart || head.ParentID == "" || head.Version != 0 {
		return ev, nil
	}
	parent, err := r.Store.GetExecution(ctx, head.ParentID)
	if errors.Is(err, store.ErrNotFound) {
		return ev, nil
	}
	if err != nil {
		return ev, fmt.Errorf("execution %s: read its parent %s: %w", head.ID, head.ParentID, err)
	}
	if !parent.State.Terminal() {
		return ev, nil
	}
	// A start cut short after its writes (the start tasks' records made,
	// the head not committed) is taken again instead: a cancel would not
	// know those records and leave them SCHEDULED. The parent's end sent
	// this child a cancel, which comes after the start and ends them.
	if tasks, err := r.Store.ListTasks(ctx, head.ID); err != nil {
		return ev, fmt.Errorf("execution %s: %w", head.ID, err)
	} else if len(tasks) > 0 {
		return ev, nil
	}
	msg := fmt.Sprintf("Not started: the parent execution %s ended %s first", parent.ID, parent.State)
	return engine.CommandEvent(head.ID, record.OpCancel, record.Command{Msg: msg}, ev.ID), nil
}

// workflow loads the pinned workflow of an execution.
func (r *Runtime) workflow(ctx context.Context, head *record.Execution) (*dsl.Bundle, *dsl.Workflow, error) {
	bundle, err := r.defs.load(ctx, r.Store, head.DefName, head.DefVer)
	if err != nil {
		return nil, nil, fmt.Errorf("execution %s: %w", head.ID, err)
	}
	wf, ok := bundle.Workflows[head.Workflow]
	if !ok {
		return nil, nil, fmt.Errorf("execution %s: workflow %q is not in definition %s v%d", head.ID, head.Workflow, head.DefName, head.DefVer)
	}
	return bundle, wf, nil
}

// permanentError is a failure to apply an event that a new delivery would
// meet again.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// apply takes one engine step: Step, the writes before the commit, the
// commit, the effects. Its error is a *permanentError when trying again
// cannot help.
func (r *Runtime) apply(ctx context.Context, log *slog.Logger, head *record.Execution, bundle *dsl.Bundle, wf *dsl.Workflow, ev record.Event) error {
	out, err := r.step(log, r.input(ctx, head, bundle, wf, ev))
	if err != nil {
		if !engine.IsTransient(err) {
			err = &permanentError{err}
		}
		return fmt.Errorf("execution %s: step %s: %w", ev.ExecID, ev.ID, err)
	}
	then, err := r.before(ctx, out.Before)
	if err != nil {
		return fmt.Errorf("execution %s: step %s: %w", ev.ExecID, ev.ID, sizeIsFinal(err))
	}
	if out.Exec != nil {
		if err := r.Store.CommitExecution(ctx, out.Exec); err != nil {
			return fmt.Errorf("execution %s: commit step %s: %w", ev.ExecID, ev.ID, sizeIsFinal(err))
		}
		if out.Exec.State != head.State {
			log.Info("execution state changed", "from", head.State, "to", out.Exec.State)
		}
	}
	if err := r.perform(ctx, append(then, out.After...)); err != nil {
		return fmt.Errorf("execution %s: effects of step %s: %w", ev.ExecID, ev.ID, err)
	}
	return nil
}

// input is the engine's input for applying ev to head.
func (r *Runtime) input(ctx context.Context, head *record.Execution, bundle *dsl.Bundle, wf *dsl.Workflow, ev record.Event) engine.Input {
	return engine.Input{
		Exec:     head,
		Workflow: wf,
		Defs:     &definitions{ctx: ctx, r: r, bundle: bundle, name: head.DefName, ver: head.DefVer},
		Event:    ev,
		Now:      r.Now(),
		Read:     &reader{ctx: ctx, s: r.Store, exec: ev.ExecID},
		Limits:   r.Limits,
	}
}

// step runs engine.Step, turning a panic into a permanent error: a bug, or
// data the engine cannot handle, fails the execution it met, not the
// process that runs every other one.
func (r *Runtime) step(log *slog.Logger, in engine.Input) (out engine.Output, err error) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("engine panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			out, err = engine.Output{}, fmt.Errorf("internal error in the engine: %v", p)
		}
	}()
	return engine.Step(in)
}

// sizeIsFinal makes a store's refusal of a record over its size limit a
// permanent error: the same step would write the same record again.
func sizeIsFinal(err error) error {
	var tl *store.TooLargeError
	if errors.As(err, &tl) {
		return &permanentError{err}
	}
	return err
}

// HandleTimer turns a due timer into an engine event, or delays it again
// when it is further away than a queue can delay a message.
func (r *Runtime) HandleTimer(ctx context.Context, tm record.TimerMessage) error {
	if wait := tm.Due.Sub(r.Now()); wait > 0 {
		return r.sendTimers(ctx, []record.TimerMessage{tm})
	}
	return r.sendEvents(ctx, []record.Event{tm.Event})
}

// before performs a step's pre-commit writes. An ErrExists on a create or
// an ErrConflict on a guarded write means an earlier run of the same step
// already made it. It returns the effects to perform after the commit for
// guarded moves that succeeded.
func (r *Runtime) before(ctx context.Context, writes []engine.Write) ([]engine.Effect, error) {
	var (
		mu   sync.Mutex
		then []engine.Effect
	)
	err := r.each(ctx, len(writes), func(i int) error {
		w := writes[i]
		switch {
		case w.CreateTask != nil:
			return ignore(r.Store.CreateTask(ctx, w.CreateTask), store.ErrExists)
		case w.CreateUnit != nil:
			return ignore(r.Store.CreateUnit(ctx, w.CreateUnit), store.ErrExists)
		case w.FinishTask != nil:
			return ignore(r.Store.FinishTask(ctx, w.FinishTask), store.ErrConflict)
		case w.MoveUnit != nil:
			ok, err := r.move(ctx, w.MoveUnit)
			if ok && w.MoveUnit.Then != nil {
				mu.Lock()
				then = append(then, *w.MoveUnit.Then)
				mu.Unlock()
			}
			return err
		}
		return fmt.Errorf("write %d sets nothing", i)
	})
	return then, err
}

// move applies a guarded unit change and reports whether it took effect.
func (r *Runtime) move(ctx context.Context, m *engine.MoveUnit) (bool, error) {
	_, err := r.Store.UpdateUnit(ctx, m.Key, m.Expect, m.Change)
	if errors.Is(err, store.ErrConflict) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("move unit %s: %w", m.Key, err)
	}
	return true, nil
}

// sends collects a step's messages so that each queue gets batched sends.
type sends struct {
	mu     sync.Mutex
	tasks  []record.TaskMessage
	events []record.Event
	timers []record.TimerMessage
}

// add takes e if it is a send and reports whether it was.
func (s *sends) add(e engine.Effect) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case e.SendTask != nil:
		s.tasks = append(s.tasks, *e.SendTask)
	case e.SendEvent != nil:
		s.events = append(s.events, *e.SendEvent)
	case e.SendTimer != nil:
		s.timers = append(s.timers, *e.SendTimer)
	default:
		return false
	}
	return true
}

// perform carries out post-commit effects: child starts, unit ranges and
// guarded moves first (their follow-up sends join the batches), then the
// sends, one batched call per queue.
func (r *Runtime) perform(ctx context.Context, effects []engine.Effect) error {
	var (
		out  sends
		rest []engine.Effect
	)
	for _, e := range effects {
		if !out.add(e) {
			rest = append(rest, e)
		}
	}
	err := r.each(ctx, len(rest), func(i int) error {
		e := rest[i]
		switch {
		case e.StartChild != nil:
			if err := ignore(r.Store.CreateExecution(ctx, e.StartChild), store.ErrExists); err != nil {
				return fmt.Errorf("start child %s: %w", e.StartChild.ID, err)
			}
			start := engine.StartEvent(e.StartChild.ID)
			out.add(engine.Effect{SendEvent: &start})
		case e.SendUnits != nil:
			msgs, err := r.unitRange(ctx, e.SendUnits)
			if err != nil {
				return err
			}
			for _, m := range msgs {
				out.add(engine.Effect{SendTask: &m})
			}
		case e.EndWaits != nil:
			return r.endWaits(ctx, e.EndWaits)
		case e.MoveUnit != nil:
			ok, err := r.move(ctx, e.MoveUnit)
			if err != nil {
				return err
			}
			if ok && e.MoveUnit.Then != nil && !out.add(*e.MoveUnit.Then) {
				return fmt.Errorf("move unit %s: its follow-up must be a send", e.MoveUnit.Key)
			}
		default:
			return errors.New("effect sets nothing")
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := r.sendTasks(ctx, out.tasks); err != nil {
		return err
	}
	if err := r.sendTimers(ctx, out.timers); err != nil {
		return err
	}
	return r.sendEvents(ctx, out.events)
}

// unitRange carries out a SendUnits effect: the task messages of the
// SCHEDULED units in the range, resuming PAUSED ones first when asked.
func (r *Runtime) unitRange(ctx context.Context, ur *engine.UnitRange) ([]record.TaskMessage, error) {
	units, err := r.Store.ListUnits(ctx, ur.ExecID, ur.Task)
	if err != nil {
		return nil, fmt.Errorf("units of %s/%s: %w", ur.ExecID, ur.Task, err)
	}
	var msgs []record.TaskMessage
	for _, u := range units {
		if u.Item < ur.From || u.Item >= ur.To {
			continue
		}
		if ur.Resume && u.State == record.Paused {
			fence := engine.Fence(ur.Event, ur.Task, u.Item, u.Attempt)
			moved, err := r.Store.UpdateUnit(ctx, u.UnitKey,
				record.Expect{States: []record.State{record.Paused}, Attempt: u.Attempt, Fence: u.Fence},
				record.UnitChange{State: record.Scheduled, Fence: fence, Due: ur.Due})
			if errors.Is(err, store.ErrConflict) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("resume unit %s: %w", u.UnitKey, err)
			}
			u = moved
		}
		if u.State != record.Scheduled {
			continue
		}
		msgs = append(msgs, record.TaskMessage{ExecID: u.ExecID, Task: u.Task, Item: u.Item, Attempt: u.Attempt, Fence: u.Fence, Action: u.Action})
	}
	return msgs, nil
}

// endWaits carries out an EndWaits effect: the units of the range found
// awaiting their completion are ended CANCELLED. One read for a range of
// one unit, a listing of the task's units otherwise; a write per unit
// found waiting.
func (r *Runtime) endWaits(ctx context.Context, ur *engine.UnitRange) error {
	var units []*record.Unit
	if ur.To-ur.From == 1 {
		u, err := r.Store.GetUnit(ctx, record.UnitKey{ExecID: ur.ExecID, Task: ur.Task, Item: ur.From})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("units of %s/%s: %w", ur.ExecID, ur.Task, err)
		}
		if u != nil {
			units = append(units, u)
		}
	} else {
		var err error
		if units, err = r.Store.ListUnits(ctx, ur.ExecID, ur.Task); err != nil {
			return fmt.Errorf("units of %s/%s: %w", ur.ExecID, ur.Task, err)
		}
	}
	for _, u := range units {
		if u.Item < ur.From || u.Item >= ur.To || !u.Awaiting() {
			continue
		}
		if _, err := store.CancelWait(ctx, r.Store, u); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runtime) sendTasks(ctx context.Context, msgs []record.TaskMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	out := make([]queue.Out, len(msgs))
	for i, m := range msgs {
		body, err := json.Marshal(m)
		if err != nil {
			return err
		}
		out[i] = queue.Out{Body: body}
	}
	if err := r.Tasks.Send(ctx, out...); err != nil {
		return fmt.Errorf("send %d task messages: %w", len(out), err)
	}
	return nil
}

func (r *Runtime) sendEvents(ctx context.Context, evs []record.Event) error {
	if len(evs) == 0 {
		return nil
	}
	out := make([]queue.Out, len(evs))
	for i, ev := range evs {
		o, err := queue.EventOut(ev)
		if err != nil {
			return err
		}
		out[i] = o
	}
	return r.sendOut(ctx, out)
}

// afterStart sends the start event of ev's execution, then ev again, into
// the execution's group. The second sending of ev is deduplicated under an
// id of its own, or the queue would take it for the first.
func (r *Runtime) afterStart(ctx context.Context, ev record.Event) error {
	start, err := queue.EventOut(engine.StartEvent(ev.ExecID))
	if err != nil {
		return err
	}
	again, err := queue.EventOut(ev)
	if err != nil {
		return err
	}
	again.DedupID = "after-start/" + again.DedupID
	return r.sendOut(ctx, []queue.Out{start, again})
}

func (r *Runtime) sendOut(ctx context.Context, out []queue.Out) error {
	if err := r.Events.Send(ctx, out...); err != nil {
		return fmt.Errorf("send %d events: %w", len(out), err)
	}
	return nil
}

func (r *Runtime) sendTimers(ctx context.Context, tms []record.TimerMessage) error {
	if len(tms) == 0 {
		return nil
	}
	now := r.Now()
	out := make([]queue.Out, len(tms))
	for i, tm := range tms {
		body, err := json.Marshal(tm)
		if err != nil {
			return err
		}
		delay := min(max(tm.Due.Sub(now), 0), queue.MaxDelay)
		// Queues delay by whole seconds: round up so a timer never fires early.
		delay = (delay + time.Second - 1).Truncate(time.Second)
		out[i] = queue.Out{Body: body, Delay: min(delay, queue.MaxDelay)}
	}
	if err := r.Timers.Send(ctx, out...); err != nil {
		return fmt.Errorf("send %d timers: %w", len(out), err)
	}
	return nil
}

// each runs f for 0..n-1 with at most r.Parallel at once and returns the
// first error.
func (r *Runtime) each(ctx context.Context, n int, f func(i int) error) error {
	if n == 1 || r.Parallel == 1 {
		var errs error
		for i := range n {
			if err := f(i); err != nil {
				errs = errors.Join(errs, err)
			}
		}
		return errs
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs error
		sem  = make(chan struct{}, max(r.Parallel, 1))
	)
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(i); err != nil {
				mu.Lock()
				errs = errors.Join(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return cmp.Or(errs, ctx.Err())
}

func ignore(err, ok error) error {
	if errors.Is(err, ok) {
		return nil
	}
	return err
}

// reader gives the engine strongly consistent reads of one execution, for
// one step. A task and its unit of item 0 are one record: the first read of
// either reads both, and the step's other reads of them are served from it.
type reader struct {
	ctx   context.Context
	s     store.Store
	exec  string
	tasks map[string]*record.Task
}

// Its errors are transient (engine.Transient): the store did not answer.
func (r *reader) Task(key string) (*record.Task, error) {
	if t, ok := r.tasks[key]; ok {
		c := *t
		return &c, nil
	}
	t, err := r.s.GetTask(r.ctx, r.exec, key)
	if err != nil {
		return nil, engine.Transient(err)
	}
	if r.tasks == nil {
		r.tasks = make(map[string]*record.Task)
	}
	r.tasks[key] = t
	c := *t
	return &c, nil
}

// maxListedExecutions bounds what executions() reads: past it the
// expression fails and asks for a narrower query.
const maxListedExecutions = 1000

// Executions answers executions() (engine.ExecutionReader): by id with one
// read, else by listing the heads, newest first, at most
// maxListedExecutions of them.
func (r *reader) Executions(q expr.ExecutionsQuery) ([]*record.Execution, error) {
	match := func(e *record.Execution) bool {
		return (q.ID == "" || e.ID == q.ID) && (q.State == "" || string(e.State) == q.State) &&
			(q.RootID == "" || engine.RootOf(e) == q.RootID) &&
			(q.From.IsZero() || !e.CreatedAt.Before(q.From)) && (q.To.IsZero() || e.CreatedAt.Before(q.To))
	}
	if q.ID != "" {
		e, err := r.s.GetExecution(r.ctx, q.ID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, engine.Transient(err)
		}
		if !match(e) {
			return nil, nil
		}
		return []*record.Execution{e}, nil
	}
	var out []*record.Execution
	lq := store.ListQuery{State: record.ExecState(q.State), Limit: 100}
	for seen := 0; ; {
		page, next, err := r.s.ListExecutions(r.ctx, lq)
		if err != nil {
			return nil, engine.Transient(err)
		}
		for _, e := range page {
			if !q.From.IsZero() && e.CreatedAt.Before(q.From) {
				return out, nil // newest first: the rest are older
			}
			if match(e) {
				out = append(out, e)
			}
		}
		if seen += len(page); next == "" {
			return out, nil
		}
		if seen >= maxListedExecutions {
			return nil, fmt.Errorf("executions(): more than %d executions to look at; narrow the query with state, from_time or id", maxListedExecutions)
		}
		lq.Cursor = next
	}
}

func (r *reader) Unit(k record.UnitKey) (*record.Unit, error) {
	if k.Item != 0 {
		u, err := r.s.GetUnit(r.ctx, k)
		return u, engine.Transient(err)
	}
	t, err := r.Task(k.Task)
	if err != nil {
		return nil, fmt.Errorf("unit %s: %w", k, err)
	}
	if t.Unit == nil {
		return nil, fmt.Errorf("unit %s: %w", k, store.ErrNotFound)
	}
	u := *t.Unit
	return &u, nil
}

func (r *reader) Units(task string) ([]*record.Unit, error) {
	us, err := r.s.ListUnits(r.ctx, r.exec, task)
	return us, engine.Transient(err)
}

// definitions resolves sub-workflows: first in the parent's own document,
// then as the latest stored definition of that name.
type definitions struct {
	ctx    context.Context
	r      *Runtime
	bundle *dsl.Bundle
	name   string
	ver    int
}

func (d *definitions) Workflow(name string) (*dsl.Workflow, string, int, error) {
	if wf, ok := d.bundle.Workflows[name]; ok {
		return wf, d.name, d.ver, nil
	}
	_, ver, err := d.r.Store.GetDefinition(d.ctx, name, 0)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", 0, fmt.Errorf("workflow %q: %w", name, err)
	}
	if err != nil {
		return nil, "", 0, engine.Transient(fmt.Errorf("workflow %q: %w", name, err))
	}
	b, err := d.r.defs.load(d.ctx, d.r.Store, name, ver)
	if err != nil {
		return nil, "", 0, engine.Transient(err)
	}
	wf, ok := b.Workflows[name]
	if !ok {
		return nil, "", 0, fmt.Errorf("definition %s v%d has no workflow %q", name, ver, name)
	}
	return wf, name, ver, nil
}

// defCache holds compiled definitions; versions are immutable, so entries
// never go stale.
type defCache struct {
	mu sync.Mutex
	m  map[defKey]*dsl.Bundle
}

type defKey struct {
	name string
	ver  int
}

func (c *defCache) load(ctx context.Context, s store.Store, name string, ver int) (*dsl.Bundle, error) {
	c.mu.Lock()
	b := c.m[defKey{name, ver}]
	c.mu.Unlock()
	if b != nil {
		return b, nil
	}
	src, _, err := s.GetDefinition(ctx, name, ver)
	if err != nil {
		return nil, fmt.Errorf("load definition %s v%d: %w", name, ver, err)
	}
	b, diags := dsl.Load(name, src)
	if err := diags.Err(); err != nil {
		return nil, fmt.Errorf("definition %s v%d does not compile: %w", name, ver, err)
	}
	c.put(name, ver, b)
	return b, nil
}

// put keeps b as version ver of definition name. A bundle loaded under
// another file name is kept as a copy named after the definition, as load
// would have compiled it from the stored source.
func (c *defCache) put(name string, ver int, b *dsl.Bundle) {
	if b.File != name {
		named := *b
		named.File = name
		b = &named
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[defKey]*dsl.Bundle)
	}
	c.m[defKey{name, ver}] = b
	c.mu.Unlock()
}

// FailExecution ends an execution in ERROR when one of its engine events
// cannot be applied at all, so that the execution does not hang silently.
// It applies the engine's fail command (record.OpFail) directly, not through
// the queue, whose next message in the execution's group is the very event
// that failed: work in flight is cancelled and a parent is told, as when a
// task fails the execution. If even that step cannot be taken (the head is
// what is broken), the head alone is written ERROR, and a parent is still
// told. A final execution is left alone.
//
// Call it only while holding an event of the execution's group (its
// handler, before the message is deleted): the step's writes before its
// commit are harmless only because, should the commit not happen, the
// next step of the execution is this one again (docs/protocol.md, rule 5).
// Beside the group, as the dead-letter queue's handler is, send the fail
// command instead (DeadLettered).
func (r *Runtime) FailExecution(ctx context.Context, id, reason string) error {
	log := r.Log.With("execution_id", id)
	head, err := r.Store.GetExecution(ctx, id)
	if err != nil {
		return fmt.Errorf("fail execution %s: %w", id, err)
	}
	if head.State.Terminal() {
		return nil
	}
	ev := engine.CommandEvent(id, record.OpFail, record.Command{Msg: reason}, "")
	bundle, wf, err := r.workflow(ctx, head)
	if err == nil {
		err = r.apply(ctx, log, head, bundle, wf, ev)
		if err == nil {
			log.Error("execution failed: an engine event could not be applied", "reason", reason)
			return nil
		}
		var perm *permanentError
		if !errors.As(err, &perm) {
			return fmt.Errorf("fail execution %s: %w", id, err)
		}
	}
	log.Error("the engine cannot fail the execution; writing its head", "err", err)
	return r.failHead(ctx, head, reason)
}

// failHead writes an execution's head ERROR without the engine, and tells
// its parent, as the engine's end of an execution would.
func (r *Runtime) failHead(ctx context.Context, head *record.Execution, reason string) error {
	info := r.Limits.WithDefaults().InfoBytes
	if len(reason) > info {
		reason = reason[:info]
	}
	out, err := json.Marshal(map[string]string{"result": reason})
	if err != nil {
		return fmt.Errorf("fail execution %s: %w", head.ID, err)
	}
	head.State, head.StateInfo, head.Output = record.ExecError, reason, out
	head.Due = time.Time{}
	head.Version++
	head.UpdatedAt = r.Now()
	if err := r.Store.CommitExecution(ctx, head); err != nil {
		return fmt.Errorf("fail execution %s: %w", head.ID, err)
	}
	return r.tellParent(ctx, head)
}

// tellParent sends a final child's child-done event to its parent, if it
// has one. The parent takes a child's end once: a second event is a
// duplicate (the same id) or stale.
func (r *Runtime) tellParent(ctx context.Context, head *record.Execution) error {
	if task, item, ok := engine.ParseParentKey(head.ParentKey); ok && head.ParentID != "" {
		done := engine.ChildDoneEvent(head, task, item)
		if err := r.sendEvents(ctx, []record.Event{done}); err != nil {
			return fmt.Errorf("tell the parent of %s: %w", head.ID, err)
		}
	}
	return nil
}

// Poisoned handles an engine event that failed for the last time: it fails
// the event's execution with a state_info that says why.
func (r *Runtime) Poisoned(ctx context.Context, body []byte, receives int, cause error) error {
	var ev record.Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ExecID == "" {
		r.Log.Error("undecodable engine message dead-lettered", "err", cause)
		return nil
	}
	return r.FailExecution(ctx, ev.ExecID, fmt.Sprintf("engine event %s failed on %d deliveries and was dead-lettered: %v", ev.ID, receives, cause))
}

// lastEffects carries out the effects of a dead-lettered event when it is
// the last one applied to its execution, now final: its step committed,
// but every delivery may have stopped before its effects were carried out
// (a parent told of its child's end), and no later event of the execution
// will carry them out. A final execution's effects start nothing.
func (r *Runtime) lastEffects(ctx context.Context, head *record.Execution, ev record.Event) error {
	after, last, err := engine.Outbox(head, ev.ID)
	if err != nil {
		r.Log.Error("dead-lettered event of a final execution: its effects cannot be read", "execution_id", head.ID, "event", ev.ID, "err", err)
		return nil
	}
	if !last || len(after) == 0 {
		return nil
	}
	if err := r.perform(ctx, after); err != nil {
		return fmt.Errorf("execution %s: effects of dead-lettered step %s: %w", head.ID, ev.ID, err)
	}
	return nil
}

// DeadLettered handles an engine event found in the engine queue's
// dead-letter queue. An event whose handler failed on its last delivery
// has failed its execution already (Poisoned); one that reached the
// dead-letter queue with its execution still going is one whose every
// delivery stopped the process applying it (a crash, memory or time run
// out), since no handler returned to say why. Its execution is failed, so
// that a crash loop on one event ends with that execution in ERROR while
// the others go on. The caller deletes the message once this returns nil.
//
// The dead letter is out of its execution's group, which goes on with the
// events behind it, so the fail step is not taken here but sent into the
// group as an event (its id fixed by the dead letter's), to be applied in
// its turn: a fail step taken beside the group could write before its
// commit (tasks finished CANCELLED, units cancelled), lose the commit to
// the group's next step, and leave those writes in an execution that goes
// on. A fail command that is itself dead-lettered is one the engine cannot
// take at all: the head alone is written ERROR with its reason. The dead
// letter of a final execution's last step has that step's effects carried
// out (lastEffects), and that of a fail command tells the parent of a
// final child again, in case the head was written here and the parent was
// not told.
func (r *Runtime) DeadLettered(ctx context.Context, body []byte, receives int) error {
	var ev record.Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ExecID == "" {
		r.Log.Error("undecodable engine message in the dead-letter queue dropped", "body", string(body[:min(len(body), 512)]))
		return nil
	}
	head, err := r.Store.GetExecution(ctx, ev.ExecID)
	if errors.Is(err, store.ErrNotFound) {
		r.Log.Warn("dead-lettered event of an unknown execution dropped", "execution_id", ev.ExecID, "event", ev.ID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("fail execution %s: %w", ev.ExecID, err)
	}
	failCmd := ev.Kind == record.EventCommand && ev.Command != nil && ev.Command.Op == record.OpFail
	if head.State.Terminal() {
		if failCmd {
			// An earlier delivery of this dead letter may have written
			// the head (failHead) and stopped before telling the parent.
			if err := r.tellParent(ctx, head); err != nil {
				return err
			}
		}
		return r.lastEffects(ctx, head, ev)
	}
	if failCmd {
		r.Log.Error("the engine cannot fail the execution; writing its head", "execution_id", ev.ExecID, "event", ev.ID)
		return r.failHead(ctx, head, ev.Command.Msg)
	}
	reason := fmt.Sprintf(
		"engine event %s was dead-lettered after %d deliveries without being applied: the process applying it stopped every time (it crashed, or ran out of memory or time)",
		ev.ID, receives)
	fail := engine.CommandEvent(ev.ExecID, record.OpFail, record.Command{Msg: reason}, ev.ID)
	if err := r.sendEvents(ctx, []record.Event{fail}); err != nil {
		return fmt.Errorf("fail execution %s: %w", ev.ExecID, err)
	}
	r.Log.Error("execution failing: an engine event was dead-lettered", "execution_id", ev.ExecID, "event", ev.ID, "fail", fail.ID)
	return nil
}
