package expr

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// A string that holds a Jinja statement (`{% ... %}`) is a Jinja template,
// rendered whole to a string, as Mistral renders it: with `{% if %}`,
// `{% for %}`, `{% set %}`, `{% raw %}`, comments (`{# ... #}`) and `{{ }}`
// expressions, under the options Mistral's environment sets (trim_blocks,
// lstrip_blocks, StrictUndefined) and Jinja's defaults (one trailing
// newline of the template is dropped; `-` strips white space beside a tag).

// jinjaBlock finds a statement the way Mistral recognises one: `{%` and
// `%}` on one line.
var jinjaBlock = regexp.MustCompile(`\{%.*?%\}`)

// isJinjaTemplate reports whether s is a Jinja template.
func isJinjaTemplate(s string) bool {
	return strings.Contains(s, "{%") && jinjaBlock.MatchString(s)
}

type jkind uint8

const (
	jText jkind = iota
	jOut        // {{ expr }}
	jIf         // {% if %}…{% elif %}…{% else %}…{% endif %}
	jFor        // {% for targets in iter [if filter] %}…{% else %}…{% endfor %}
	jSet        // {% set targets = expr %}
)

// jnode is one part of a template.
type jnode struct {
	kind    jkind
	pos     int // offset of the tag in the template string
	text    string
	expr    *node      // jOut, jSet: the value; jFor: the iterable
	conds   []*node    // jIf: the conditions of if and each elif
	bodies  [][]*jnode // jIf: a body per condition, then the else body
	targets []string   // jFor, jSet
	filter  *node      // jFor: the `if` of the loop
	body    []*jnode   // jFor
	orElse  []*jnode   // jFor: rendered when there was nothing to loop over
}

// jtag is a lexed tag.
type jtag struct {
	kind       byte // '{' an expression, '%' a statement, '#' a comment
	start, end int  // the whole tag, delimiters included
	in         int  // where the content starts
	content    string
	stripLeft  bool // `{%-`
	stripRight bool // `-%}`
	keepLeft   bool // `{%+`
}

// compileJinjaTemplate parses a template string.
func compileJinjaTemplate(s string) ([]*jnode, *SyntaxError) {
	src := strings.TrimSuffix(s, "\n")
	if len(src) < len(s) {
		src = strings.TrimSuffix(src, "\r")
	}
	items, err := lexJinja(src)
	if err != nil {
		err.Expr = s
		return nil, err
	}
	b := &jbuilder{src: s, items: items}
	nodes, end, serr := b.block(nil)
	if serr != nil {
		serr.Expr = s
		return nil, serr
	}
	if end != nil {
		return nil, &SyntaxError{Expr: s, Offset: end.start, Msg: fmt.Sprintf("unexpected `{%% %s %%}`", firstWord(end.content))}
	}
	return nodes, nil
}

// jitem is text or a tag, after white space control.
type jitem struct {
	text string
	tag  *jtag
}

// lexJinja splits a template into text and tags and applies white space
// control: `-` strips beside a tag, lstrip_blocks strips the indentation
// before a statement or comment alone on its line (unless `{%+`), and
// trim_blocks drops the newline after one.
func lexJinja(s string) ([]jitem, *SyntaxError) {
	var items []jitem
	i := 0
	for i < len(s) {
		j := indexTagStart(s, i)
		if j < 0 {
			items = append(items, jitem{text: s[i:]})
			break
		}
		if j > i {
			items = append(items, jitem{text: s[i:j]})
		}
		t, err := readTag(s, j)
		if err != nil {
			return nil, err
		}
		if t.kind == '%' && firstWord(t.content) == "raw" {
			// Everything up to {% endraw %} is text.
			loc := endRaw.FindStringIndex(s[t.end:])
			if loc == nil {
				return nil, &SyntaxError{Offset: t.start, Msg: "`{% raw %}` is not closed by `{% endraw %}`"}
			}
			items = append(items, jitem{tag: &t}, jitem{text: s[t.end : t.end+loc[0]]})
			i = t.end + loc[1]
			continue
		}
		items = append(items, jitem{tag: &t})
		i = t.end
	}
	// White space control, on the text beside each tag. lstrip_blocks
	// looks at the text as written, so it is decided first.
	lstrip := make([]bool, len(items))
	for k, it := range items {
		t := it.tag
		if t == nil || t.kind == '{' || t.keepLeft || k == 0 || items[k-1].tag != nil {
			continue
		}
		p := items[k-1].text
		line := p[strings.LastIndexByte(p, '\n')+1:]
		lstrip[k] = strings.Trim(line, " \t") == "" && (strings.Contains(p, "\n") || k == 1)
	}
	for k := range items {
		t := items[k].tag
		if t == nil {
			continue
		}
		if k > 0 && items[k-1].tag == nil {
			p := &items[k-1]
			switch {
			case t.stripLeft:
				p.text = strings.TrimRight(p.text, " \t\r\n\f\v")
			case lstrip[k]:
				p.text = strings.TrimRight(p.text, " \t")
			}
		}
		if k+1 < len(items) && items[k+1].tag == nil {
			n := &items[k+1]
			switch {
			case t.stripRight:
				n.text = strings.TrimLeft(n.text, " \t\r\n\f\v")
			case t.kind != '{':
				n.text = strings.TrimPrefix(n.text, "\n") // trim_blocks
			}
		}
	}
	return items, nil
}

