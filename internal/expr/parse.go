package expr

import (
	"fmt"
	"strings"
	"unicode"
)

type opcode uint8

const (
	nLit      opcode = iota
	nRoot            // YAQL `$` (the current value) or Jinja `_` (the data root)
	nVar             // YAQL `$name` or a Jinja bare name
	nAttr            // args[0].name
	nAttrSafe        // args[0]?.name (YAQL)
	nIndex           // args[0][args[1]]
	nSlice           // args[0][args[1]:args[2]] (Jinja); nil bounds are open
	nCall            // name(args...); a method call has the receiver as args[0]
	nFilter          // Jinja args[0] | name(args[1:]...)
	nTest            // Jinja args[0] is [not] name(args[1:]...)
	nList            // [args...]
	nDict            // {args[0]: args[1], ...}
	nPair            // keyword argument name => args[0], or mapping args[1] => args[0] (YAQL)
	nArrow           // YAQL args[0] -> args[1]: evaluate args[1] with the variables of let()/with()
	nNeg
	nPos
	nNot
	nAnd
	nOr
	nCond // args[0] if args[1] else args[2] (args[2] may be nil)
	nAdd
	nSub
	nMul
	nDiv      // YAQL `/`: floor division between integers
	nTrueDiv  // Jinja `/`
	nFloorDiv // Jinja `//`
	nMod
	nPow
	nConcat // Jinja `~`
	nEq
	nNe
	nLt
	nLe
	nGt
	nGe
	nIn
	nNotIn
	nMatch
	nNotMatch
)

var opNames = map[opcode]string{
	nAdd: "+", nSub: "-", nMul: "*", nDiv: "/", nTrueDiv: "/", nFloorDiv: "//",
	nMod: "mod", nPow: "**", nConcat: "~", nEq: "=", nNe: "!=", nLt: "<",
	nLe: "<=", nGt: ">", nGe: ">=", nIn: "in", nNotIn: "not in", nMatch: "=~",
	nNotMatch: "!~", nNeg: "-", nPos: "+", nNot: "not",
}

// maxDepth bounds the nesting of an expression's syntax tree, so that
// hostile input cannot exhaust the stack of the parser or the evaluator.
const maxDepth = 200

type node struct {
	op     opcode
	method bool // nCall written as a method: receiver.name(...)
	negate bool // nTest written as `is not`
	depth  uint16
	pos    int // byte offset within the compiled string
	name   string
	val    any
	args   []*node
	fn     *function // resolved library entry for nCall and nFilter; nil if unknown
	// numbered is set when the subtree reads a numbered variable ($1, $2…):
	// a per-element argument then binds them.
	numbered bool
}

type parser struct {
	lx    *lexer
	i     int
	d     dialect
	base  int // offset of the expression text within the compiled string
	depth int
	moved bool // whether the last advance moved
}

// parseExpr parses one expression written in dialect d. base is the offset of
// src within the string it came from; every position is made absolute with it.
func parseExpr(src string, d dialect, base int) (*node, *SyntaxError) {
	if d == yaql {
		// Mistral strips a YAQL expression with Python's str.strip(), so
		// Unicode spaces (a no-break space pasted from a web page) around it
		// are allowed; inside it they are not.
		// The lexer skips trailing ones.
		trimmed := strings.TrimLeftFunc(src, unicode.IsSpace)
		base += len(src) - len(trimmed)
		src = trimmed
	}
	p := &parser{lx: &lexer{src: src, d: d}, d: d, base: base}
	var n *node
	var err *SyntaxError
	if t := p.peek(); t.kind == tEOF {
		if p.lx.err != nil {
			return nil, p.lexErr()
		}
		return nil, &SyntaxError{Offset: base + t.pos, Msg: "empty expression"}
	}
	if d == yaql {
		n, err = p.yaqlExpr(0)
	} else {
		n, err = p.jinjaExpr()
	}
	if err == nil && p.peek().kind != tEOF {
		err = p.unexpected()
	}
	if p.lx.err != nil {
		// The parser saw the end where the text could not be read on.
		return nil, p.lexErr()
	}
	if err != nil {
		return nil, err
	}
	return n, nil
}

func (p *parser) lexErr() *SyntaxError {
	e := *p.lx.err
	e.Offset += p.base
	return &e
}

// fill lexes until token i+k exists or the text ends.
func (p *parser) fill(k int) {
	for len(p.lx.toks) <= p.i+k {
		if n := len(p.lx.toks); n > 0 && p.lx.toks[n-1].kind == tEOF {
			return
		}
		p.lx.more()
	}
}

