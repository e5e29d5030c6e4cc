package expr

import (
	"encoding/json"
	"errors"
	"strings"
)

// Template is a value with its expressions compiled. See the package doc.
// A Template is immutable and safe for concurrent use.
type Template struct {
	src   any
	root  *tnode
	refs  Refs
	konst bool
}

type tkind uint8

const (
	tkConst tkind = iota // val, with no expression anywhere inside
	tkExpr               // a string that is exactly one expression: keeps its type
	tkText               // a string with text and expressions: renders to a string
	tkJinja              // a Jinja template (statements, or text with {{ }}): renders to a string
	tkList
	tkMap
)

type tnode struct {
	kind   tkind
	val    any
	expr   *compiled
	pieces []piece
	items  []*tnode // list items; map values
	keys   []*tnode // map keys, parallel to items
	jinja  *jtemplate
}

type piece struct {
	text string
	expr *compiled // nil for literal text
}

// compiled is one parsed expression.
type compiled struct {
	d    dialect
	text string // the expression without its delimiters, trimmed
	root *node
}

// Compile compiles a JSON-like value: every string in it that holds `<% %>`
// or `{{ }}` becomes an expression. A string that is exactly one expression
// (surrounding whitespace allowed) keeps the expression's type when
// evaluated; a string with text around or several expressions renders to a
// string. Map keys may hold expressions too.
//
// v is normalized first (see Normalize). A syntax error in a string is
// returned as *SyntaxError whose Offset is relative to that string.
func Compile(v any) (*Template, error) {
	t := &Template{src: v}
	root, err := compileValue(Normalize(v))
	if err != nil {
		return nil, err
	}
	t.root = root
	t.konst = root.kind == tkConst
	t.refs = collectRefs(root)
	return t, nil
}

// MustCompile is like Compile but panics on error. For tests and constants.
func MustCompile(v any) *Template {
	t, err := Compile(v)
	if err != nil {
		panic(err)
	}
	return t
}

func compileValue(v any) (*tnode, error) {
	switch x := v.(type) {
	case string:
		return compileString(x)
	case []any:
		n := &tnode{kind: tkList, val: x, items: make([]*tnode, len(x))}
		konst := true
		for i, e := range x {
			c, err := compileValue(e)
			if err != nil {
				return nil, err
			}
			n.items[i] = c
			konst = konst && c.kind == tkConst
		}
		if konst {
			return &tnode{kind: tkConst, val: x}, nil
		}
		return n, nil
	case map[string]any:
		n := &tnode{kind: tkMap, val: x}
		konst := true
		for _, k := range sortedKeys(x) {
			kc, err := compileString(k)
			if err != nil {
				return nil, err
			}
			vc, err := compileValue(x[k])
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, kc)
			n.items = append(n.items, vc)
			konst = konst && kc.kind == tkConst && vc.kind == tkConst
		}
		if konst {
			return &tnode{kind: tkConst, val: x}, nil
		}
		return n, nil
	}
	return &tnode{kind: tkConst, val: v}, nil
}

// span is one delimited expression found in a string.
type span struct {
	d          dialect
	start, end int // the whole `<% ... %>` or `{{ ... }}`
}

// ContainsExpr reports whether s holds an expression: `<% ... %>`,
// `{{ ... }}` or a Jinja statement `{% ... %}`.
func ContainsExpr(s string) bool {
	if !strings.Contains(s, "<%") && !strings.Contains(s, "{{") && !strings.Contains(s, "{%") {
		return false
	}
	return isJinjaTemplate(s) || len(findSpans(s)) > 0
}

// findSpans finds the expressions of s. Delimiters without a closing
// partner are plain text, as in Mistral.
func findSpans(s string) []span {
	var spans []span
	next := [2]int{-2, -2} // cached next "%>" and "}}" at or after the scan position
	find := func(k int, from int, delim string) int {
		if next[k] == -1 || next[k] >= from {
			return next[k]
		}
		next[k] = strings.Index(s[from:], delim)
		if next[k] >= 0 {
			next[k] += from
		}
		return next[k]
	}
	i := 0
	for i < len(s)-1 {
		j := strings.IndexAny(s[i:], "<{")
		if j < 0 || i+j+1 >= len(s) {
			break
		}
		i += j
		switch s[i : i+2] {
		case "<%":
			if end := closing(s, i+2, "%>", find(0, i+2, "%>")); end >= 0 {
				spans = append(spans, span{d: yaql, start: i, end: end + 2})
				i = end + 2
				continue
			}
		case "{{":
			if end := closing(s, i+2, "}}", find(1, i+2, "}}")); end >= 0 {
				spans = append(spans, span{d: jinja, start: i, end: end + 2})
				i = end + 2
				continue
			}
		}
		i++
	}
	return spans
}