var endRaw = regexp.MustCompile(`\{%[-+]?\s*endraw\s*[-]?%\}`)

// indexTagStart finds the next `{{`, `{%` or `{#` at or after i.
func indexTagStart(s string, i int) int {
	for {
		j := strings.IndexByte(s[i:], '{')
		if j < 0 || i+j+1 >= len(s) {
			return -1
		}
		switch s[i+j+1] {
		case '{', '%', '#':
			return i + j
		}
		i += j + 1
	}
}

// readTag reads the tag that starts at s[i].
func readTag(s string, i int) (jtag, *SyntaxError) {
	t := jtag{kind: s[i+1], start: i, in: i + 2}
	closer := map[byte]string{'{': "}}", '%': "%}", '#': "#}"}[t.kind]
	var end int
	if t.kind == '#' {
		end = strings.Index(s[i+2:], closer)
		if end >= 0 {
			end += i + 2
		}
	} else {
		end = closing(s, i+2, closer, indexFrom(s, i+2, closer))
	}
	if end < 0 {
		what := map[byte]string{'{': "expression `{{`", '%': "statement `{%`", '#': "comment `{#`"}[t.kind]
		return t, &SyntaxError{Offset: i, Msg: what + " is not closed by `" + closer + "`"}
	}
	t.end = end + 2
	content := s[i+2 : end]
	if strings.HasPrefix(content, "-") {
		t.stripLeft, content, t.in = true, content[1:], t.in+1
	} else if strings.HasPrefix(content, "+") && t.kind != '{' {
		t.keepLeft, content, t.in = true, content[1:], t.in+1
	}
	if strings.HasSuffix(content, "-") {
		t.stripRight, content = true, content[:len(content)-1]
	}
	t.content = content
	return t, nil
}

func indexFrom(s string, i int, sub string) int {
	j := strings.Index(s[i:], sub)
	if j < 0 {
		return -1
	}
	return i + j
}

func firstWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// jbuilder turns the lexed items into the tree of statements.
type jbuilder struct {
	src   string
	items []jitem
	i     int
}

// block reads nodes until a statement that ends or splits the enclosing
// one (endif, elif, else, endfor), which it returns; or to the end.
func (b *jbuilder) block(stops []string) ([]*jnode, *jtag, *SyntaxError) {
	var out []*jnode
	for b.i < len(b.items) {
		it := b.items[b.i]
		b.i++
		if it.tag == nil {
			if it.text != "" {
				out = append(out, &jnode{kind: jText, text: it.text})
			}
			continue
		}
		t := it.tag
		switch t.kind {
		case '#':
			continue
		case '{':
			n, err := parseExpr(t.content, jinja, t.in)
			if err != nil {
				return nil, nil, err
			}
			out = append(out, &jnode{kind: jOut, pos: t.start, expr: n})
			continue
		}
		word := firstWord(t.content)
		if slices.Contains(stops, word) {
			return out, t, nil
		}
		var n *jnode
		var err *SyntaxError
		switch word {
		case "if":
			n, err = b.ifStmt(t)
		case "for":
			n, err = b.forStmt(t)
		case "set":
			n, err = b.setStmt(t)
		case "raw":
			// The raw text follows as an item of its own.
			continue
		case "":
			err = &SyntaxError{Offset: t.start, Msg: "empty statement `{% %}`"}
		case "endif", "elif", "else", "endfor", "endraw":
			err = &SyntaxError{Offset: t.start, Msg: fmt.Sprintf("`{%% %s %%}` without the statement it belongs to", word)}
		default:
			err = &SyntaxError{Offset: t.start, Msg: fmt.Sprintf("the Jinja statement `%s` is not supported; Bora renders `if`, `for`, `set` and `raw`", word)}
		}
		if err != nil {
			return nil, nil, err
		}
		out = append(out, n)
	}
	if len(stops) > 0 {
		return nil, nil, &SyntaxError{Offset: len(b.src), Msg: fmt.Sprintf("missing `{%% %s %%}`", stops[len(stops)-1])}
	}
	return out, nil, nil
}