func (p *parser) peek() token {
	p.fill(0)
	return p.lx.toks[p.i]
}

func (p *parser) peekAt(k int) token {
	p.fill(k)
	if p.i+k < len(p.lx.toks) {
		return p.lx.toks[p.i+k]
	}
	return p.lx.toks[len(p.lx.toks)-1]
}

func (p *parser) advance() token {
	t := p.peek()
	p.moved = t.kind != tEOF
	if p.moved {
		p.i++
	}
	return t
}

func (p *parser) isOp(s string) bool {
	t := p.peek()
	return t.kind == tOp && t.text == s
}

func (p *parser) isWord(s string) bool {
	t := p.peek()
	return t.kind == tIdent && t.text == s
}

func (p *parser) errAt(t token, format string, args ...any) *SyntaxError {
	return &SyntaxError{Offset: p.base + t.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) unexpected() *SyntaxError {
	t := p.peek()
	switch t.kind {
	case tEOF:
		return p.errAt(t, "unexpected end of expression")
	case tStr:
		return p.errAt(t, "unexpected string %q", t.text)
	case tDollar:
		return p.errAt(t, "unexpected $%s", t.text)
	}
	return p.errAt(t, "unexpected %q", t.text)
}

func (p *parser) expectOp(s string) *SyntaxError {
	if !p.isOp(s) {
		t := p.peek()
		if t.kind == tEOF {
			return p.errAt(t, "expected %q, found end of expression", s)
		}
		return p.errAt(t, "expected %q, found %q", s, t.text)
	}
	p.advance()
	return nil
}

func (p *parser) expected(what string) *SyntaxError {
	t := p.peek()
	switch t.kind {
	case tEOF:
		return p.errAt(t, "expected %s, found end of expression", what)
	case tStr:
		return p.errAt(t, "expected %s, found string %q", what, t.text)
	case tDollar:
		return p.errAt(t, "expected %s, found $%s", what, t.text)
	}
	return p.errAt(t, "expected %s, found %q", what, t.text)
}

func (p *parser) enter() *SyntaxError {
	p.depth++
	if p.depth > maxDepth {
		return p.errAt(p.peek(), "expression is nested too deeply (more than %d levels)", maxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// mk builds a node, bounding the depth of the tree.
func (p *parser) mk(op opcode, pos int, args ...*node) (*node, *SyntaxError) {
	n := &node{op: op, pos: p.base + pos, args: args}
	var d uint16
	for _, a := range args {
		if a != nil && a.depth > d {
			d = a.depth
		}
	}
	n.depth = d + 1
	for _, a := range args {
		if a != nil && a.numbered {
			n.numbered = true
		}
	}
	if n.depth > maxDepth {
		return nil, &SyntaxError{Offset: n.pos, Msg: fmt.Sprintf("expression is nested too deeply (more than %d levels)", maxDepth)}
	}
	return n, nil
}

func (p *parser) lit(pos int, v any) *node {
	return &node{op: nLit, pos: p.base + pos, val: v, depth: 1}
}

// ---- YAQL ----

type binop struct {
	op  opcode
	lbp int
}

var yaqlBinops = map[string]binop{
	"or": {nOr, 2}, "and": {nAnd, 3},
	"=": {nEq, 5}, "!=": {nNe, 5}, "<": {nLt, 5}, "<=": {nLe, 5}, ">": {nGt, 5}, ">=": {nGe, 5}, "in": {nIn, 5},
	"+": {nAdd, 6}, "-": {nSub, 6},
	"*": {nMul, 7}, "/": {nDiv, 7}, "mod": {nMod, 7},
	"=~": {nMatch, 8}, "!~": {nNotMatch, 8},
}

const (
	bpArrow   = 1
	bpNot     = 4
	bpUnary   = 9
	bpPostfix = 10
)

func (p *parser) yaqlExpr(minBP int) (*node, *SyntaxError) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	left, err := p.yaqlPrefix()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tOp && t.kind != tIdent {
			return left, nil
		}
		if t.kind == tOp && (t.text == "." || t.text == "?." || t.text == "[") {
			if bpPostfix < minBP {
				return left, nil
			}
			left, err = p.yaqlPostfix(left)
			if err != nil {
				return nil, err
			}
			continue
		}
		if t.kind == tOp && t.text == "==" {
			return nil, p.errAt(t, "YAQL compares with \"=\", not \"==\"")
		}
		if t.kind == tOp && t.text == "->" {
			if bpArrow < minBP {
				return left, nil
			}
			// Right-associative: let(a => 1) -> let(b => 2) -> $a + $b.
			p.advance()
			right, err := p.yaqlExpr(bpArrow)
			if err != nil {
				return nil, err
			}
			if left, err = p.mk(nArrow, t.pos, left, right); err != nil {
				return nil, err
			}
			continue
		}
		b, ok := yaqlBinops[t.text]
		if !ok || b.lbp < minBP {
			return left, nil
		}
		p.advance()
		right, err := p.yaqlExpr(b.lbp + 1)
		if err != nil {
			return nil, err
		}
		if left, err = p.mk(b.op, t.pos, left, right); err != nil {
			return nil, err
		}
	}
}

func (p *parser) yaqlPostfix(left *node) (*node, *SyntaxError) {
	t := p.advance()
	if t.text == "[" {
		idx, err := p.yaqlExpr(0)
		if err != nil {
			return nil, err
		}
		if err := p.expectOp("]"); err != nil {
			return nil, err
		}
		return p.mk(nIndex, t.pos, left, idx)
	}
	name := p.peek()
	if name.kind != tIdent {
		if name.kind == tDollar && name.text == "" {
			return nil, p.errAt(name, "\"$\" cannot follow %q", t.text)
		}
		return nil, p.errAt(name, "expected a name after %q", t.text)
	}
	p.advance()
	if p.isOp("(") {
		args, err := p.callArgs(")")
		if err != nil {
			return nil, err
		}
		n, serr := p.mk(nCall, name.pos, append([]*node{left}, args...)...)
		if serr != nil {
			return nil, serr
		}
		n.method = true
		n.name = name.text
		n.fn = lookup(p.d, name.text)
		return n, nil
	}
	op := nAttr
	if t.text == "?." {
		op = nAttrSafe
	}
	n, serr := p.mk(op, name.pos, left)
	if serr != nil {
		return nil, serr
	}
	n.name = name.text
	return n, nil
}

func (p *parser) yaqlPrefix() (*node, *SyntaxError) {
	t := p.advance()
	switch t.kind {
	case tNum:
		return p.lit(t.pos, t.num), nil
	case tStr:
		return p.lit(t.pos, t.text), nil
	case tDollar:
		if t.text == "" {
			n, _ := p.mk(nRoot, t.pos)
			return n, nil
		}
		n, _ := p.mk(nVar, t.pos)
		n.name = t.text
		n.numbered = isDigit(t.text[0])
		return n, nil
	case tIdent:
		switch t.text {
		case "true":
			return p.lit(t.pos, true), nil
		case "false":
			return p.lit(t.pos, false), nil
		case "null":
			return p.lit(t.pos, nil), nil
		case "not":
			x, err := p.yaqlExpr(bpNot + 1)
			if err != nil {
				return nil, err
			}
			return p.mk(nNot, t.pos, x)
		case "and", "or", "in", "mod":
			return nil, p.errAt(t, "unexpected %q", t.text)
		}
		if p.isOp("(") {
			args, err := p.callArgs(")")
			if err != nil {
				return nil, err
			}
			n, serr := p.mk(nCall, t.pos, args...)
			if serr != nil {
				return nil, serr
			}
			n.name = t.text
			n.fn = lookup(p.d, t.text)
			return n, nil
		}
		// A bare name is a string in YAQL: task(build) is task('build').
		return p.lit(t.pos, t.text), nil
	case tOp:
		switch t.text {
		case "-", "+":
			x, err := p.yaqlExpr(bpUnary)
			if err != nil {
				return nil, err
			}
			if t.text == "-" {
				return p.mk(nNeg, t.pos, x)
			}
			return p.mk(nPos, t.pos, x)
		case "(":
			x, err := p.yaqlExpr(0)
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return x, nil
		case "[":
			args, err := p.list("]")
			if err != nil {
				return nil, err
			}
			return p.mk(nList, t.pos, args...)
		case "{":
			return p.dict(t, "=>")
		}
	}
	p.back()
	return nil, p.unexpected()
}

// callArgs parses `(args)` after a function name; the `(` is next.
func (p *parser) callArgs(closer string) ([]*node, *SyntaxError) {
	p.advance()
	return p.items(closer, p.arg)
}

// items parses comma-separated items up to and including closer (a
// trailing comma is allowed).
func (p *parser) items(closer string, item func() (*node, *SyntaxError)) ([]*node, *SyntaxError) {
	var out []*node
	for !p.isOp(closer) {
		if len(out) > 0 {
			if !p.isOp(",") {
				return nil, p.expected(`"," or "` + closer + `"`)
			}
			p.advance()
			if p.isOp(closer) {
				break
			}
		}
		x, err := item()
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	p.advance()
	return out, nil
}

// arg parses one call argument: an expression or a keyword argument
// (`name => value` in YAQL, `name=value` in Jinja). In YAQL `=>` is a
// mapping whose left side may be any expression (`switch($.n > 1 => 'many')`);
// it binds looser than every other operator.
func (p *parser) arg() (*node, *SyntaxError) {
	kw := "=>"
	if p.d == jinja {
		kw = "="
	}
	if t := p.peek(); t.kind == tIdent && !yaqlWords[t.text] {
		if nt := p.peekAt(1); nt.kind == tOp && nt.text == kw {
			p.advance()
			p.advance()
			v, err := p.expr()
			if err != nil {
				return nil, err
			}
			n, serr := p.mk(nPair, t.pos, v)
			if serr != nil {
				return nil, serr
			}
			n.name = t.text
			return n, nil
		}
	}
	x, err := p.expr()
	if err != nil || p.d != yaql || !p.isOp("=>") {
		return x, err
	}
	arrow := p.advance()
	v, err := p.expr()
	if err != nil {
		return nil, err
	}
	return p.mk(nPair, arrow.pos, v, x)
}

// yaqlWords are the YAQL names that are not bare strings.
var yaqlWords = map[string]bool{"true": true, "false": true, "null": true,
	"not": true, "and": true, "or": true, "in": true, "mod": true}

func (p *parser) expr() (*node, *SyntaxError) {
	if p.d == yaql {
		return p.yaqlExpr(0)
	}
	return p.jinjaExpr()
}

func (p *parser) list(closer string) ([]*node, *SyntaxError) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	return p.items(closer, p.expr)
}

func (p *parser) dict(open token, sep string) (*node, *SyntaxError) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	var items []*node
	for !p.isOp("}") {
		if len(items) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
			if p.isOp("}") {
				break
			}
		}
		var k *node
		var err *SyntaxError
		if p.d == yaql {
			k, err = p.yaqlExpr(bpNot)
		} else {
			k, err = p.jinjaExpr()
		}
		if err != nil {
			return nil, err
		}
		if err := p.expectOp(sep); err != nil {
			return nil, err
		}
		v, err := p.expr()
		if err != nil {
			return nil, err
		}
		items = append(items, k, v)
	}
	p.advance()
	return p.mk(nDict, open.pos, items...)
}

