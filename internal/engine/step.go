package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/borawf/bora/internal/dsl"
	"github.com/borawf/bora/internal/record"
)

// ResendAfter is how long a SCHEDULED unit's message may take to be
// claimed before the reconciler sends it again (the unit's Due). A task
// message is lost only when it reached its dead-letter queue, after as
// many receives as the queue allows, each hidden for a lease (or when its
// send failed after a commit, which the event's redelivery heals), so the
// reconciler waits long enough for a busy queue to hand out every
// message it holds, rather than send copies of messages still queued.
const ResendAfter = 10 * time.Minute

// MaxLostReruns bounds how many times safe-rerun runs one item again after
// its worker was lost. An action that always outlives its worker (one
// longer than the Lambda time limit) would otherwise run for ever; past the
// bound the loss is an ordinary task error.
const MaxLostReruns = 5

// rangeMin is the number of units of one task from which a step sends them
// with one SendUnits effect instead of one SendTask each.
const rangeMin = 9

// Step applies one event to an execution. See the package doc.
//
// Step is pure, so an error it returns is permanent (the same input fails
// the same way) unless it wraps an error of in.Read or in.Defs: the caller
// should fail the execution rather than retry, as runtime.Runtime does.
func Step(in Input) (out Output, err error) {
	defer func() {
		if p := recover(); p != nil {
			c, ok := p.(corrupt)
			if !ok {
				panic(p)
			}
			out, err = Output{}, fmt.Errorf("execution %s: event %s: %w", in.Exec.ID, in.Event.ID, c.err)
		}
	}()
	if in.Exec == nil {
		return Output{}, errors.New("step: no execution")
	}
	if in.Workflow == nil {
		return Output{}, fmt.Errorf("step %s: no workflow", in.Event.ID)
	}
	b, err := decodeBook(in.Exec.Engine)
	if err != nil {
		return Output{}, fmt.Errorf("execution %s: %w", in.Exec.ID, err)
	}
	if seen, last := b.applied(in.Event.ID); seen {
		if last {
			after, err := b.outbox()
			if err != nil {
				return Output{}, fmt.Errorf("execution %s: %w", in.Exec.ID, err)
			}
			return Output{After: after}, nil
		}
		return Output{}, nil
	}
	exec := *in.Exec
	s := &stepper{
		in:       in,
		wf:       in.Workflow,
		ev:       in.Event,
		exec:     &exec,
		b:        b,
		from:     in.Exec.State,
		tasks:    make(map[string]*record.Task),
		made:     make(map[string]*record.Task),
		outcomes: make(map[string]*outcome),
	}
	ok, err := s.dispatch()
	if err != nil {
		return Output{}, fmt.Errorf("execution %s: event %s: %w", in.Exec.ID, in.Event.ID, err)
	}
	if !ok {
		return Output{}, nil
	}
	if err := s.finalize(); err != nil {
		return Output{}, fmt.Errorf("execution %s: event %s: %w", in.Exec.ID, in.Event.ID, err)
	}
	s.dropSettled()
	s.setDue()
	if err := s.b.remember(in.Event.ID, s.after); err != nil {
		return Output{}, fmt.Errorf("execution %s: %w", in.Exec.ID, err)
	}
	raw, err := json.Marshal(s.b)
	if err != nil {
		return Output{}, fmt.Errorf("execution %s: encode engine state: %w", in.Exec.ID, err)
	}
	s.exec.Engine = raw
	s.exec.StateInfo = clip(s.exec.StateInfo, s.limits().InfoBytes)
	s.exec.Version = in.Exec.Version + 1
	s.exec.UpdatedAt = in.Now
	return Output{Exec: s.exec, Before: s.before, After: s.after}, nil
}

// stepper holds one step's work in progress.
type stepper struct {
	in   Input
	wf   *dsl.Workflow
	ev   record.Event
	exec *record.Execution // the new head
	b    *book
	from record.ExecState // the state before the step

	before []Write
	after  []Effect
	ops    []*unitOp

	// tasks caches task records read or written in this step; made holds
	// those created in this step (their CreateTask write, still mutable).
	tasks map[string]*record.Task
	made  map[string]*record.Task
	// outcomes holds the unit outcomes of the plain tasks completed in
	// this step (see settled).
	outcomes map[string]*outcome
	// due is the earliest due time of the units this step scheduled or
	// delayed (see setDue).
	due time.Time

	uuids int
	// baseView caches the input with the vars over it (see base).
	baseView map[string]any
	// overlay holds outcomes of with-items units applied in this step
	// whose store record this step writes (sub-workflow ends).
	overlay map[int]*outcome
	// stopped is set when the execution reached a final state in this step;
	// draining when a `succeed` or `fail` command ended it.
	stopped, draining bool
}