// stmt parses the part of a statement after its keyword.
func stmtParser(t *jtag, word string) *parser {
	off := strings.Index(t.content, word) + len(word)
	return &parser{lx: &lexer{src: t.content[off:], d: jinja}, d: jinja, base: t.in + off}
}

func (p *parser) end() *SyntaxError {
	if p.lx.err != nil {
		return p.lexErr()
	}
	if p.peek().kind != tEOF {
		return p.unexpected()
	}
	return nil
}

func (b *jbuilder) ifStmt(t *jtag) (*jnode, *SyntaxError) {
	n := &jnode{kind: jIf, pos: t.start}
	for {
		word := firstWord(t.content)
		if word == "else" {
			body, end, err := b.block([]string{"endif"})
			if err != nil {
				return nil, err
			}
			if strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(t.content), "else")) != "" {
				return nil, &SyntaxError{Offset: t.start, Msg: "`{% else %}` takes no condition; write `{% elif ... %}`"}
			}
			n.bodies = append(n.bodies, body)
			_ = end
			return n, nil
		}
		p := stmtParser(t, word)
		cond, err := p.jinjaExpr()
		if err == nil {
			err = p.end()
		}
		if err != nil {
			return nil, err
		}
		body, end, err := b.block([]string{"elif", "else", "endif"})
		if err != nil {
			return nil, err
		}
		n.conds = append(n.conds, cond)
		n.bodies = append(n.bodies, body)
		if firstWord(end.content) == "endif" {
			return n, nil
		}
		t = end
	}
}