// ---- Jinja ----

func (p *parser) jinjaExpr() (*node, *SyntaxError) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	x, err := p.jinjaOr()
	if err != nil {
		return nil, err
	}
	for p.isWord("if") {
		t := p.advance()
		cond, err := p.jinjaOr()
		if err != nil {
			return nil, err
		}
		var other *node
		if p.isWord("else") {
			p.advance()
			if other, err = p.jinjaExpr(); err != nil {
				return nil, err
			}
		}
		if x, err = p.mk(nCond, t.pos, x, cond, other); err != nil {
			return nil, err
		}
	}
	return x, nil
}

func (p *parser) jinjaOr() (*node, *SyntaxError) {
	x, err := p.jinjaAnd()
	for err == nil && p.isWord("or") {
		t := p.advance()
		var y *node
		if y, err = p.jinjaAnd(); err == nil {
			x, err = p.mk(nOr, t.pos, x, y)
		}
	}
	return x, err
}

func (p *parser) jinjaAnd() (*node, *SyntaxError) {
	x, err := p.jinjaNot()
	for err == nil && p.isWord("and") {
		t := p.advance()
		var y *node
		if y, err = p.jinjaNot(); err == nil {
			x, err = p.mk(nAnd, t.pos, x, y)
		}
	}
	return x, err
}

