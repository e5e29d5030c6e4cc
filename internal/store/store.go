// Package store declares the Store port: where executions, task executions,
// work units and workflow definitions live, and the conditional writes the
// protocol (docs/protocol.md) is built on. Adapters live in subpackages
// (sqlite, dynamo); every adapter passes storetest.Run.
//
// Every write is a single-item conditional write. A failed condition is
// reported as ErrConflict (wrapped with what was expected), a missing item as
// ErrNotFound, a create of an existing item as ErrExists, a value over the
// adapter's item limit as a *TooLargeError.
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
}

// Store is the persistence port.
type Store interface {
	// PutDefinition stores a new immutable version of a definition and
	// returns its number (1, 2, ...). Storing a source identical to the
	// latest version returns that version and writes nothing.
	PutDefinition(ctx context.Context, name string, source []byte) (int, error)
	// GetDefinition returns one version; version 0 means the latest.
	GetDefinition(ctx context.Context, name string, version int) (source []byte, ver int, err error)

	// CreateExecution writes a new head; ErrExists if the id is taken.
	CreateExecution(ctx context.Context, e *record.Execution) error
	// GetExecution reads a head with a strongly consistent read.
	GetExecution(ctx context.Context, id string) (*record.Execution, error)
	// CommitExecution replaces the head if its stored Version equals
	// e.Version-1 (the engine bumps Version before calling); ErrConflict if not.
	CommitExecution(ctx context.Context, e *record.Execution) error
	// ListExecutions pages through heads by state and creation time.
	ListExecutions(ctx context.Context, q ListQuery) (page []*record.Execution, next string, err error)

	// CreateTask writes a task execution; ErrExists if its key is taken.
	CreateTask(ctx context.Context, t *record.Task) error
	// FinishTask writes the final fields (State, StateInfo, Published,
	// Result, Error, ChildID, FinishedAt) of a task that is not final yet;
	// ErrConflict if it already is.
	FinishTask(ctx context.Context, t *record.Task) error
	// GetTask reads one task execution.
	GetTask(ctx context.Context, execID, key string) (*record.Task, error)
	// ListTasks reads every task execution of an execution, by Seq.
	ListTasks(ctx context.Context, execID string) ([]*record.Task, error)

	// CreateUnit writes a unit; ErrExists if it is there already.
	CreateUnit(ctx context.Context, u *record.Unit) error
	// GetUnit reads one unit with a strongly consistent read.
	GetUnit(ctx context.Context, k record.UnitKey) (*record.Unit, error)
	// ListUnits reads every unit of a task execution, by item.
	ListUnits(ctx context.Context, execID, task string) ([]*record.Unit, error)
	// UpdateUnit applies c if the unit matches x and returns the unit as
	// written; ErrConflict (wrapping what was found) if it does not match.
	UpdateUnit(ctx context.Context, k record.UnitKey, x record.Expect, c record.UnitChange) (*record.Unit, error)
	// DueUnits lists up to limit units whose Due is at or before now and whose
	// state is SCHEDULED, DELAYED or RUNNING: overdue messages, fired
	// timers that were lost, expired leases. The reconciler heals them.
	DueUnits(ctx context.Context, now time.Time, limit int) ([]*record.Unit, error)
}