var noTime time.Time

// dispatch applies the event. It reports false when the event is stale
// and changes nothing.
func (s *stepper) dispatch() (bool, error) {
	switch s.ev.Kind {
	case record.EventStart:
		return s.onStart()
	case record.EventAttemptDone:
		return s.onDone()
	case record.EventTimer:
		return s.onTimer()
	case record.EventChildDone:
		return s.onChildDone()
	case record.EventCommand:
		return s.onCommand()
	}
	return false, fmt.Errorf("unknown event kind %q", s.ev.Kind)
}

// live reports whether the execution accepts results.
func (s *stepper) live() bool {
	return s.exec.State == record.ExecRunning || s.exec.State == record.ExecPaused
}

// task returns a task record: one written in this step, else from the
// store (nil when absent).
func (s *stepper) task(key string) (*record.Task, error) {
	if t, ok := s.tasks[key]; ok {
		return t, nil
	}
	t, err := s.in.Read.Task(key)
	if err != nil {
		if isNotFound(err) {
			s.tasks[key] = nil
			return nil, nil
		}
		return nil, fmt.Errorf("read task %s: %w", key, err)
	}
	s.tasks[key] = t
	return t, nil
}

// isNotFound recognises a store's not-found error without importing the
// store package: the Reader wraps it, and it says so.
func isNotFound(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e.Error() == "not found" {
			return true
		}
	}
	return false
}

func (s *stepper) unitKey(task string, item int) record.UnitKey {
	return record.UnitKey{ExecID: s.exec.ID, Task: task, Item: item}
}

// onStart starts a created execution.
func (s *stepper) onStart() (bool, error) {
	if s.in.Exec.Version != 0 || s.exec.State != record.ExecRunning || s.b.Seq > 0 {
		return false, nil
	}
	if err := s.evalVars(); err != nil {
		s.stop(record.ExecError, fmt.Sprintf("Failed to evaluate workflow vars: %v", err))
		return true, nil
	}
	// Start tasks begin with an empty flow: the input and the vars are
	// seen beneath it, not carried in it.
	ctx := flow{}
	if s.wf.Type == dsl.Reverse {
		return true, s.startReverse(ctx)
	}
	if len(s.wf.Start) == 0 {
		s.stop(record.ExecError, fmt.Sprintf("Workflow %s has no task to start with", s.wf.Name))
		return true, nil
	}
	for _, name := range s.wf.Start {
		if err := s.startTask(name, ctx, ""); err != nil {
			return false, err
		}
		if s.exec.State.Terminal() {
			break
		}
	}
	return true, s.settle()
}

// expect notes that this step leaves work due at d: a unit it scheduled or
// delayed, or resumes.
func (s *stepper) expect(d time.Time) {
	if !d.IsZero() && (s.due.IsZero() || d.Before(s.due)) {
		s.due = d
	}
}

// setDue sets the head's Due, the reconciler's next look at the
// execution: no look once it is final; otherwise the earlier of the Due it
// had and the due times of the work this step left (docs/protocol.md,
// rule 5). The engine never moves Due later; the reconciler does, after it
// looked.
func (s *stepper) setDue() {
	switch {
	case s.exec.State.Terminal() && len(s.b.Active) == 0:
		s.exec.Due = time.Time{}
	case s.exec.State.Terminal() && !s.due.IsZero():
		s.exec.Due = s.due // tasks drain (keepRunning)
	case !s.due.IsZero() && (s.exec.Due.IsZero() || s.due.Before(s.exec.Due)):
		s.exec.Due = s.due
	}
}

// stop ends the execution in a final state.
func (s *stepper) stop(state record.ExecState, msg string) {
	if s.exec.State.Terminal() {
		return
	}
	s.exec.State = state
	s.exec.StateInfo = clip(msg, s.limits().InfoBytes)
	s.stopped = true
}