func (p *parser) jinjaNot() (*node, *SyntaxError) {
	if p.isWord("not") {
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		t := p.advance()
		x, err := p.jinjaNot()
		if err != nil {
			return nil, err
		}
		return p.mk(nNot, t.pos, x)
	}
	return p.jinjaCompare()
}

var jinjaCompareOps = map[string]opcode{"==": nEq, "!=": nNe, "<": nLt, "<=": nLe, ">": nGt, ">=": nGe}

func (p *parser) jinjaCompare() (*node, *SyntaxError) {
	x, err := p.jinjaMath1()
	for err == nil {
		t := p.peek()
		var op opcode
		switch {
		case t.kind == tOp && jinjaCompareOps[t.text] != 0:
			op = jinjaCompareOps[t.text]
			p.advance()
		case t.kind == tIdent && t.text == "in":
			op = nIn
			p.advance()
		case t.kind == tIdent && t.text == "not" && p.peekAt(1).kind == tIdent && p.peekAt(1).text == "in":
			op = nNotIn
			p.advance()
			p.advance()
		case t.kind == tOp && t.text == "=":
			return nil, p.errAt(t, "Jinja compares with \"==\", not \"=\"")
		default:
			return x, nil
		}
		var y *node
		if y, err = p.jinjaMath1(); err == nil {
			x, err = p.mk(op, t.pos, x, y)
		}
	}
	return nil, err
}

