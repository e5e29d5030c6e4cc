package dsl

import (
	"slices"

	"github.com/borawf/bora/internal/expr"
)

// This file holds the compiled, immutable form of a workflow: what the engine
// walks. A Bundle comes from Load; nothing in it changes after compilation.

// Bundle is every workflow of one document (a file of workflows or a workbook).
type Bundle struct {
	File      string
	Name      string               // workbook name; empty for a plain file
	Workflows map[string]*Workflow // by name; a workbook's are also reachable as "book.wf"
	Order     []string             // names in document order
	Source    []byte               // the document as loaded, for pinning definition versions
	// Actions holds the ad-hoc actions of the document, by name (a
	// workbook's also as "book.name"). Nil when there are none.
	Actions map[string]*Action
}

// Action is an ad-hoc action: a named call of another action with some of
// its input fixed.
type Action struct {
	Name        string
	Description string
	Tags        []string
	// Base is the action this one calls (the name only; inline parameters
	// of `base` are merged into BaseInput, where they win).
	Base string
	// BaseInput is the map template passed to Base; `$` is the ad-hoc
	// action's own input. Nil when empty.
	BaseInput *expr.Template
	Input     []Param
	// Output transforms Base's result (`$` is that result); nil keeps it.
	Output *expr.Template
	Pos    Pos
	// BasePos is where `base` names the action called.
	BasePos Pos
}

// Chain lists the ad-hoc actions a call of name goes through, name's own
// first, and the action that finally runs: a registered action, or ""
// when the chain leads nowhere (a loop, which Load refuses). actions are
// the document's ad-hoc actions (Bundle.Actions, Workflow.Actions).
func Chain(actions map[string]*Action, name string) ([]*Action, string) {
	var chain []*Action
	for a := actions[name]; a != nil; a = actions[a.Base] {
		if slices.Contains(chain, a) {
			return chain, ""
		}
		chain = append(chain, a)
		name = a.Base
	}
	return chain, name
}

// Workflow types.
const (
	Direct  = "direct"
	Reverse = "reverse"
)

// Workflow is one compiled workflow.
type Workflow struct {
	Name          string
	Type          string // Direct or Reverse
	Description   string
	Tags          []string
	Input         []Param
	Output        *expr.Template // nil when absent
	OutputOnError *expr.Template // nil when absent
	Vars          *expr.Template // a map; nil when absent
	Tasks         map[string]*Task
	Order         []string // task names in document order
	// Start lists, for a direct workflow, the tasks no transition leads to,
	// in document order. Empty for a reverse workflow.
	Start []string
	Pos   Pos
	// Actions are the ad-hoc actions of the workflow's document
	// (Bundle.Actions): a task may call them by name. Nil when none.
	Actions map[string]*Action
	// Spec is the workflow as written, with its name and version, as
	// Mistral's execution().spec gives it.
	Spec map[string]any
}

// Param is one workflow input.
type Param struct {
	Name       string
	Default    any // a JSON-like value; meaningful when HasDefault
	HasDefault bool
}

// Task is one compiled task with task-defaults already merged in.
type Task struct {
	Name        string
	Description string
	Tags        []string
	// Exactly one of Action and Workflow is set; a task with neither runs
	// std.noop (Action is then the constant "std.noop"). Either may be an
	// expression.
	Action   *expr.Template
	Workflow *expr.Template
	// Input is a map template (from `input:` or the inline form), or an
	// expression that yields a map. Nil when empty.
	Input *expr.Template
	// Publish and PublishOnError are map templates (nil when absent). They
	// already hold the `branch` publishes of on-complete and of on-success
	// (or on-error), which win over the task's own `publish`.
	Publish        *expr.Template // a map template; nil when absent
	PublishOnError *expr.Template
	// PublishGlobal and PublishGlobalOnError are the `global` publishes of
	// the on-clauses (on-complete merged under on-success / on-error):
	// variables written to the execution's global context. Nil when absent.
	PublishGlobal        *expr.Template
	PublishGlobalOnError *expr.Template

	OnSuccess  []Transition
	OnError    []Transition
	OnComplete []Transition
	// OnSkip are the transitions taken when a user skips the task after
	// it failed; when empty, a skip takes OnSuccess instead.
	OnSkip []Transition
	// PublishOnSkip and PublishGlobalOnSkip are published when a user
	// skips the task (publish-on-skip, and on-skip's publish).
	PublishOnSkip       *expr.Template
	PublishGlobalOnSkip *expr.Template

	// Join is 0 for no join, JoinAll for `join: all`, or N for `join: N`.
	Join int
	// Inbound lists the distinct tasks with a transition to this one, in
	// document order; a join of `all` waits for each of them.
	Inbound []string

	WithItems   []WithItem     // empty when the task has no with-items
	Concurrency *expr.Template // nil: unlimited

	Retry       *Retry         // nil: no retry
	Timeout     *expr.Template // seconds; nil: none
	WaitBefore  *expr.Template // seconds
	WaitAfter   *expr.Template // seconds
	PauseBefore *expr.Template // bool
	FailOn      *expr.Template // bool condition evaluated after success
	SafeRerun   *expr.Template // bool
	KeepResult  *expr.Template // bool; nil means true

	// Requires lists, for a reverse workflow, the tasks that must finish
	// first (task-defaults' included), in the order written.
	Requires []string
	Pos      Pos
	// Spec is the task as written (task-defaults not merged), with its
	// name, its workflow's type and the version, as Mistral's
	// task().spec gives it.
	Spec map[string]any
}

// JoinAll is Task.Join for `join: all`.
const JoinAll = -1

// Transition is one entry of on-success, on-error or on-complete.
type Transition struct {
	// Target is the next task's name, or empty when Command is set.
	Target string
	// Command is "", "fail", "succeed", "pause" or "noop". A noop
	// transition does nothing but counts as taken (an `on-error: noop`
	// handles the error).
	Command string
	// Msg is the command's `msg` (fail, succeed); nil when absent.
	Msg *expr.Template
	// When is the condition (`name: <% cond %>`); nil means always.
	When *expr.Template
	Pos  Pos
}

// WithItem is one `name in <% source %>` clause.
type WithItem struct {
	Var    string
	Source *expr.Template // yields a list
}

// Retry is a task's retry policy. Count and Delay may be expressions.
type Retry struct {
	Count      *expr.Template // int
	Delay      *expr.Template // seconds
	BreakOn    *expr.Template // nil: none
	ContinueOn *expr.Template // nil: none
}

// Pos is a 1-based line and column in the source document.
type Pos struct {
	Line, Col int
}

// alwaysRuns reports whether a task of a direct workflow runs on every run
// of it, whatever the data: a start task, or one an unconditional
// on-complete of such a task leads to.
func alwaysRuns(wf *Workflow, task string) bool {
	if wf.Type != Direct {
		return false
	}
	seen := map[string]bool{}
	next := slices.Clone(wf.Start)
	for len(next) > 0 {
		name := next[0]
		next = next[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		if name == task {
			return true
		}
		t := wf.Tasks[name]
		if t == nil || t.Join != 0 {
			continue
		}
		for _, tr := range t.OnComplete {
			if tr.When == nil && tr.Target != "" {
				next = append(next, tr.Target)
			}
		}
	}
	return false
}
