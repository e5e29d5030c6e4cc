// Package record holds the data that Bora persists and sends: the execution
// head, task executions, work units (the attempts-bearing part of a task), and
// the messages between engine and workers. It is plain data with no I/O, shared
// by the engine (which decides), the worker, the store and queue ports and
// their adapters, so that all of them speak of one shape.
//
// All JSON-like values (inputs, results, contexts) are held as json.RawMessage
// so that every adapter stores exactly the bytes the engine produced.
package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// ExecState is the state of an execution.
type ExecState string

// Execution states. RUNNING ⇄ PAUSED; SUCCESS, ERROR and CANCELLED are final.
const (
	ExecRunning   ExecState = "RUNNING"
	ExecPaused    ExecState = "PAUSED"
	ExecSuccess   ExecState = "SUCCESS"
	ExecError     ExecState = "ERROR"
	ExecCancelled ExecState = "CANCELLED"
)

// Terminal reports whether no further transition can happen.
func (s ExecState) Terminal() bool {
	return s == ExecSuccess || s == ExecError || s == ExecCancelled
}

// State is the state of a task execution or of a work unit.
type State string

// Task execution and unit states (docs/protocol.md).
const (
	Waiting   State = "WAITING"   // join not yet satisfied
	Delayed   State = "DELAYED"   // wait-before or retry delay; a timer is due
	Scheduled State = "SCHEDULED" // a task message was sent or is due
	Running   State = "RUNNING"   // claimed by a worker under a lease
	Paused    State = "PAUSED"    // unclaimed work of a paused execution
	Success   State = "SUCCESS"
	Error     State = "ERROR"
	Cancelled State = "CANCELLED"
	// Skipped is a failed task a user skipped: the workflow went on past
	// it (a task execution's state, never a unit's).
	Skipped State = "SKIPPED"
)

// Terminal reports whether the state is final.
func (s State) Terminal() bool { return s == Success || s == Error || s == Cancelled || s == Skipped }

// Execution is the head of one execution (pk=EX#<id>, sk=META).
// The store indexes State and times; Engine is opaque engine bookkeeping.
type Execution struct {
	ID        string
	Workflow  string // name of the workflow run (in the pinned definition)
	DefName   string // definition name (WF#<name>)
	DefVer    int    // pinned definition version (V#<n>)
	ParentID  string // parent execution for a sub-workflow, else empty
	ParentKey string // the parent's unit key (task execution key and item), else empty

	State     ExecState
	StateInfo string
	Version   int64 // bumped by every committed engine step; 0 when created

	Input  json.RawMessage // object
	Env    json.RawMessage // object or null
	Params json.RawMessage // object or null: task_name (reverse), env, etc.
	Output json.RawMessage // set when final

	Engine json.RawMessage // engine bookkeeping: active tasks, counters, applied events, outbox

	// Due is when the reconciler should next look at the execution's
	// pending work: a lower bound of the due times of its SCHEDULED,
	// DELAYED and RUNNING units (docs/protocol.md, rule 5). The engine
	// only ever moves it earlier; the reconciler moves it on after a look.
	// Zero when there is nothing to look at (a final execution).
	Due time.Time

	CreatedAt time.Time
	UpdatedAt time.Time
}

// Task is one task execution (pk=EX#<id>, sk=T#<name>#<n>). The engine creates
// it once and writes its final fields once. Its first unit (item 0, a plain
// task's only one) is kept in the task's own record: see Unit and UnitEnds.
type Task struct {
	ExecID string
	Key    string // "<name>#<n>", n counting from 1 per name
	Name   string
	Seq    int // creation order within the execution (start order)

	State     State
	StateInfo string
	Items     int             // number of units (1 unless with-items; 0 for an empty with-items)
	WithItems bool            // true when the task has with-items (result is a list)
	Inbound   json.RawMessage // inbound context (object)
	Published json.RawMessage // published variables (object), when final
	Result    json.RawMessage // result, when final (a list for with-items)
	Error     json.RawMessage // error, when final and failed
	ChildID   string          // sub-workflow execution, when the task runs one

	// Unit is the task's unit of item 0, stored in the task's own record
	// (one item, one row): created with the task when the engine plans it
	// in the same step, written by the worker's claim and outcome like any
	// unit. Nil while the task has none.
	Unit *Unit
	// UnitEnds says that the task ends as its unit does: the engine has
	// nothing to add to the unit's outcome (no publish, fail-on, retry,
	// wait-after, keep-result or safe-rerun), so the worker's outcome write
	// ends the task too, and the engine writes no final fields. Until
	// final fields are written, such a task reads as ended once its unit
	// is SUCCESS or ERROR (Settle).
	UnitEnds bool

	CreatedAt  time.Time
	FinishedAt time.Time
}

// Final reports whether the task's final fields were written.
func (t *Task) Final() bool { return t.State.Terminal() }

