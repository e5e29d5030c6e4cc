// Package store declares the Store port: where executions, task executions,
// work units and workflow definitions live, and the conditional writes the
// protocol (docs/protocol.md) is built on. Adapters live in subpackages
// (sqlite, dynamo); every adapter passes storetest.Run.
//
// Every write is a single-item conditional write. A failed condition is
// reported as ErrConflict (wrapped with what was expected), a missing item as
// ErrNotFound, a create of an existing item as ErrExists, a value over the
// adapter's item limit as a *TooLargeError.
//
// The unit of item 0 of a task execution (a plain task's only unit) is kept
// in its task's item: CreateTask writes both when the task comes with its
// unit, the unit's claim and outcome are writes of that one item, and the
// item's size limit holds for the two together. So a plain task is one item,
// written by its creation, its claim and its outcome (docs/protocol.md).
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/borawf/bora/internal/record"
)

// Errors callers branch on.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrConflict = errors.New("condition failed")
	// ErrBadCursor: a listing's cursor is not one the adapter made.
	ErrBadCursor = errors.New("malformed cursor")
)

// TooLargeError reports an item over the store's size limit.
type TooLargeError struct {
	What  string // "execution <id>", "task <exec>/<key>", "unit <exec>/<key>/<item>"
	Size  int    // bytes
	Limit int    // bytes
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is %d bytes, over the %d-byte item limit", e.What, e.Size, e.Limit)
}

// MaxItemBytes is the largest item Bora writes (DynamoDB allows 400 KB;
// Bora keeps a margin). Every adapter enforces it so that a workflow
// behaves the same embedded and on AWS.
const MaxItemBytes = 350 * 1024

// ListQuery selects executions by state, newest first.
type ListQuery struct {
	State  record.ExecState // empty: any state
	Limit  int              // 0: adapter default (100)
	Cursor string           // from a previous page
	// TopLevel skips sub-workflow executions.
	TopLevel bool
	// Workflow keeps the executions of a workflow: those whose stored
	// definition (DefName) or workflow (Workflow) has this name. With it
	// an adapter may return a page shorter than Limit, even an empty one,
	// with a cursor: only an empty cursor means that nothing follows.
	Workflow string
	// Since keeps executions created at or after it, Until those created
	// before it; zero leaves that end open.
	Since, Until time.Time
}

// DefinitionInfo describes a stored definition.
type DefinitionInfo struct {
	Name      string
	Latest    int       // the newest version
	UpdatedAt time.Time // when the newest version was stored
}

// DefinitionQuery selects definitions, by name.
type DefinitionQuery struct {
	Prefix string // keep names that start with it
	Limit  int    // 0: adapter default (100)
	Cursor string // from a previous page
}

// Store is the persistence port.
type Store interface {
	// PutDefinition stores a new immutable version of a definition and
	// returns its number (1, 2, ...). Storing a source identical to the
	// latest version returns that version and writes nothing.
	PutDefinition(ctx context.Context, name string, source []byte) (int, error)
	// GetDefinition returns one version; version 0 means the latest.
	GetDefinition(ctx context.Context, name string, version int) (source []byte, ver int, err error)
	// ListDefinitions pages through the definitions, by name; deleted
	// ones are left out.
	ListDefinitions(ctx context.Context, q DefinitionQuery) (page []DefinitionInfo, next string, err error)
	// DeleteDefinition deletes a definition: it is no longer listed and
	// has no latest version (GetDefinition(name, 0) is ErrNotFound), but
	// each of its versions stays readable by number, for the executions
	// pinned to it. A later PutDefinition of the name stores the next
	// version number: a name and a number always mean one source.
	// ErrNotFound when there is no such definition, or it was deleted.
	DeleteDefinition(ctx context.Context, name string) error

	// CreateExecution writes a new head; ErrExists if the id is taken.
	CreateExecution(ctx context.Context, e *record.Execution) error
	// GetExecution reads a head with a strongly consistent read.
	GetExecution(ctx context.Context, id string) (*record.Execution, error)
	// CommitExecution replaces the head if its stored Version equals
	// e.Version-1 (the engine bumps Version before calling); ErrConflict if not.
	CommitExecution(ctx context.Context, e *record.Execution) error
	// ListExecutions pages through heads by state and creation time.
	ListExecutions(ctx context.Context, q ListQuery) (page []*record.Execution, next string, err error)

	// CreateTask writes a task execution, and its unit of item 0 with it
	// when t.Unit is set, in one write; ErrExists if its key is taken.
	CreateTask(ctx context.Context, t *record.Task) error
	// FinishTask writes the final fields (State, StateInfo, Published,
	// Result, Error, ChildID, FinishedAt) of a task whose final fields were
	// not written yet; ErrConflict if they were, but for a task in ERROR
	// finished again as SKIPPED (a user's skip): record.Task.Finishable.
	// (A UnitEnds task whose unit ended reads as ended, and can still be
	// finished otherwise.)
	// t.Unit, when set, is the outcome the task's unit of item 0 holds as
	// far as the caller knows: an adapter may size its write by it.
	FinishTask(ctx context.Context, t *record.Task) error
	// GetTask reads one task execution, with its unit of item 0 (Unit) if
	// it has one, settled (record.Task.Settle).
	GetTask(ctx context.Context, execID, key string) (*record.Task, error)
	// ListTasks reads every task execution of an execution, by Seq, as
	// GetTask returns them.
	ListTasks(ctx context.Context, execID string) ([]*record.Task, error)

	// CreateUnit writes a unit; ErrExists if it is there already. A unit
	// of item 0 joins its task's item: ErrNotFound if the task does not
	// exist.
	CreateUnit(ctx context.Context, u *record.Unit) error
	// GetUnit reads one unit with a strongly consistent read.
	GetUnit(ctx context.Context, k record.UnitKey) (*record.Unit, error)
	// ListUnits reads every unit of a task execution, by item.
	ListUnits(ctx context.Context, execID, task string) ([]*record.Unit, error)
	// UpdateUnit applies c if the unit matches x and returns the unit as
	// written; ErrConflict (wrapping what was found) if it does not match.
	UpdateUnit(ctx context.Context, k record.UnitKey, x record.Expect, c record.UnitChange) (*record.Unit, error)

	// DueExecutions lists up to limit executions whose Due is set and at or
	// before now, earliest first: those the reconciler should look at.
	DueExecutions(ctx context.Context, now time.Time, limit int) ([]*record.Execution, error)
	// SetDue sets an execution's Due (zero clears it) if its stored Version
	// is still version, and leaves the version alone; ErrConflict if it
	// moved on, ErrNotFound if there is no such execution. It is the
	// reconciler's one write of a head, after it looked at its work.
	SetDue(ctx context.Context, id string, version int64, due time.Time) error

	Triggers
}
