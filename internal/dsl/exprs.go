package dsl

import (
	"errors"
	"slices"
	"strings"

	"github.com/borawf/bora/internal/expr"
)

// This file connects the loader to the expression package: it compiles
// templates and reports expression problems at their place in the file.

// compile checks each expression site of v and compiles v. It returns nil
// when an expression does not parse (that is then reported).
func (l *loader) compile(v any, sites []site, at loc) *expr.Template {
	ok := true
	for _, s := range sites {
		if !l.checkSite(s) {
			ok = false
		}
	}
	if !ok {
		return nil
	}
	t, err := expr.Compile(v)
	if err != nil {
		l.exprError(err, site{Node: at.N, Base: at.Off})
		return nil
	}
	return t
}

// checkSite compiles one string on its own, to report a syntax error at its
// place, and warns about the functions and tasks it names that do not
// exist.
func (l *loader) checkSite(s site) bool {
	t, err := expr.Compile(s.S)
	if err != nil {
		l.exprError(err, s)
		return false
	}
	refs := t.Refs()
	at := loc{N: s.Node, Off: s.Base}
	var warned []string
	for _, f := range refs.Functions {
		if !expr.IsFunction(f) && !slices.Contains(warned, f) {
			warned = append(warned, f)
			l.report(l.offsetPos(at.N, at.Off), Warning, "unknown function `"+f+"`"+didYouMean(f, expr.Functions(), false))
		}
	}
	if l.wf != nil {
		for _, name := range refs.Tasks {
			if _, ok := l.wf.tasks[name]; !ok && !slices.Contains(warned, "task:"+name) {
				warned = append(warned, "task:"+name)
				l.report(l.offsetPos(at.N, at.Off), Warning,
					"task(`"+name+"`) names no task of workflow `"+l.wf.name+"`"+didYouMean(name, l.wf.order, false))
			}
		}
	}
	return true
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