// Finishable reports whether a task's final fields may be written with
// the state next (Store.FinishTask): a task not final yet, or one in
// ERROR that a user skips (next is Skipped).
func (t *Task) Finishable(next State) bool {
	return !t.Final() || t.State == Error && next == Skipped
}

// Settle gives a task that ends as its unit does (UnitEnds) the final
// fields its unit's outcome implies, when its unit ended and no final
// fields were written: SUCCESS with the unit's result, or ERROR with its
// error (and the error's text as StateInfo), nothing published. Stores
// call it on every task they return, so every reader sees one state.
func (t *Task) Settle() {
	u := t.Unit
	if !t.UnitEnds || t.State.Terminal() || u == nil || (u.State != Success && u.State != Error) {
		return
	}
	t.State, t.StateInfo, t.Result, t.Error = u.State, "", nil, nil
	if u.State == Success {
		t.Result = u.Result
	} else {
		t.Error = u.Error
		t.StateInfo = ErrorText(u.Error)
	}
	t.Published = json.RawMessage(`{}`)
	t.FinishedAt = u.Finished
}

// UnitKey names one work unit: an item of a task execution.
type UnitKey struct {
	ExecID string
	Task   string // task execution key "<name>#<n>"
	Item   int    // item index; 0 for a task without with-items
}

func (k UnitKey) String() string { return fmt.Sprintf("%s/%s/%d", k.ExecID, k.Task, k.Item) }

// Unit is the attempts-bearing work of one item of a task execution
// (pk=EX#<id>, sk=U#<name>#<n>#<item>). The engine creates it and moves it
// between attempts; a worker writes only its claim and its outcome, each
// conditional on state, attempt and fence.
type Unit struct {
	UnitKey
	State   State
	Attempt int    // 1-based
	Fence   string // token of the current attempt; changes whenever it is (re)scheduled

	Action  string          // action name, resolved by the engine
	Input   json.RawMessage // action input (object)
	Timeout time.Duration   // per attempt; 0 means none
	// Due is when the reconciler should look at the unit: SCHEDULED, when
	// its message is overdue; DELAYED, when its timer fires; RUNNING, when
	// the worker's lease expires. Zero in the other states.
	Due    time.Time
	Result json.RawMessage // when SUCCESS
	Error  json.RawMessage // when ERROR
	// NoRetry is set with ERROR when the action marked its error final
	// (action.NonRetryable, an unknown action): no retry policy applies.
	NoRetry  bool
	Started  time.Time
	Finished time.Time
}

// EventKind is the kind of an engine event.
type EventKind string

// Engine event kinds (docs/protocol.md).
const (
	EventStart       EventKind = "start"
	EventAttemptDone EventKind = "attempt-done"
	EventTimer       EventKind = "timer"
	EventCommand     EventKind = "command"
	EventChildDone   EventKind = "child-done"
)

// Event is a message on the engine queue. ID is deterministic, so that a
// re-sent event is recognised as the same one.
type Event struct {
	ID     string    `json:"id"`
	Kind   EventKind `json:"kind"`
	ExecID string    `json:"execution_id"`

	// attempt-done, timer (unit timers)
	Task    string `json:"task,omitempty"` // task execution key
	Item    int    `json:"item,omitempty"`
	Attempt int    `json:"attempt,omitempty"`
	Fence   string `json:"fence,omitempty"`

	// timer
	Timer string `json:"timer,omitempty"` // what the timer is for: "wait-before", "retry", "wait-after", "timeout", ...

	// command
	Command *Command `json:"command,omitempty"`

	// child-done
	Child *ChildDone `json:"child,omitempty"`
}

// Command is a user's request on an execution.
type Command struct {
	Op   string          `json:"op"`             // pause, resume, cancel, rerun
	Task string          `json:"task,omitempty"` // rerun: task execution key
	Env  json.RawMessage `json:"env,omitempty"`  // rerun: new env, optional
	Msg  string          `json:"msg,omitempty"`
}

// Command ops.
const (
	OpPause  = "pause"
	OpResume = "resume"
	OpCancel = "cancel"
	OpRerun  = "rerun"
	// OpSkip skips a failed task of a failed execution (Command.Task):
	// the task ends SKIPPED and the workflow goes on past it.
	OpSkip = "skip"
	// OpFail ends an execution in ERROR with Msg as its state_info, as
	// if a task had failed it: work in flight is cancelled and a parent is
	// told. The runtime applies it when an event of the execution cannot
	// be applied at all.
	OpFail = "fail"
)

// ChildDone reports a sub-workflow's end to its parent.
type ChildDone struct {
	ID        string          `json:"id"`
	State     ExecState       `json:"state"`
	StateInfo string          `json:"state_info,omitempty"`
	Output    json.RawMessage `json:"output,omitempty"`
}

