package record

import (
	"encoding/json"
	"time"
)

// Trigger is a cron trigger (Mistral's): it starts an execution of a
// workflow at the times its pattern gives, Remaining times or for ever.
// Triggers are created and deleted, never changed but by their fires
// (store.Store.AdvanceTrigger).
type Trigger struct {
	// Name is the trigger's name, unique among triggers.
	Name string
	// ID is unique to this trigger: one created again under the same name
	// is another, and starts other executions.
	ID string
	// Pattern is a cron pattern of minute resolution, in UTC; empty for a
	// trigger that fires once, at FirstExecution.
	Pattern string
	// WorkflowName is the workflow as the trigger's creator named it;
	// DefName and Workflow are what it resolved to (runtime.Start): each
	// fire starts the latest version of the definition DefName.
	WorkflowName      string
	DefName, Workflow string
	Input, Env        json.RawMessage
	// FirstExecution is the first fire time the creator asked for; zero
	// when the pattern alone says.
	FirstExecution time.Time
	// Remaining is how many fires are left; 0 means no limit. A trigger
	// whose last fire is recorded is deleted.
	Remaining int
	// Next is when the trigger fires next.
	Next      time.Time
	CreatedAt time.Time
}
