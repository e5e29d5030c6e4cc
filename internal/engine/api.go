// Package engine is Bora's decision maker: a pure function from an
// execution's state and one event to the new state and the commands that
// carry it out. It does no I/O and reads no clock; time, the workflow
// definition and the records an event touches come in through Input.
//
// The runtime (internal/runtime) loads the execution head, calls Step, then
//
//  1. performs Output.Before in order — idempotent single-item writes: an
//     ErrExists on a create or an ErrConflict on a guarded write means an
//     earlier, crashed run of this same step already did it;
//  2. commits Output.Exec with a condition on its version (the commit point);
//  3. performs Output.After — sends and other idempotent effects.
//
// Output.Exec.Engine remembers the ids of recently applied events and their
// After effects, so that a redelivered event (already applied) makes Step
// return the same After again with no new state: docs/protocol.md, rule 4.
package engine

import (
	"errors"
	"time"

	"github.com/borawf/bora/internal/dsl"
	"github.com/borawf/bora/internal/expr"
	"github.com/borawf/bora/internal/record"
)

// Reader gives Step the records an event touches. The runtime implements it
// with strongly consistent store reads. Step must only ask for what the
// event needs (docs/protocol.md, rule 6): never every task.
type Reader interface {
	Task(key string) (*record.Task, error) // an error wrapping the store's not-found error when absent
	Unit(k record.UnitKey) (*record.Unit, error)
	Units(task string) ([]*record.Unit, error) // every unit of a task execution, by item
}

// ExecutionReader is implemented by a Reader that can list executions,
// for the executions() expression function; without it the function
// fails. Like tasks(), it reads what the user asked for, and may read
// many executions.
type ExecutionReader interface {
	Executions(q expr.ExecutionsQuery) ([]*record.Execution, error)
}

// Transient marks an error of a Reader or of Definitions that may go away
// when tried again (a store that did not answer in time). Step returns such
// errors as they are, for the step to be retried; every other error of Step
// is permanent. A Reader's not-found error need not be marked.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &transientError{err}
}

// IsTransient reports whether err, or an error it wraps, was marked by
// Transient.
func IsTransient(err error) bool {
	var t *transientError
	return errors.As(err, &t)
}

type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// Definitions resolves workflows by name for sub-workflow tasks.
type Definitions interface {
	// Workflow returns a workflow by name, from the same document as the
	// parent when it is there, and its definition name and version.
	Workflow(name string) (wf *dsl.Workflow, defName string, defVer int, err error)
}

// Input is everything one step sees.
type Input struct {
	Exec     *record.Execution // the head as loaded; Step does not modify it
	Workflow *dsl.Workflow     // the pinned workflow of Exec
	Defs     Definitions
	Event    record.Event
	Now      time.Time
	Read     Reader
	// Limits bound what the step may build; zero fields take defaults.
	Limits Limits
}

// Output is the result of one step.
type Output struct {
	// Exec is the new head with Version already bumped, or nil when the event
	// changes nothing (a duplicate, or a stale message): then only After, if
	// any, is carried out and the message acknowledged.
	Exec *record.Execution
	// Before are writes to perform before the commit, in order.
	Before []Write
	// After are effects to perform after the commit, in order.
	After []Effect
}

// Write is one pre-commit write. Exactly one field is set.
type Write struct {
	CreateTask *record.Task // Store.CreateTask; ErrExists is success
	CreateUnit *record.Unit // Store.CreateUnit; ErrExists is success
	FinishTask *record.Task // Store.FinishTask; ErrConflict is success
	MoveUnit   *MoveUnit    // Store.UpdateUnit; ErrConflict is success
}

// MoveUnit is a guarded change of a unit made by the engine: pausing or
// cancelling unclaimed work, scheduling a new attempt.
type MoveUnit struct {
	Key    record.UnitKey
	Expect record.Expect
	Change record.UnitChange
	// Then is sent only when this write succeeded (for example the task
	// message of a resumed unit). Performed after the commit.
	Then *Effect `json:",omitempty"`
}

// Effect is one post-commit effect. Exactly one field is set. Effects are
// JSON-encoded into the head's outbox, so they hold only data.
type Effect struct {
	// SendTask sends a task message to the task queue.
	SendTask *record.TaskMessage `json:",omitempty"`
	// SendEvent sends an event to the engine queue (to this execution, a
	// parent or a child).
	SendEvent *record.Event `json:",omitempty"`
	// SendTimer sends a timer message to the timer queue.
	SendTimer *record.TimerMessage `json:",omitempty"`
	// StartChild creates a sub-workflow execution (ErrExists is success)
	// and sends its start event.
	StartChild *record.Execution `json:",omitempty"`
	// MoveUnit is a guarded unit change made after the commit (resume).
	MoveUnit *MoveUnit `json:",omitempty"`
	// SendUnits is the compact form of many SendTask (and resume MoveUnit)
	// effects over the units of one task execution, so that a with-items
	// task of thousands of items keeps the head's outbox small. The engine
	// uses it only above a handful of units.
	SendUnits *UnitRange `json:",omitempty"`
	// EndWaits ends CANCELLED the units of the range found awaiting their
	// completion (record.Unit.Awaiting), each by a write conditional on
	// that and on the attempt and fence it was found at
	// (store.CancelWait); it sends nothing. The step that ends an
	// execution asks for it for the attempts its own writes found held by
	// a worker, whose wait may be recorded just after them.
	EndWaits *UnitRange `json:",omitempty"`
}

// UnitRange names the units of one task execution whose item is in
// [From, To). As SendUnits, it asks the runtime to send the task message of
// every one that is SCHEDULED, built from the unit as stored (its attempt,
// fence and action).
//
// With Resume, a unit found PAUSED is first moved, conditionally on its
// state, attempt and fence, to SCHEDULED with the fence
// Fence(Event, Task, item, attempt) and the given Due, and its message is
// sent only if that move succeeded. Units in any other state are skipped.
type UnitRange struct {
	ExecID   string
	Task     string
	From, To int
	Resume   bool      `json:",omitempty"`
	Event    string    `json:",omitempty"`
	Due      time.Time `json:",omitzero"`
}