// closing finds the delimiter that ends an expression starting at from,
// given the first occurrence of the delimiter at or after from (fallback),
// skipping quoted strings and nested brackets. If that finds nothing it falls
// back to the first occurrence, so that an unbalanced expression is still
// reported as a syntax error rather than read as text.
func closing(s string, from int, delim string, fallback int) int {
	if fallback < 0 {
		return -1
	}
	// Look past the first delimiter only so far, which keeps finding every
	// expression of a string linear in its length.
	limit := min(len(s), fallback+maxLookahead)
	depth := 0
	for i := from; i < limit; i++ {
		if depth == 0 && strings.HasPrefix(s[i:], delim) {
			return i
		}
		switch c := s[i]; c {
		case '\'', '"', '`':
			if c == '`' && delim != "%>" {
				continue
			}
			end := quoteEnd(s, i, limit, c == '`')
			if end < 0 {
				return fallback
			}
			i = end
		case '{', '[', '(':
			depth++
		case '}', ']', ')':
			if depth > 0 {
				depth--
			}
		}
	}
	return fallback
}

// maxLookahead bounds how far past the first closing delimiter a quoted
// string or a bracket may carry the search for the real one.
const maxLookahead = 512

// quoteEnd returns the index of the quote that closes the string opening at
// s[start], or -1.
func quoteEnd(s string, start, limit int, raw bool) int {
	q := s[start]
	for i := start + 1; i < limit; i++ {
		switch s[i] {
		case '\\':
			if !raw {
				i++
			}
		case q:
			return i
		}
	}
	return -1
}

func compileString(s string) (*tnode, error) {
	spans := findSpans(s)
	template := isJinjaTemplate(s)
	if len(spans) == 0 && !template {
		return &tnode{kind: tkConst, val: s}, nil
	}
	for i, sp := range spans {
		if sp.d != spans[0].d || template && sp.d == yaql {
			at := sp.start
			if template && i == 0 {
				at = strings.Index(s, "{%")
			}
			return nil, &SyntaxError{Expr: s, Offset: at,
				Msg: "a string cannot mix YAQL (<% %>) and Jinja ({{ }}, {% %}) expressions"}
		}
	}
	// A string that is one expression keeps its type: a YAQL one with
	// white space around it too, a Jinja one only alone (Mistral renders
	// anything around it, a newline included, as a template).
	single := len(spans) == 1 && strings.TrimSpace(s[:spans[0].start]) == "" && strings.TrimSpace(s[spans[0].end:]) == "" &&
		(spans[0].d == yaql || spans[0].start == 0 && spans[0].end == len(s))
	if template || len(spans) > 0 && spans[0].d == jinja && !single {
		// Mistral renders such a string as a whole Jinja template.
		nodes, err := compileJinjaTemplate(s)
		if err != nil {
			return nil, err
		}
		return &tnode{kind: tkJinja, val: s, jinja: &jtemplate{src: s, nodes: nodes}}, nil
	}
	var pieces []piece
	last := 0
	for _, sp := range spans {
		if sp.start > last {
			pieces = append(pieces, piece{text: s[last:sp.start]})
		}
		c, err := compileSpan(s, sp)
		if err != nil {
			return nil, err
		}
		pieces = append(pieces, piece{expr: c})
		last = sp.end
	}
	if last < len(s) {
		pieces = append(pieces, piece{text: s[last:]})
	}
	if single {
		return &tnode{kind: tkExpr, val: s, expr: pieces[exprIndex(pieces)].expr}, nil
	}
	return &tnode{kind: tkText, val: s, pieces: pieces}, nil
}

func exprIndex(pieces []piece) int {
	for i, p := range pieces {
		if p.expr != nil {
			return i
		}
	}
	return 0
}

func compileSpan(s string, sp span) (*compiled, error) {
	inner := s[sp.start+2 : sp.end-2]
	root, serr := parseExpr(inner, sp.d, sp.start+2)
	if serr != nil {
		serr.Expr = s
		return nil, serr
	}
	return &compiled{d: sp.d, text: strings.TrimSpace(inner), root: root}, nil
}

// Eval evaluates the template in c. A nil c evaluates with no data and no
// host. The result may share lists and maps with c.Data and with values the
// host returned; treat it as read-only or copy it.
func (t *Template) Eval(c *Context) (any, error) {
	if c == nil {
		c = &Context{}
	}
	if t.konst {
		return deepCopy(t.root.val), nil
	}
	x := newEvaluator(c)
	v, err := x.evalTemplate(t.root)
	if err == nil && x.timed {
		v = plain(v)
	}
	return v, err
}

