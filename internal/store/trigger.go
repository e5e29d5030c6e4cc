package store

import (
	"context"
	"time"

	"github.com/borawf/bora/internal/record"
)

// TriggerQuery pages through cron triggers by name.
type TriggerQuery struct {
	Limit  int    // 0: adapter default (100)
	Cursor string // from a previous page
}

// Triggers is the part of the Store that keeps cron triggers. A deleted
// trigger is gone for every reader at once, whatever an adapter keeps of it.
type Triggers interface {
	// CreateTrigger stores a new trigger; ErrExists if one of its name
	// exists.
	CreateTrigger(ctx context.Context, t *record.Trigger) error
	// GetTrigger reads a trigger; ErrNotFound if there is none of that name.
	GetTrigger(ctx context.Context, name string) (*record.Trigger, error)
	// ListTriggers pages through the triggers by name.
	ListTriggers(ctx context.Context, q TriggerQuery) (page []*record.Trigger, next string, err error)
	// DeleteTrigger deletes a trigger; ErrNotFound if there is none.
	DeleteTrigger(ctx context.Context, name string) error
	// AdvanceTrigger records the fire of t at t.Next: if the stored trigger
	// is still t (same ID) and still fires next at t.Next, its next fire
	// becomes next and the fire counts against its Remaining; when next is
	// zero or that was its last remaining fire, the trigger is deleted.
	// ErrConflict if the trigger fired at t.Next already or was replaced,
	// ErrNotFound if it is gone.
	AdvanceTrigger(ctx context.Context, t *record.Trigger, next time.Time) error
}
