package dsl

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/borawf/bora/internal/expr"
)

// This file connects the loader to the expression package: it compiles
// templates and reports expression problems at their place in the file.

// compile compiles v, whose strings holding expressions are listed in
// sites with their places. A syntax error is reported at its place (every
// one, when several strings are wrong) and gives nil; functions and tasks
// that do not exist get warnings.
func (l *loader) compile(v any, sites []site, at loc) *expr.Template {
	t, err := expr.Compile(v)
	if err != nil {
		// Compile stops at the first error; compile each string on its own
		// to report them all, each at its place.
		found := false
		for _, s := range sites {
			if _, err := expr.Compile(s.S); err != nil {
				l.exprError(err, s)
				found = true
			}
		}
		if !found {
			l.exprError(err, site{Node: at.N, Base: at.Off})
		}
		return nil
	}
	l.checkRefs(t.Refs(), sites, at)
	for _, s := range sites {
		if off, open, closeTok := unclosed(s.S); off >= 0 {
			l.report(l.offsetPos(s.Node, s.Base+off), Warning, fmt.Sprintf(
				"`%s` is not closed by `%s`: the text is used as it is, as Mistral uses it", open, closeTok))
		}
	}
	return t
}

// unclosed finds the first `<%`, `{{` or `{%` of s that no closing
// delimiter follows: Mistral and Bora take it as plain text, which is
// seldom what was meant. off is -1 when there is none.
func unclosed(s string) (off int, open, closeTok string) {
	for _, d := range [][2]string{{"<%", "%>"}, {"{{", "}}"}, {"{%", "%}"}} {
		if i := strings.LastIndex(s, d[0]); i >= 0 && !strings.Contains(s[i+2:], d[1]) {
			return i, d[0], d[1]
		}
	}
	return -1, "", ""
}

// checkRefs warns about the functions and the task() names of a template
// that do not exist, at the first string that mentions them.
func (l *loader) checkRefs(refs expr.Refs, sites []site, at loc) {
	// where finds the first string that holds one of the forms, and points
	// at the name in it.
	where := func(name string, forms ...string) Pos {
		for _, form := range append(forms, name) {
			for _, s := range sites {
				if i := strings.Index(s.S, form); i >= 0 {
					return l.offsetPos(s.Node, s.Base+i+strings.Index(form, name))
				}
			}
		}
		return l.pos(at)
	}
	for i, f := range refs.Functions {
		if !expr.IsFunction(f) && !slices.Contains(refs.Functions[:i], f) {
			l.report(where(f, f+"("), Warning, "unknown function `"+f+"`"+didYouMean(f, expr.Functions(), false))
		}
	}
	if l.wf == nil {
		return
	}
	for _, v := range refs.Vars {
		l.wf.varRefs = append(l.wf.varRefs, varRef{name: v, pos: where(v, "$."+v, "_."+v, "$?."+v)})
	}
	for i, name := range refs.Tasks {
		if _, ok := l.wf.tasks[name]; !ok && !slices.Contains(refs.Tasks[:i], name) {
			l.report(where(name), Warning,
				"task(`"+name+"`) names no task of workflow `"+l.wf.name+"`"+didYouMean(name, l.wf.order, false))
		}
	}
}

// exprError reports a compile error at its place: for a syntax error, the
// offset within the expression's string is mapped to the file.
func (l *loader) exprError(err error, s site) {
	var se *expr.SyntaxError
	if errors.As(err, &se) {
		l.report(l.offsetPos(s.Node, s.Base+se.Offset), Error, "expression: "+se.Msg+" in `"+clip(exprAround(se.Expr, se.Offset))+"`")
		return
	}
	l.report(l.offsetPos(s.Node, s.Base), Error, "expression: "+err.Error())
}

// exprAround cuts, out of the string s, the delimited expression that holds
// offset off (or s itself when none does).
func exprAround(s string, off int) string {
	off = min(max(off, 0), len(s))
	start := max(strings.LastIndex(s[:off], "<%"), strings.LastIndex(s[:off], "{{"))
	if start < 0 {
		return s
	}
	closeTok := "%>"
	if strings.HasPrefix(s[start:], "{{") {
		closeTok = "}}"
	}
	end := strings.Index(s[max(off, start+2):], closeTok)
	if end < 0 {
		return s[start:]
	}
	return s[start : max(off, start+2)+end+2]
}

// clip shortens long expressions in messages and keeps them on one line.
func clip(s string) string {
	const limit = 60
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > limit {
		return string(r[:limit-3]) + "..."
	}
	return s
}

// constTemplate compiles a value that holds no expression.
func constTemplate(v any) *expr.Template {
	t, err := expr.Compile(v)
	if err != nil {
		return nil
	}
	return t
}

// normalize brings a decoded default into the expression package's form.
func normalize(v any) any { return expr.Normalize(v) }

// varRef is a variable an expression of a workflow reads, and where.
type varRef struct {
	name string
	pos  Pos
}

// engineVars are the variables Mistral puts in every workflow context.
var engineVars = []string{"__execution", "__env", "__task_execution", "openstack"}

// checkVars warns about variables that no input, var, publish or
// with-items of the workflow defines: usually a typo. It stays silent when
// a publish or var name is itself an expression.
func (l *loader) checkVars(w *Workflow, specs []*taskSpec) {
	known := map[string]bool{}
	for _, v := range engineVars {
		known[v] = true
	}
	for _, p := range w.Input {
		known[p.Name] = true
	}
	addKeys := func(m map[string]any) bool {
		for k := range m {
			if hasExpr(k) {
				return false
			}
			known[k] = true
		}
		return true
	}
	if w.Vars != nil {
		if m, ok := w.Vars.Source().(map[string]any); ok && !addKeys(m) {
			return
		}
	}
	for _, ts := range specs {
		for _, p := range ts.publish {
			if !addKeys(p.m) {
				return
			}
		}
		for _, c := range ts.clauses {
			if c != nil && (!addKeys(c.branch.m) || !addKeys(c.global.m)) {
				return
			}
		}
		for _, wi := range ts.t.WithItems {
			known[wi.Var] = true
		}
	}
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, r := range l.wf.varRefs {
		if !known[r.name] {
			l.report(r.pos, Warning, "variable `"+r.name+"` is never set in workflow `"+w.Name+
				"`: no input, var, publish or with-items defines it"+didYouMean(r.name, names, false))
		}
	}
}