func (p *parser) jinjaBinary(next func() (*node, *SyntaxError), ops map[string]opcode) (*node, *SyntaxError) {
	x, err := next()
	for err == nil {
		t := p.peek()
		op, ok := ops[t.text]
		if t.kind != tOp || !ok {
			return x, nil
		}
		p.advance()
		var y *node
		if y, err = next(); err == nil {
			x, err = p.mk(op, t.pos, x, y)
		}
	}
	return nil, err
}

var (
	jinjaMath1Ops  = map[string]opcode{"+": nAdd, "-": nSub}
	jinjaConcatOps = map[string]opcode{"~": nConcat}
	jinjaMath2Ops  = map[string]opcode{"*": nMul, "/": nTrueDiv, "//": nFloorDiv, "%": nMod}
	jinjaPowOps    = map[string]opcode{"**": nPow}
)

func (p *parser) jinjaMath1() (*node, *SyntaxError) {
	return p.jinjaBinary(p.jinjaConcat, jinjaMath1Ops)
}
func (p *parser) jinjaConcat() (*node, *SyntaxError) {
	return p.jinjaBinary(p.jinjaMath2, jinjaConcatOps)
}
func (p *parser) jinjaMath2() (*node, *SyntaxError) { return p.jinjaBinary(p.jinjaPow, jinjaMath2Ops) }
func (p *parser) jinjaPow() (*node, *SyntaxError) {
	return p.jinjaBinary(func() (*node, *SyntaxError) { return p.jinjaUnary(true) }, jinjaPowOps)
}

func (p *parser) jinjaUnary(withFilter bool) (*node, *SyntaxError) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	var x *node
	var err *SyntaxError
	if t := p.peek(); t.kind == tOp && (t.text == "-" || t.text == "+") {
		p.advance()
		y, err := p.jinjaUnary(false)
		if err != nil {
			return nil, err
		}
		op := nNeg
		if t.text == "+" {
			op = nPos
		}
		if x, err = p.mk(op, t.pos, y); err != nil {
			return nil, err
		}
	} else {
		if x, err = p.jinjaPrimary(); err != nil {
			return nil, err
		}
		if x, err = p.jinjaPostfix(x); err != nil {
			return nil, err
		}
	}
	if withFilter {
		return p.jinjaFilters(x)
	}
	return x, nil
}