func (b *jbuilder) forStmt(t *jtag) (*jnode, *SyntaxError) {
	p := stmtParser(t, "for")
	n := &jnode{kind: jFor, pos: t.start}
	targets, err := p.targets()
	if err != nil {
		return nil, err
	}
	n.targets = targets
	if !p.isWord("in") {
		return nil, p.expected(`"in"`)
	}
	p.advance()
	if n.expr, err = p.jinjaOr(); err != nil {
		return nil, err
	}
	if p.isWord("if") {
		p.advance()
		if n.filter, err = p.jinjaExpr(); err != nil {
			return nil, err
		}
	}
	if p.isWord("recursive") {
		return nil, p.errAt(p.peek(), "recursive loops are not supported")
	}
	if err := p.end(); err != nil {
		return nil, err
	}
	body, end, err := b.block([]string{"else", "endfor"})
	if err != nil {
		return nil, err
	}
	n.body = body
	if firstWord(end.content) == "else" {
		if n.orElse, _, err = b.block([]string{"endfor"}); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func (b *jbuilder) setStmt(t *jtag) (*jnode, *SyntaxError) {
	p := stmtParser(t, "set")
	n := &jnode{kind: jSet, pos: t.start}
	targets, err := p.targets()
	if err != nil {
		return nil, err
	}
	n.targets = targets
	if !p.isOp("=") {
		if p.peek().kind == tEOF {
			return nil, p.errAt(p.peek(), "block assignments (`{%% set x %%}...{%% endset %%}`) are not supported; write `{%% set x = ... %%}`")
		}
		return nil, p.expected(`"="`)
	}
	p.advance()
	if n.expr, err = p.jinjaExpr(); err != nil {
		return nil, err
	}
	if p.isOp(",") { // a tuple
		items := []*node{n.expr}
		for p.isOp(",") {
			p.advance()
			x, err := p.jinjaExpr()
			if err != nil {
				return nil, err
			}
			items = append(items, x)
		}
		if n.expr, err = p.mk(nList, 0, items...); err != nil {
			return nil, err
		}
	}
	return n, p.end()
}

// targets reads `name`, `a, b` or `(a, b)`.
func (p *parser) targets() ([]string, *SyntaxError) {
	paren := p.isOp("(")
	if paren {
		p.advance()
	}
	var names []string
	for {
		t := p.peek()
		if t.kind != tIdent || t.text == "in" {
			return nil, p.expected("a variable name")
		}
		p.advance()
		names = append(names, t.text)
		if !p.isOp(",") {
			break
		}
		p.advance()
	}
	if paren {
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// renderJinja renders a template to b. Variables set by the template live
// in scopes above the evaluator's.
func (x *evaluator) renderJinja(nodes []*jnode, b *strings.Builder) error {
	for _, n := range nodes {
		switch n.kind {
		case jText:
			if err := x.emit(n, b, n.text); err != nil {
				return err
			}
		case jOut:
			v, err := x.evalDef(n.expr, x.root)
			if err != nil {
				return err
			}
			s, err := x.render(n.expr, v)
			if err != nil {
				return err
			}
			if err := x.emit(n, b, s); err != nil {
				return err
			}
		case jIf:
			chosen := len(n.conds) // the else body, if any
			for i, c := range n.conds {
				v, err := x.evalDef(c, x.root)
				if err != nil {
					return err
				}
				if Truthy(v) {
					chosen = i
					break
				}
			}
			if chosen < len(n.bodies) {
				if err := x.renderJinja(n.bodies[chosen], b); err != nil {
					return err
				}
			}
		case jFor:
			if err := x.loop(n, b); err != nil {
				return err
			}
		case jSet:
			v, err := x.evalDef(n.expr, x.root)
			if err != nil {
				return err
			}
			vals, err := x.unpack(n.expr, n.targets, v)
			if err != nil {
				return err
			}
			x.vars.names = append(x.vars.names, n.targets...)
			x.vars.vals = append(x.vars.vals, vals...)
		}
	}
	return nil
}

// emit writes s, counting it against the byte budget.
func (x *evaluator) emit(n *jnode, b *strings.Builder, s string) error {
	if err := x.alloc(&node{pos: n.pos}, len(s)); err != nil {
		return err
	}
	b.WriteString(s)
	return nil
}

// loop renders a for statement: each element in a scope of its own, with
// the loop variables and `loop`.
func (x *evaluator) loop(n *jnode, b *strings.Builder) error {
	v, err := x.evalDef(n.expr, x.root)
	if err != nil {
		return err
	}
	elems, err := iterable("for", v)
	if err != nil {
		return &failure{pos: n.expr.pos, msg: fmt.Sprintf("'%s' object is not iterable", typeName(v))}
	}
	outer := x.vars
	defer func() { x.vars = outer }()
	bind := func(e any) (*scope, error) {
		vals, err := x.unpack(n.expr, n.targets, e)
		if err != nil {
			return nil, err
		}
		return &scope{parent: outer, names: slices.Clone(n.targets), vals: vals}, nil
	}
	if n.filter != nil {
		kept := make([]any, 0, len(elems))
		for _, e := range elems {
			if err := x.charge(n.filter, 1); err != nil {
				return err
			}
			sc, err := bind(e)
			if err != nil {
				return err
			}
			x.vars = sc
			ok, err := x.evalDef(n.filter, x.root)
			x.vars = outer
			if err != nil {
				return err
			}
			if Truthy(ok) {
				kept = append(kept, e)
			}
		}
		elems = kept
	}
	if len(elems) == 0 {
		x.vars = &scope{parent: outer}
		return x.renderJinja(n.orElse, b)
	}
	for i, e := range elems {
		if err := x.charge(n.expr, 1); err != nil {
			return err
		}
		sc, err := bind(e)
		if err != nil {
			return err
		}
		sc.names = append(sc.names, "loop")
		sc.vals = append(sc.vals, map[string]any{
			"index": int64(i + 1), "index0": int64(i),
			"revindex": int64(len(elems) - i), "revindex0": int64(len(elems) - i - 1),
			"first": i == 0, "last": i == len(elems)-1, "length": int64(len(elems)),
		})
		x.vars = sc
		if err := x.renderJinja(n.body, b); err != nil {
			return err
		}
	}
	return nil
}

// unpack gives each target its value: v itself for one, or v's elements.
func (x *evaluator) unpack(at *node, targets []string, v any) ([]any, error) {
	if len(targets) == 1 {
		return []any{v}, nil
	}
	l, ok := v.([]any)
	if !ok {
		return nil, x.fail(at, "cannot unpack %s into %d variables", typeName(v), len(targets))
	}
	if len(l) != len(targets) {
		return nil, x.fail(at, "cannot unpack %d values into %d variables", len(l), len(targets))
	}
	return l, nil
}

// evalJinja renders a template node.
func (x *evaluator) evalJinja(t *jtemplate) (any, error) {
	x.d = jinja
	outer := x.vars
	x.vars = &scope{parent: outer}
	defer func() { x.vars = outer }()
	var b strings.Builder
	if err := x.renderJinja(t.nodes, &b); err != nil {
		return nil, x.wrap(&compiled{d: jinja, text: t.src}, err)
	}
	return b.String(), nil
}

// jtemplate is a compiled Jinja template.
type jtemplate struct {
	src   string
	nodes []*jnode
}

// walk calls f on every expression of the template.
func (t *jtemplate) walk(f func(*node)) {
	var visit func([]*jnode)
	visit = func(ns []*jnode) {
		for _, n := range ns {
			for _, e := range slices.Concat([]*node{n.expr, n.filter}, n.conds) {
				if e != nil {
					f(e)
				}
			}
			for _, body := range n.bodies {
				visit(body)
			}
			visit(n.body)
			visit(n.orElse)
		}
	}
	visit(t.nodes)
}
