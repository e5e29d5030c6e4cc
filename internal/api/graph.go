package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/borawf/bora/internal/dsl"
	"github.com/borawf/bora/internal/expr"
	"github.com/borawf/bora/internal/store"
)

// Graph answers GET /workflows/{name}/versions/{version}/graph: the
// workflows of one stored version as the engine walks them — tasks and
// transitions, joins, engine commands, requires — for drawing. Values
// that are expressions are given as written.
type Graph struct {
	Definition string `json:"definition"`
	Version    int    `json:"version"`
	// Workbook is the workbook's name; its workflows are started as
	// "<workbook>.<workflow>".
	Workbook  string          `json:"workbook,omitempty"`
	Workflows []GraphWorkflow `json:"workflows"`
}

// GraphWorkflow is one workflow of a Graph.
type GraphWorkflow struct {
	Name        string       `json:"name"`
	Type        string       `json:"type"` // direct or reverse
	Description string       `json:"description,omitempty"`
	Tags        []string     `json:"tags,omitempty"`
	Line        int          `json:"line"`
	Input       []GraphParam `json:"input"`
	Output      any          `json:"output,omitempty"`
	Tasks       []GraphTask  `json:"tasks"`
}

// GraphParam is a workflow input; Default is there when it has one.
type GraphParam struct {
	Name    string          `json:"name"`
	Default json.RawMessage `json:"default,omitempty"`
}

