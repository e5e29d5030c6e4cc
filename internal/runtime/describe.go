package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/borawf/bora/internal/engine"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

// Document is an execution as `bora run --json` prints it and the API
// returns it.
type Document struct {
	ID       string `json:"id"`
	Workflow string `json:"workflow"`
	// Definition and Version are the stored definition the execution
	// runs, pinned when it started.
	Definition string `json:"definition"`
	Version    int    `json:"version"`
	// ParentID is the parent execution of a sub-workflow.
	ParentID  string          `json:"parent_id,omitempty"`
	State     string          `json:"state"`
	StateInfo string          `json:"state_info"`
	Input     json.RawMessage `json:"input"`
	Env       json.RawMessage `json:"env,omitempty"`
	Output    json.RawMessage `json:"output"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	// Tasks are the task executions, in start order; a head alone
	// (HeadDocument) has none.
	Tasks []TaskDocument `json:"tasks"`
}

// TaskDocument is one task execution in a Document. Result is the task's
// result, or its error when it failed, as Mistral's task(name).result is.
type TaskDocument struct {
	Name string `json:"name"`
	// Key names the task execution in its execution: "<name>#<n>", n
	// counting the runs of the task from 1 (rerun takes it).
	Key       string          `json:"key"`
	State     string          `json:"state"`
	StateInfo string          `json:"state_info"`
	Published json.RawMessage `json:"published"`
	Result    json.RawMessage `json:"result"`
	// Error is the task's error when it failed.
	Error json.RawMessage `json:"error,omitempty"`
	// Items is the number of items of a with-items task.
	Items int `json:"items,omitempty"`
	// Attempts is the number of attempts of the task's action that
	// started (over all its items); 0 while none has, and for a with-items
	// task of more than MaxDescribedItems items.
	Attempts int `json:"attempts"`
	// ItemStates counts the items of a with-items task by state (of the
	// tasks of at most MaxDescribedItems items).
	ItemStates map[string]int `json:"item_states,omitempty"`
	// ChildID is the sub-workflow execution the task runs.
	ChildID string `json:"child_id,omitempty"`
	// CallbackID names the attempt of a task of one item that awaits its
	// completion (its action is asynchronous): the id a completion gives.
	CallbackID string `json:"callback_id,omitempty"`
	// Truncated says that published, result and error were left out, to
	// keep the document within what one answer of the API may hold; the
	// task alone has them (GET /v1/executions/{id}/tasks/{key}).
	Truncated  bool       `json:"truncated,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// HeadDocument is an execution's Document without its tasks.
func HeadDocument(e *record.Execution) *Document {
	return &Document{
		ID:         e.ID,
		Workflow:   e.Workflow,
		Definition: e.DefName,
		Version:    e.DefVer,
		ParentID:   e.ParentID,
		State:      string(e.State),
		StateInfo:  e.StateInfo,
		Input:      orNull(e.Input),
		Env:        e.Env,
		Output:     orNull(e.Output),
		CreatedAt:  e.CreatedAt,
		UpdatedAt:  e.UpdatedAt,
		Tasks:      []TaskDocument{},
	}
}

// MaxDescribedItems bounds the with-items tasks whose units Describe reads
// to count their attempts: a larger task reports Attempts 0, so that
// reading an execution costs the same however many items it fans out to.
const MaxDescribedItems = 1000

// Describe reads an execution and its task executions, in start order.
// The units of with-items tasks (up to MaxDescribedItems items) are read
// too, for their attempts.
func Describe(ctx context.Context, s store.Store, id string) (*Document, error) {
	e, err := s.GetExecution(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("execution %s: %w", id, err)
	}
	tasks, err := s.ListTasks(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("tasks of execution %s: %w", id, err)
	}
	d := HeadDocument(e)
	d.Tasks = make([]TaskDocument, 0, len(tasks))
	for _, t := range tasks {
		td, _, err := describeTask(ctx, s, t)
		if err != nil {
			return nil, err
		}
		d.Tasks = append(d.Tasks, td)
	}
	return d, nil
}

// DescribeTask reads one task execution of an execution, as Describe
// does: key is a task execution's key (build#2) or a task's name, which
// means its latest run.
func DescribeTask(ctx context.Context, s store.Store, execID, key string) (*TaskDocument, error) {
	t, err := findTask(ctx, s, execID, key)
	if err != nil {
		return nil, err
	}
	td, _, err := describeTask(ctx, s, t)
	if err != nil {
		return nil, err
	}
	return &td, nil
}

// TaskDetail is one task execution with its units: what GET
// /v1/executions/{id}/tasks/{task} answers.
type TaskDetail struct {
	TaskDocument
	// Units are the task's units from item From on, in item order: the
	// only one of a plain task, one per item of a with-items task (items
	// not started yet have none).
	Units []UnitDocument `json:"units"`
	// NextCursor continues the units on the next page; empty when none
	// follows.
	NextCursor string `json:"next_cursor,omitempty"`
}

// UnitDocument is one unit of a task execution at its latest attempt:
// Bora keeps the latest attempt of each unit (its number, times and
// outcome), not the earlier ones.
type UnitDocument struct {
	Item    int    `json:"item"`
	State   string `json:"state"`
	Attempt int    `json:"attempt"`
	// Action is the action the unit runs (or the sub-workflow), Input
	// the input the engine evaluated for it.
	Action string          `json:"action,omitempty"`
	Input  json.RawMessage `json:"input,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  json.RawMessage `json:"error,omitempty"`
	// ChildID is the sub-workflow execution the unit runs.
	ChildID    string     `json:"child_id,omitempty"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// UnitPage selects units: from item From (a NextCursor), at most Limit of
// them, and no more than MaxBytes of inputs and outcomes (but always one).
type UnitPage struct {
	From, Limit, MaxBytes int
}

// DescribeTaskDetail reads one task execution (key as for DescribeTask)
// with a page of its units.
func DescribeTaskDetail(ctx context.Context, s store.Store, execID, key string, p UnitPage) (*TaskDetail, error) {
	t, err := findTask(ctx, s, execID, key)
	if err != nil {
		return nil, err
	}
	td, units, err := describeTask(ctx, s, t)
	if err != nil {
		return nil, err
	}
	if units == nil {
		if units, err = s.ListUnits(ctx, t.ExecID, t.Key); err != nil {
			return nil, fmt.Errorf("units of task %s of execution %s: %w", t.Key, t.ExecID, err)
		}
	}
	d := &TaskDetail{TaskDocument: td, Units: []UnitDocument{}}
	children, err := runsChildren(ctx, s, t, units)
	if err != nil {
		return nil, err
	}
	size := 0
	for _, u := range units {
		if u.Item < p.From {
			continue
		}
		n := len(u.Input) + len(u.Result) + len(u.Error)
		if len(d.Units) > 0 && (len(d.Units) >= p.Limit || size+n > p.MaxBytes) {
			d.NextCursor = strconv.Itoa(u.Item)
			break
		}
		size += n
		ud := UnitDocument{Item: u.Item, State: string(u.State), Attempt: u.Attempt, Action: u.Action,
			Input: u.Input, StartedAt: timeOrNil(u.Started), FinishedAt: timeOrNil(u.Finished)}
		switch u.State {
		case record.Success:
			ud.Result = orNull(u.Result)
		case record.Error:
			ud.Error = u.Error
		}
		if children && (!u.Started.IsZero() || u.State == record.Running || u.State.Terminal()) {
			ud.ChildID = engine.ChildID(t.ExecID, t.Key, u.Item, u.Attempt)
		}
		d.Units = append(d.Units, ud)
	}
	return d, nil
}

// runsChildren reports whether a task's units run sub-workflows: the
// task names its child, or the child of its first started unit exists.
func runsChildren(ctx context.Context, s store.Store, t *record.Task, units []*record.Unit) (bool, error) {
	if t.ChildID != "" {
		return true, nil
	}
	for _, u := range units {
		if u.State == record.Scheduled || u.State == record.Delayed || u.State == record.Waiting || u.State == record.Paused {
			continue
		}
		_, err := s.GetExecution(ctx, engine.ChildID(t.ExecID, t.Key, u.Item, u.Attempt))
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	return false, nil
}

// findTask finds a task execution by key, or the latest run of a task by
// name.
func findTask(ctx context.Context, s store.Store, execID, key string) (*record.Task, error) {
	if strings.Contains(key, "#") {
		t, err := s.GetTask(ctx, execID, key)
		if err != nil {
			return nil, fmt.Errorf("task %s of execution %s: %w", key, execID, err)
		}
		return t, nil
	}
	tasks, err := s.ListTasks(ctx, execID)
	if err != nil {
		return nil, fmt.Errorf("tasks of execution %s: %w", execID, err)
	}
	var t *record.Task
	for _, x := range tasks {
		if x.Name == key && (t == nil || x.Seq > t.Seq) {
			t = x
		}
	}
	if t == nil {
		return nil, fmt.Errorf("task %s of execution %s: %w", key, execID, store.ErrNotFound)
	}
	return t, nil
}

// describeTask is one task execution of a Document, with the units it
// read (nil when it read none: a with-items task of more than
// MaxDescribedItems items).
func describeTask(ctx context.Context, s store.Store, t *record.Task) (TaskDocument, []*record.Unit, error) {
	td := TaskDocument{
		Name:       t.Name,
		Key:        t.Key,
		State:      string(t.State),
		StateInfo:  t.StateInfo,
		Published:  orEmpty(t.Published),
		Result:     orNull(taskResult(t)),
		ChildID:    t.ChildID,
		CreatedAt:  t.CreatedAt,
		FinishedAt: timeOrNil(t.FinishedAt),
	}
	if t.State == record.Error && len(t.Error) > 0 {
		td.Error = t.Error
	}
	units := []*record.Unit{}
	if t.Unit != nil {
		units = append(units, t.Unit)
	}
	if t.WithItems {
		td.Items = t.Items
		switch {
		case t.Items > MaxDescribedItems:
			units = nil
		case t.Items > 1 || t.Unit == nil:
			var err error
			if units, err = s.ListUnits(ctx, t.ExecID, t.Key); err != nil {
				return td, nil, fmt.Errorf("units of task %s of execution %s: %w", t.Key, t.ExecID, err)
			}
		}
	}
	var started time.Time
	if t.Unit != nil {
		started = t.Unit.Started
	}
	for _, u := range units {
		td.Attempts += attemptsRun(u)
		if !u.Started.IsZero() && (started.IsZero() || u.Started.Before(started)) {
			started = u.Started
		}
	}
	td.StartedAt = timeOrNil(started)
	if t.WithItems && units != nil {
		td.ItemStates = map[string]int{}
		for _, u := range units {
			td.ItemStates[string(u.State)]++
		}
	}
	if !t.State.Terminal() && units != nil {
		td.State = string(liveState(units))
	}
	if u := t.Unit; u != nil && !t.WithItems && u.Awaiting() {
		td.CallbackID = record.CallbackID(u.UnitKey, u.Attempt, u.Fence)
	}
	return td, units, nil
}

// liveState is the state of an unfinished task as its units tell it. The
// engine keeps a task RUNNING from its start to its end; where its work
// is — waiting for a join, scheduled, delayed, running, paused — is on its
// units. A task whose units all ended is RUNNING: the engine is ending it.
func liveState(units []*record.Unit) record.State {
	seen := map[record.State]bool{}
	for _, u := range units {
		seen[u.State] = true
	}
	for _, st := range []record.State{record.Running, record.Scheduled, record.Delayed, record.Paused, record.Waiting} {
		if seen[st] {
			return st
		}
	}
	return record.Running
}

// attemptsRun is how many attempts of a unit have started: its current
// attempt counts once a worker claimed it.
func attemptsRun(u *record.Unit) int {
	switch {
	case u.State == record.Scheduled || u.State == record.Delayed || u.State == record.Paused || u.State == record.Waiting:
		return max(u.Attempt-1, 0)
	case u.State == record.Cancelled && u.Started.IsZero():
		return 0
	}
	return u.Attempt
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func taskResult(t *record.Task) json.RawMessage {
	// A failed with-items task's result is its list of item results (a
	// failed item's error in its place), as Mistral shows it.
	if t.State == record.Error && len(t.Error) > 0 && !(t.WithItems && len(t.Result) > 0) {
		return t.Error
	}
	return t.Result
}

func orNull(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}

func orEmpty(b json.RawMessage) json.RawMessage {
	if len(b) == 0 || string(b) == "null" {
		return json.RawMessage("{}")
	}
	return b
}