func (p *parser) jinjaPrimary() (*node, *SyntaxError) {
	t := p.advance()
	switch t.kind {
	case tNum:
		return p.lit(t.pos, t.num), nil
	case tStr:
		s := t.text
		for p.peek().kind == tStr { // adjacent literals concatenate
			s += p.advance().text
		}
		return p.lit(t.pos, s), nil
	case tIdent:
		switch t.text {
		case "true", "True":
			return p.lit(t.pos, true), nil
		case "false", "False":
			return p.lit(t.pos, false), nil
		case "none", "None":
			return p.lit(t.pos, nil), nil
		case "_":
			n, _ := p.mk(nRoot, t.pos)
			return n, nil
		case "and", "or", "not", "in", "is", "if", "else":
			p.back()
			return nil, p.unexpected()
		}
		if p.isOp("(") {
			args, err := p.callArgs(")")
			if err != nil {
				return nil, err
			}
			n, serr := p.mk(nCall, t.pos, args...)
			if serr != nil {
				return nil, serr
			}
			n.name = t.text
			n.fn = lookup(p.d, t.text)
			return n, nil
		}
		n, _ := p.mk(nVar, t.pos)
		n.name = t.text
		return n, nil
	case tOp:
		switch t.text {
		case "(":
			if p.isOp(")") {
				p.advance()
				return p.mk(nList, t.pos)
			}
			x, err := p.jinjaExpr()
			if err != nil {
				return nil, err
			}
			if p.isOp(",") { // a tuple
				p.advance()
				rest, err := p.list(")")
				if err != nil {
					return nil, err
				}
				return p.mk(nList, t.pos, append([]*node{x}, rest...)...)
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return x, nil
		case "[":
			args, err := p.list("]")
			if err != nil {
				return nil, err
			}
			return p.mk(nList, t.pos, args...)
		case "{":
			return p.dict(t, ":")
		}
	}
	p.back()
	return nil, p.unexpected()
}

func (p *parser) jinjaPostfix(x *node) (*node, *SyntaxError) {
	for {
		t := p.peek()
		if t.kind != tOp {
			return x, nil
		}
		var err *SyntaxError
		switch t.text {
		case ".":
			p.advance()
			name := p.advance()
			switch {
			case name.kind == tIdent && p.isOp("("):
				args, err := p.callArgs(")")
				if err != nil {
					return nil, err
				}
				n, serr := p.mk(nCall, name.pos, append([]*node{x}, args...)...)
				if serr != nil {
					return nil, serr
				}
				n.method = true
				n.name = name.text
				n.fn = lookup(p.d, name.text)
				x = n
			case name.kind == tIdent:
				if x, err = p.mk(nAttr, name.pos, x); err != nil {
					return nil, err
				}
				x.name = name.text
			case name.kind == tNum:
				i, ok := name.num.(int64)
				if !ok {
					return nil, p.errAt(name, "expected a name or an index after \".\"")
				}
				if x, err = p.mk(nIndex, name.pos, x, p.lit(name.pos, i)); err != nil {
					return nil, err
				}
			default:
				p.back()
				return nil, p.errAt(name, "expected a name after \".\"")
			}
		case "[":
			p.advance()
			if x, err = p.subscript(t, x); err != nil {
				return nil, err
			}
		case "(":
			return nil, p.errAt(t, "only functions and methods can be called")
		default:
			return x, nil
		}
	}
}

func (p *parser) subscript(open token, x *node) (*node, *SyntaxError) {
	var lo, hi *node
	var err *SyntaxError
	if !p.isOp(":") {
		if lo, err = p.jinjaExpr(); err != nil {
			return nil, err
		}
	}
	if p.isOp(":") {
		p.advance()
		if !p.isOp("]") {
			if hi, err = p.jinjaExpr(); err != nil {
				return nil, err
			}
		}
		if err := p.expectOp("]"); err != nil {
			return nil, err
		}
		return p.mk(nSlice, open.pos, x, lo, hi)
	}
	if err := p.expectOp("]"); err != nil {
		return nil, err
	}
	return p.mk(nIndex, open.pos, x, lo)
}

func (p *parser) jinjaFilters(x *node) (*node, *SyntaxError) {
	for {
		var err *SyntaxError
		switch {
		case p.isOp("|"):
			p.advance()
			name := p.advance()
			if name.kind != tIdent {
				p.back()
				return nil, p.errAt(name, "expected a filter name after \"|\"")
			}
			var args []*node
			if p.isOp("(") {
				if args, err = p.callArgs(")"); err != nil {
					return nil, err
				}
			}
			n, serr := p.mk(nFilter, name.pos, append([]*node{x}, args...)...)
			if serr != nil {
				return nil, serr
			}
			n.name = name.text
			n.fn = lookupFilter(name.text)
			x = n
		case p.isWord("is"):
			p.advance()
			neg := false
			if p.isWord("not") {
				p.advance()
				neg = true
			}
			name := p.advance()
			if name.kind != tIdent {
				p.back()
				return nil, p.errAt(name, "expected a test name after \"is\"")
			}
			var args []*node
			if p.isOp("(") {
				if args, err = p.callArgs(")"); err != nil {
					return nil, err
				}
			}
			n, serr := p.mk(nTest, name.pos, append([]*node{x}, args...)...)
			if serr != nil {
				return nil, serr
			}
			n.name = name.text
			n.negate = neg
			if _, ok := jinjaTests[name.text]; !ok {
				return nil, p.errAt(name, "unknown test %q", name.text)
			}
			x = n
		default:
			return x, nil
		}
	}
}

// back undoes the last advance, which does not move past the end.
func (p *parser) back() {
	if p.moved {
		p.i--
		p.moved = false
	}
}
