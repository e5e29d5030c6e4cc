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
// that are missing, as warnings. A task may also call an ad-hoc action of
// the document: its parameters are checked against the ad-hoc action's
// `input`, and the action its `base` calls (at the end of a chain of
// ad-hoc actions) against the known ones. Names and inputs that are
// expressions are not checked: they are only known when the task runs.
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
	report := func(pos Pos, sev Severity, msg string) {
		ds = append(ds, Diagnostic{File: b.File, Pos: pos, Severity: sev, Msg: msg})
	}
	// Unknown actions are reported once each, at their first call site,
	// with the number of sites.
	type calls struct {
		pos    Pos
		prefix string
		who    []string
	}
	unknown := map[string]*calls{}
	var unknownOrder []string
	// check reports an unknown action, or the parameters a known one
	// does not take or needs.
	check := func(pos Pos, prefix, name string, params []string, paramsKnown bool) {
		at := func(sev Severity, format string, args ...any) {
			report(pos, sev, prefix+fmt.Sprintf(format, args...))
		}
		spec, ok := known[name]
		if a := b.Actions[name]; a != nil {
			spec, ok = adhocSpec(a), true
		}
		if !ok {
			c := unknown[name]
			if c == nil {
				c = &calls{pos: pos, prefix: prefix}
				unknown[name] = c
				unknownOrder = append(unknownOrder, name)
			}
			c.who = append(c.who, strings.TrimSuffix(strings.TrimPrefix(prefix, "task `"), "`: "))
			return
		}
		if !paramsKnown || spec.Required == nil && spec.Optional == nil {
			return
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
	for _, wfName := range b.Order {
		wf := b.Workflows[wfName]
		for _, tn := range wf.Order {
			t := wf.Tasks[tn]
			if t.Action == nil || !t.Action.IsConst() {
				continue
			}
			name, _ := t.Action.Source().(string)
			if name == "" {
				continue
			}
			params, ok := constKeys(t.Input)
			check(t.Pos, fmt.Sprintf("task `%s`: ", tn), name, params, ok)
		}
	}
	// Each ad-hoc action once, in name order: what its base calls.
	var adhoc []string
	for n, a := range b.Actions {
		if n == a.Name {
			adhoc = append(adhoc, n)
		}
	}
	sort.Strings(adhoc)
	for _, n := range adhoc {
		a := b.Actions[n]
		params, ok := constKeys(a.BaseInput)
		check(a.BasePos, fmt.Sprintf("ad-hoc action `%s`: ", n), a.Base, params, ok)
	}
	for _, name := range unknownOrder {
		c := unknown[name]
		sev := Warning
		if strings.HasPrefix(name, "std.") {
			sev = Error
		}
		more := ""
		if len(c.who) > 1 {
			more = fmt.Sprintf(" (%d call sites: %s)", len(c.who), listNames(c.who))
		}
		report(c.pos, sev, c.prefix+fmt.Sprintf("unknown action `%s`%s%s", name, didYouMean(name, names, false), more))
	}
	ds.sort()
	return ds
}

// listNames lists names for a message, the first few of many.
func listNames(names []string) string {
	const shown = 5
	if len(names) <= shown {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:shown], ", ") + fmt.Sprintf(" and %d more", len(names)-shown)
}

// adhocSpec is the parameters an ad-hoc action takes: its inputs, those
// without a default required.
func adhocSpec(a *Action) ActionSpec {
	spec := ActionSpec{Required: []string{}, Optional: []string{}}
	for _, p := range a.Input {
		if p.HasDefault {
			spec.Optional = append(spec.Optional, p.Name)
		} else {
			spec.Required = append(spec.Required, p.Name)
		}
	}
	return spec
}

// constKeys returns the parameter names of an input template when they
// are all known before it runs.
func constKeys(input *expr.Template) ([]string, bool) {
	if input == nil {
		return nil, true
	}
	m, ok := input.Source().(map[string]any)
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
