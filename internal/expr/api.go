// Package expr evaluates the expressions of the Mistral workflow language:
// YAQL-style `<% ... %>` and Jinja-style `{{ ... }}`, with the Mistral
// function library.
//
// Values are JSON-like: nil, bool, int64, float64, string, []any and
// map[string]any. Use Normalize to bring decoded YAML or JSON into that form.
//
// A Template is a value (a string, a list, a map, a scalar) in which every
// string that holds expressions has been parsed once, at compile time.
// Evaluating it is pure: everything outside the data (the current task, other
// tasks, the execution, the environment, fresh ids) comes through Host.
package expr

import "time"

// Context is what one evaluation sees.
type Context struct {
	// Data is the root of the expression context: `$` in YAQL, `_` in Jinja.
	Data any
	// Host answers the functions that need the engine. May be nil; then those
	// functions fail with an error that names them.
	Host Host
	// MaxSteps bounds the work of one evaluation; 0 means DefaultMaxSteps.
	MaxSteps int
	// MaxBytes bounds what one evaluation builds, counted as the JSON
	// size of every string, list and dict it makes; 0 means
	// DefaultMaxBytes. Data the expression only refers to is not counted.
	MaxBytes int
}

// DefaultMaxSteps bounds one evaluation when Context.MaxSteps is zero.
const DefaultMaxSteps = 100_000

// Host gives expressions access to the engine's view of an execution.
// Implementations must be deterministic for a given state: the engine replays
// evaluations and expects the same answers.
type Host interface {
	// Task answers task(name): a map with keys id, name, state, state_info,
	// result, published. An empty name means the current task.
	// A task that has not run yet yields (nil, nil).
	Task(name string) (any, error)
	// Tasks answers tasks(workflow_execution_id, recursive, state):
	// a list of maps shaped like Task's.
	Tasks(execID string, recursive bool, state string) ([]any, error)
	// Execution answers execution(): id, name, input, params, state, created_at.
	Execution() any
	// Env answers env(): the execution's environment map.
	Env() any
	// UUID answers uuid(): a fresh identifier, deterministic per call site
	// and execution step so that replays agree.
	UUID() string
	// Global answers global(name): a variable of the execution's own
	// context (a var, or one a task published `global`); nil when absent.
	Global(name string) (any, error)
	// Now answers now(): the time of the engine step, the same for every
	// call in it.
	Now() time.Time
	// Executions answers executions(...): maps shaped like Execution's,
	// of the executions the query selects.
	Executions(q ExecutionsQuery) ([]any, error)
}

// ExecutionsQuery is what executions() selects by; zero fields select
// everything.
type ExecutionsQuery struct {
	ID     string
	RootID string // root_execution_id: the top-level execution of sub-workflows
	State  string
	// From and To bound the creation time: From <= created_at < To.
	From, To time.Time
}

// Refs lists what a template refers to, for validation warnings and for
// loading the task records an evaluation will need before it runs.
type Refs struct {
	Tasks     []string // literal task names in task('name') calls
	Functions []string // names of every function and method called
	Vars      []string // top-level names read from `$` / `_` (for `$.x.y`, "x")
	// Dynamic is true when a task() call's argument is not a literal string,
	// or when tasks() is called: the tasks read are known only at run time.
	Dynamic bool
}