// TaskMessage is a message on the task queue: a reference to a unit's
// attempt. The worker reads the action and input when it claims the unit.
type TaskMessage struct {
	ExecID  string `json:"execution_id"`
	Task    string `json:"task"`
	Item    int    `json:"item"`
	Attempt int    `json:"attempt"`
	Fence   string `json:"fence"`
	Action  string `json:"action"`
}

// Key returns the unit the message refers to.
func (m TaskMessage) Key() UnitKey { return UnitKey{ExecID: m.ExecID, Task: m.Task, Item: m.Item} }

// TimerMessage is a message on the timer queue: an event to deliver to the
// engine queue once Due has passed. Its consumer re-delays it while Due is
// further away than the queue's maximum delay.
type TimerMessage struct {
	Due   time.Time `json:"due"`
	Event Event     `json:"event"`
}

// Expect is the condition of a unit write.
type Expect struct {
	States  []State // current state must be one of these
	Attempt int     // current attempt must equal this (0: any)
	Fence   string  // current fence must equal this ("": any)
	// Awaiting admits a RUNNING unit only when its attempt awaits its
	// completion (Unit.Awaiting: it holds a Result), so that no worker
	// runs it; units in the other states are not affected. With States
	// holding RUNNING among others, one write ends both the unclaimed
	// work and the awaited one, and never an attempt a worker holds.
	Awaiting bool
}

// UnitChange is what a conditional unit write sets. Zero fields are left
// alone, except that State is always set and Due is always set (a zero Due
// clears it: the unit leaves the reconciler's index).
type UnitChange struct {
	State    State
	Attempt  int
	Fence    string
	Due      time.Time
	Started  time.Time
	Finished time.Time
	Result   []byte // set on SUCCESS (JSON)
	Error    []byte // set on ERROR (JSON)
	// NoRetry sets Unit.NoRetry (with ERROR); ClearOutcome clears it.
	NoRetry bool
	// ClearOutcome removes Result and Error (a new attempt starts clean).
	ClearOutcome bool
}

// DoneEvent is the attempt-done event for one attempt of a unit. Its id is
// derived from the attempt and fence, so every party that ends the attempt
// (the worker, or the reconciler when a lease expires) sends the same event,
// and the engine queue deduplicates it.
func DoneEvent(k UnitKey, attempt int, fence string) Event {
	return Event{
		ID:      fmt.Sprintf("done/%s/%s/%d/%d/%s", k.ExecID, k.Task, k.Item, attempt, fence),
		Kind:    EventAttemptDone,
		ExecID:  k.ExecID,
		Task:    k.Task,
		Item:    k.Item,
		Attempt: attempt,
		Fence:   fence,
	}
}

// TimerEvent tells the engine that a DELAYED unit's wait (wait-before, a
// retry delay) is over. The engine sends it through the timer queue when it
// delays a unit, and the reconciler sends the same event when that timer is
// overdue, so a timer fired twice is applied once.
func TimerEvent(k UnitKey, attempt int, fence string) Event {
	return Event{
		ID:      fmt.Sprintf("timer/%s/%s/%d/%d/%s", k.ExecID, k.Task, k.Item, attempt, fence),
		Kind:    EventTimer,
		ExecID:  k.ExecID,
		Task:    k.Task,
		Item:    k.Item,
		Attempt: attempt,
		Fence:   fence,
		Timer:   TimerUnit,
	}
}

// TimerUnit is Event.Timer for the end of a DELAYED unit's wait.
const TimerUnit = "unit"

// LostError is the error recorded for an attempt whose worker was lost (its
// lease expired before it recorded an outcome). The engine re-runs such an
// attempt when the task is marked safe-rerun; otherwise it is an ordinary
// task error.
func LostError(msg string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"type": lostType, "message": msg})
	return b
}

// IsLost reports whether an attempt's error is a LostError.
func IsLost(raw json.RawMessage) bool {
	var v struct {
		Type string `json:"type"`
	}
	return json.Unmarshal(raw, &v) == nil && v.Type == lostType
}

const lostType = "lost-worker"

// ErrorText is an error value as a task's state_info shows it: a string as
// itself, a lost worker's error as its message, anything else as JSON
// (map keys sorted). Null or nothing is "".
func ErrorText(raw json.RawMessage) string {
	v, err := DecodeJSON(raw)
	if err != nil {
		return string(raw)
	}
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case map[string]any:
		if IsLost(raw) {
			if m, ok := x["message"].(string); ok {
				return m
			}
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return string(raw) // decoded JSON always encodes; the bytes as stored otherwise
	}
	return string(b)
}

// DecodeJSON decodes a stored JSON value into the JSON-like values
// expressions work on: integers as int64, other numbers as float64.
// Nothing decodes to nil.
func DecodeJSON(raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return plainNumbers(v), nil
}

// plainNumbers turns decoded json.Numbers into int64 where they are
// integers, float64 otherwise.
func plainNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = plainNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = plainNumbers(e)
		}
	}
	return v
}
