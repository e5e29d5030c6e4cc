package engine

import (
	"fmt"
	"maps"
	"slices"

	"github.com/borawf/bora/internal/dsl"
)

// Ad-hoc actions (a workbook's `actions:`) run as the action at the end of
// their chain of bases: the engine turns a task's input into that action's
// input when it plans the units, and the action's result into the ad-hoc
// action's output when the task completes. Workers see only registered
// actions.

// expandAdhoc turns a call of the ad-hoc action name with input into the
// call of the registered action it stands for: at each ad-hoc action of the
// chain the input is checked against its `input` (defaults filled in) and
// its `base-input` evaluated, with `$` the input over the task's context
// data. The chain comes from a loaded document, which has no loops.
func (s *stepper) expandAdhoc(name string, input, data, cur map[string]any) (string, map[string]any, error) {
	chain, base := dsl.Chain(s.wf.Actions, name)
	if base == "" {
		return "", nil, fmt.Errorf("ad-hoc action %s calls itself through its bases", name)
	}
	for _, a := range chain {
		in, err := adhocInput(a, input)
		if err != nil {
			return "", nil, err
		}
		view := maps.Clone(data)
		maps.Copy(view, in)
		v, err := s.eval(a.BaseInput, view, cur)
		if err != nil {
			return "", nil, fmt.Errorf("base-input of ad-hoc action %s: %w", a.Name, err)
		}
		if v == nil {
			v = map[string]any{}
		}
		m, ok := v.(map[string]any)
		if !ok {
			return "", nil, fmt.Errorf("base-input of ad-hoc action %s must be a map, not %s", a.Name, brief(v))
		}
		input = m
	}
	return base, input, nil
}

// adhocInput checks a call's input against an ad-hoc action's declared
// inputs and fills in the defaults, as Mistral does (its message names
// what is missing and what is not expected).
func adhocInput(a *dsl.Action, input map[string]any) (map[string]any, error) {
	out := maps.Clone(input)
	if out == nil {
		out = map[string]any{}
	}
	declared := make(map[string]bool, len(a.Input))
	var missing, unexpected []string
	for _, p := range a.Input {
		declared[p.Name] = true
		if _, ok := out[p.Name]; ok {
			continue
		}
		if p.HasDefault {
			out[p.Name] = p.Default
			continue
		}
		missing = append(missing, p.Name)
	}
	for k := range out {
		if !declared[k] {
			unexpected = append(unexpected, k)
		}
	}
	if len(missing) == 0 && len(unexpected) == 0 {
		return out, nil
	}
	slices.Sort(unexpected)
	msg := fmt.Sprintf("Invalid input [name=%s, class=AdHocAction", a.Name)
	if len(missing) > 0 {
		msg += ", missing=" + pyList(missing)
	}
	if len(unexpected) > 0 {
		msg += ", unexpected=" + pyList(unexpected)
	}
	return nil, fmt.Errorf("%s]", msg)
}

// adhocOutput turns the result of the action an ad-hoc action stands for
// into the ad-hoc action's result: each `output` of the chain, from the
// innermost base out, with `$` the result so far.
func (s *stepper) adhocOutput(name string, result any, cur map[string]any) (any, error) {
	chain, _ := dsl.Chain(s.wf.Actions, name)
	for _, a := range slices.Backward(chain) {
		if a.Output == nil {
			continue
		}
		v, err := s.evalOn(a.Output, result, cur)
		if err != nil {
			return nil, fmt.Errorf("output of ad-hoc action %s: %w", a.Name, err)
		}
		result = v
	}
	return result, nil
}

// transforms reports whether a task may run an ad-hoc action whose output
// changes its result: then the engine, not the unit's outcome, ends it.
func transforms(wf *dsl.Workflow, t *dsl.Task) bool {
	if len(wf.Actions) == 0 || t.Action == nil {
		return false
	}
	name, ok := t.Action.Source().(string)
	if !ok || !t.Action.IsConst() {
		return true // an expression may name an ad-hoc action
	}
	chain, _ := dsl.Chain(wf.Actions, name)
	return slices.ContainsFunc(chain, func(a *dsl.Action) bool { return a.Output != nil })
}