// GraphTask is one task, with task-defaults merged in.
type GraphTask struct {
	Name        string   `json:"name"`
	Line        int      `json:"line"`
	Description string   `json:"description,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	// Action or Workflow is what the task runs (an expression may pick
	// it); neither means std.noop.
	Action   any `json:"action,omitempty"`
	Workflow any `json:"workflow,omitempty"`
	Input    any `json:"input,omitempty"`
	// Start: a task of a direct workflow that no transition leads to; it
	// runs first.
	Start bool `json:"start,omitempty"`
	// Join is "all" or the number of inbound transitions to wait for.
	Join        any         `json:"join,omitempty"`
	WithItems   []string    `json:"with_items,omitempty"` // "x in <% ... %>"
	Concurrency any         `json:"concurrency,omitempty"`
	Retry       *GraphRetry `json:"retry,omitempty"`
	Timeout     any         `json:"timeout,omitempty"`
	WaitBefore  any         `json:"wait_before,omitempty"`
	WaitAfter   any         `json:"wait_after,omitempty"`
	PauseBefore any         `json:"pause_before,omitempty"`
	FailOn      any         `json:"fail_on,omitempty"`
	SafeRerun   any         `json:"safe_rerun,omitempty"`
	KeepResult  any         `json:"keep_result,omitempty"`
	Publish     any         `json:"publish,omitempty"`
	// PublishOnError is what the task publishes when it fails,
	// PublishOnSkip when a user skips it.
	PublishOnError any `json:"publish_on_error,omitempty"`
	PublishOnSkip  any `json:"publish_on_skip,omitempty"`
	// Requires lists, in a reverse workflow, the tasks that must finish first.
	Requires    []string          `json:"requires,omitempty"`
	Transitions []GraphTransition `json:"transitions"`
}

// GraphRetry is a task's retry policy.
type GraphRetry struct {
	Count      any `json:"count,omitempty"`
	Delay      any `json:"delay,omitempty"`
	BreakOn    any `json:"break_on,omitempty"`
	ContinueOn any `json:"continue_on,omitempty"`
}

// GraphTransition is one entry of on-success, on-error, on-complete or on-skip:
// to a task, or an engine command (fail, succeed, pause, noop).
type GraphTransition struct {
	On      string `json:"on"` // on-success, on-error, on-complete or on-skip
	Task    string `json:"task,omitempty"`
	Command string `json:"command,omitempty"`
	When    any    `json:"when,omitempty"`
	Msg     any    `json:"msg,omitempty"`
	Line    int    `json:"line"`
}

// getGraph answers with the compiled workflows of a stored version. A
// deleted workflow's versions are served too: its executions still run
// on them, and the console draws those.
func (s *server) getGraph(w http.ResponseWriter, r *http.Request) error {
	name, v := r.PathValue("name"), r.PathValue("version")
	version, err := strconv.Atoi(v)
	if err != nil || version < 1 {
		return problem(TypeWorkflowNotFound, fmt.Sprintf("%q is not a version: versions are numbered from 1", v))
	}
	src, ver, err := s.store.GetDefinition(r.Context(), name, version)
	if errors.Is(err, store.ErrNotFound) {
		return problem(TypeWorkflowNotFound, fmt.Sprintf("workflow %q has no version %d", name, version))
	}
	if err != nil {
		return err
	}
	b, diags := dsl.Load(documentFile, src)
	if b == nil {
		// A stored version compiled when it was stored; a newer Bora may
		// refuse it.
		p := problem(TypeInvalidWorkflow, fmt.Sprintf("version %d of %q does not compile with this version of Bora: %s", ver, name, countErrors(diags)))
		p.Diagnostics = diagnostics(diags)
		return p
	}
	return writeJSON(w, http.StatusOK, graphOf(name, ver, b))
}

// graphOf describes a compiled document.
func graphOf(name string, version int, b *dsl.Bundle) Graph {
	g := Graph{Definition: name, Version: version, Workbook: b.Name, Workflows: []GraphWorkflow{}}
	for _, n := range b.Order {
		wf := b.Workflows[n]
		gw := GraphWorkflow{Name: n, Type: wf.Type, Description: wf.Description, Tags: wf.Tags, Line: wf.Pos.Line,
			Input: []GraphParam{}, Output: src(wf.Output), Tasks: []GraphTask{}}
		for _, p := range wf.Input {
			gp := GraphParam{Name: p.Name}
			if p.HasDefault {
				if d, err := json.Marshal(expr.Normalize(p.Default)); err == nil {
					gp.Default = d
				}
			}
			gw.Input = append(gw.Input, gp)
		}
		start := map[string]bool{}
		for _, t := range wf.Start {
			start[t] = true
		}
		for _, tn := range wf.Order {
			gw.Tasks = append(gw.Tasks, graphTask(wf.Tasks[tn], start[tn]))
		}
		g.Workflows = append(g.Workflows, gw)
	}
	return g
}

func graphTask(t *dsl.Task, start bool) GraphTask {
	gt := GraphTask{
		Name: t.Name, Line: t.Pos.Line, Description: t.Description, Tags: t.Tags,
		Action: src(t.Action), Workflow: src(t.Workflow), Input: src(t.Input), Start: start,
		Concurrency: src(t.Concurrency), Timeout: src(t.Timeout), WaitBefore: src(t.WaitBefore),
		WaitAfter: src(t.WaitAfter), PauseBefore: src(t.PauseBefore), FailOn: src(t.FailOn),
		SafeRerun: src(t.SafeRerun), KeepResult: src(t.KeepResult),
		Publish: src(t.Publish), PublishOnError: src(t.PublishOnError), PublishOnSkip: src(t.PublishOnSkip),
		Requires: t.Requires, Transitions: []GraphTransition{},
	}
	switch {
	case t.Join == dsl.JoinAll:
		gt.Join = "all"
	case t.Join > 0:
		gt.Join = t.Join
	}
	for _, wi := range t.WithItems {
		gt.WithItems = append(gt.WithItems, wi.Var+" in "+wi.Source.String())
	}
	if r := t.Retry; r != nil {
		gt.Retry = &GraphRetry{Count: src(r.Count), Delay: src(r.Delay), BreakOn: src(r.BreakOn), ContinueOn: src(r.ContinueOn)}
	}
	for _, on := range []struct {
		name string
		list []dsl.Transition
	}{{"on-success", t.OnSuccess}, {"on-error", t.OnError}, {"on-complete", t.OnComplete}, {"on-skip", t.OnSkip}} {
		for _, tr := range on.list {
			gt.Transitions = append(gt.Transitions, GraphTransition{On: on.name, Task: tr.Target, Command: tr.Command,
				When: src(tr.When), Msg: src(tr.Msg), Line: tr.Pos.Line})
		}
	}
	return gt
}

// src is a template as written, in JSON terms; nil for none.
func src(t *expr.Template) any {
	if t == nil {
		return nil
	}
	return expr.Normalize(t.Source())
}