func (x *evaluator) evalTemplate(n *tnode) (any, error) {
	switch n.kind {
	case tkConst:
		return deepCopy(n.val), nil
	case tkExpr:
		return x.evalCompiled(n.expr)
	case tkText:
		var b strings.Builder
		for _, p := range n.pieces {
			if p.expr == nil {
				b.WriteString(p.text)
				continue
			}
			v, err := x.evalCompiled(p.expr)
			if err != nil {
				return nil, err
			}
			s, err := x.render(p.expr.root, v)
			if err == nil {
				err = x.alloc(p.expr.root, len(s))
			}
			if err != nil {
				return nil, x.wrap(p.expr, err)
			}
			b.WriteString(s)
		}
		return b.String(), nil
	case tkJinja:
		return x.evalJinja(n.jinja)
	case tkList:
		out := make([]any, len(n.items))
		for i, it := range n.items {
			v, err := x.evalTemplate(it)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case tkMap:
		out := make(map[string]any, len(n.items))
		for i, it := range n.items {
			k, err := x.evalTemplate(n.keys[i])
			if err != nil {
				return nil, err
			}
			v, err := x.evalTemplate(it)
			if err != nil {
				return nil, err
			}
			out[keyString(k)] = v
		}
		return out, nil
	}
	return nil, nil
}

func (x *evaluator) evalCompiled(c *compiled) (any, error) {
	x.d = c.d
	v, err := x.eval(c.root, x.root)
	if err == nil {
		if u, ok := v.(*undefined); ok {
			err = &failure{pos: c.root.pos, msg: u.msg}
		}
	}
	if err != nil {
		return nil, x.wrap(c, err)
	}
	return v, nil
}

func (x *evaluator) wrap(c *compiled, err error) error {
	e := &EvalError{Lang: c.d.String(), Expr: c.text, Err: err}
	var f *failure
	if errors.As(err, &f) {
		e.Offset = f.pos
		e.Msg = f.msg
		e.Err = f.err
	} else {
		e.Msg = err.Error()
	}
	return e
}

// Refs lists what the template refers to.
func (t *Template) Refs() Refs { return t.refs }

// IsConst reports whether the template holds no expression.
func (t *Template) IsConst() bool { return t.konst }

// Source returns the value as written.
func (t *Template) Source() any { return t.src }

// String returns the source as text, for messages: a string as it is,
// anything else as JSON.
func (t *Template) String() string {
	if s, ok := t.src.(string); ok {
		return s
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(Normalize(t.src)); err != nil {
		return Render(t.src)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// collectRefs walks every expression of a template.
func collectRefs(root *tnode) Refs {
	r := &refWalker{seen: map[string]bool{}}
	r.tnode(root)
	return r.refs
}

type refWalker struct {
	refs Refs
	seen map[string]bool
}

// bindsPositional reports whether a let()/with() call has positional
// arguments, which rebind `$`.
func bindsPositional(n *node) bool {
	for _, a := range n.args {
		if a.op != nPair {
			return true
		}
	}
	return false
}

func (r *refWalker) add(list *[]string, kind, name string) {
	if r.seen[kind+name] {
		return
	}
	r.seen[kind+name] = true
	*list = append(*list, name)
}

func (r *refWalker) tnode(n *tnode) {
	switch n.kind {
	case tkExpr:
		r.node(n.expr.root, true)
	case tkText:
		for _, p := range n.pieces {
			if p.expr != nil {
				r.node(p.expr.root, true)
			}
		}
	case tkJinja:
		n.jinja.walk(func(e *node) { r.node(e, true) })
	case tkList, tkMap:
		for _, k := range n.keys {
			r.tnode(k)
		}
		for _, it := range n.items {
			r.tnode(it)
		}
	}
}

// node collects refs; top is false inside a per-element argument, where
// `$` is an element rather than the data root.
func (r *refWalker) node(n *node, top bool) {
	if n == nil {
		return
	}
	switch n.op {
	case nAttr, nAttrSafe:
		if top && n.args[0].op == nRoot {
			r.add(&r.refs.Vars, "v", n.name)
		}
	case nIndex:
		if top && n.args[0].op == nRoot && n.args[1].op == nLit {
			if s, ok := n.args[1].val.(string); ok {
				r.add(&r.refs.Vars, "v", s)
			}
		}
	case nCall, nFilter:
		r.add(&r.refs.Functions, "f", n.name)
		if n.op == nCall && !n.method {
			switch n.name {
			case "task":
				if len(n.args) > 0 {
					if s, ok := n.args[0].val.(string); ok && n.args[0].op == nLit {
						r.add(&r.refs.Tasks, "t", s)
					} else {
						r.refs.Dynamic = true
					}
				}
			case "tasks":
				r.refs.Dynamic = true
			}
		}
		lam, end := len(n.args), len(n.args)
		if n.fn != nil && n.fn.lambda > 0 && n.op == nCall {
			lam = n.fn.lambda
			if n.fn.lambdaEnd > 0 {
				end = n.fn.lambdaEnd
			}
		}
		for i, a := range n.args {
			r.node(a, top && (i < lam || i > end))
		}
		return
	case nArrow:
		// After let(x, …) -> the right side's `$` is x, not the data.
		r.node(n.args[0], top)
		r.node(n.args[1], top && !bindsPositional(n.args[0]))
		return
	}
	for _, a := range n.args {
		r.node(a, top)
	}
}
