package dsl

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/borawf/bora/internal/expr"
)

// ActionSpec is what the loader may know about an action: the parameters
// it takes. A nil Params means the action takes any.
type ActionSpec struct {
	Required, Optional []string
}

// CheckActions checks the actions the tasks of b name against the actions
// the caller knows (the worker's registry) and reports, at each task:
// an unknown `std.` action as an error (Bora knows that namespace whole),
// any other unknown action as a warning (it may be registered elsewhere),
// and, for a known action, parameters it does not take and required ones
// that are missing, as warnings. Names and inputs that are expressions are
// not checked: they are only known when the task runs.
func CheckActions(b *Bundle, known map[string]ActionSpec) Diagnostics {
	names := make([]string, 0, len(known)+len(b.Actions))
	for n := range known {
		names = append(names, n)
	}
	for n := range b.Actions {
		names = append(names, n)
	}
	sort.Strings(names)
	var ds Diagnostics
	for _, wfName := range b.Order {
		wf := b.Workflows[wfName]
		for _, tn := range wf.Order {
			t := wf.Tasks[tn]
			if t.Action == nil || !t.Action.IsConst() {
				continue
			}
			name, _ := t.Action.Source().(string)
			if name == "" || b.Actions[name] != nil {
				continue
			}
			at := func(sev Severity, format string, args ...any) {
				ds = append(ds, Diagnostic{File: b.File, Pos: t.Pos, Severity: sev,
					Msg: fmt.Sprintf("task `%s`: ", tn) + fmt.Sprintf(format, args...)})
			}
			spec, ok := known[name]
			if !ok {
				sev := Warning
				if strings.HasPrefix(name, "std.") {
					sev = Error
				}
				at(sev, "unknown action `%s`%s", name, didYouMean(name, names, false))
				continue
			}
			params, ok := constKeys(t)
			if !ok || spec.Required == nil && spec.Optional == nil {
				continue
			}
			valid := append(slices.Clone(spec.Required), spec.Optional...)
			for _, p := range params {
				if !slices.Contains(valid, p) {
					at(Warning, "action `%s` takes no parameter `%s`%s", name, p, didYouMean(p, valid, true))
				}
			}
			for _, r := range spec.Required {
				if !slices.Contains(params, r) {
					at(Warning, "action `%s` needs the parameter `%s`", name, r)
				}
			}
		}
	}
	return ds
}

// constKeys returns the parameter names of a task's input when they are
// all known before it runs.
func constKeys(t *Task) ([]string, bool) {
	if t.Input == nil {
		return nil, true
	}
	m, ok := t.Input.Source().(map[string]any)
	if !ok {
		return nil, false // one expression yields the whole input
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if expr.ContainsExpr(k) {
			return nil, false
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, true
}
