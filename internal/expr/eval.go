package expr

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

type evaluator struct {
	c     *Context
	d     dialect
	root  any
	steps int
	max   int
	// bytes counts what the evaluation built, up to maxBytes (budget.go).
	bytes, maxBytes int
	// vars holds the YAQL variables in scope: let()/with() on the left of
	// `->`, and $1, $2… of a per-element argument.
	vars *scope
	// arrowLeft is the let()/with() call being evaluated as the left side
	// of `->`, the one place such a call is valid.
	arrowLeft *node
	// timed is set once the evaluation made a datetime or a timespan.
	timed bool
}

// scope is one level of YAQL variables.
type scope struct {
	parent *scope
	names  []string
	vals   []any
}

func (s *scope) lookup(name string) (any, bool) {
	for ; s != nil; s = s.parent {
		for i := len(s.names) - 1; i >= 0; i-- {
			if s.names[i] == name {
				return s.vals[i], true
			}
		}
	}
	return nil, false
}

func newEvaluator(c *Context) *evaluator {
	max := DefaultMaxSteps
	if c.MaxSteps > 0 {
		max = c.MaxSteps
	}
	maxBytes := DefaultMaxBytes
	if c.MaxBytes > 0 {
		maxBytes = c.MaxBytes
	}
	return &evaluator{c: c, root: c.Data, max: max, maxBytes: maxBytes}
}

func (x *evaluator) fail(n *node, format string, args ...any) *failure {
	return &failure{pos: n.pos, msg: fmt.Sprintf(format, args...)}
}

// charge counts k units of work against the step limit.
func (x *evaluator) charge(n *node, k int) error {
	if k < 0 || k > x.max-x.steps {
		x.steps = x.max + 1
		return x.stepLimit(n)
	}
	x.steps += k
	return nil
}

// value turns a Jinja undefined into the error it stands for.
func (x *evaluator) value(n *node, v any) (any, error) {
	if u, ok := v.(*undefined); ok {
		return nil, x.fail(n, "%s", u.msg)
	}
	return v, nil
}

// evalDef evaluates n and fails on an undefined result.
func (x *evaluator) evalDef(n *node, cur any) (any, error) {
	v, err := x.eval(n, cur)
	if err != nil {
		return nil, err
	}
	if u, ok := v.(*undefined); ok {
		return nil, x.fail(n, "%s", u.msg)
	}
	return v, nil
}

func (x *evaluator) eval(n *node, cur any) (any, error) {
	if err := x.charge(n, 1); err != nil {
		return nil, err
	}
	switch n.op {
	case nLit:
		return n.val, nil
	case nRoot:
		if x.d == jinja {
			return x.root, nil
		}
		return cur, nil
	case nVar:
		if n.name == "1" && x.d == yaql {
			return cur, nil // `$1` is `$`
		}
		return x.variable(n)
	case nAttr, nAttrSafe:
		v, err := x.eval(n.args[0], cur)
		if err != nil {
			return nil, err
		}
		return x.attr(n, v, n.name, n.op == nAttrSafe)
	case nIndex:
		v, err := x.eval(n.args[0], cur)
		if err != nil {
			return nil, err
		}
		k, err := x.evalDef(n.args[1], cur)
		if err != nil {
			return nil, err
		}
		return x.index(n, v, k)
	case nSlice:
		return x.slice(n, cur)
	case nCall, nFilter:
		return x.call(n, cur)
	case nTest:
		return x.test(n, cur)
	case nList:
		out := make([]any, len(n.args))
		for i, a := range n.args {
			v, err := x.evalDef(a, cur)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return x.built(n, out)
	case nDict:
		out := make(map[string]any, len(n.args)/2)
		for i := 0; i+1 < len(n.args); i += 2 {
			k, err := x.evalDef(n.args[i], cur)
			if err != nil {
				return nil, err
			}
			v, err := x.evalDef(n.args[i+1], cur)
			if err != nil {
				return nil, err
			}
			out[keyString(k)] = v
		}
		return x.built(n, out)
	case nPair:
		if n.name == "" {
			return nil, x.fail(n, "a mapping (key => value) is only valid as a function argument")
		}
		return nil, x.fail(n, "keyword argument %s is not allowed here", n.name)
	case nArrow:
		return x.arrow(n, cur)
	case nNot:
		v, err := x.evalDef(n.args[0], cur)
		if err != nil {
			return nil, err
		}
		return !Truthy(v), nil
	case nNeg, nPos:
		v, err := x.evalDef(n.args[0], cur)
		if err != nil {
			return nil, err
		}
		switch a := v.(type) {
		case Timespan:
			if n.op == nNeg {
				return x.newSpan(-a.D), nil
			}
			return a, nil
		case int64:
			if n.op == nNeg {
				if a == math.MinInt64 {
					return nil, x.overflow(n, "-("+strconv.FormatInt(a, 10)+")")
				}
				return -a, nil
			}
			return a, nil
		case float64:
			if n.op == nNeg {
				return -a, nil
			}
			return a, nil
		}
		return nil, x.fail(n, "bad operand type for unary %s: %s", opNames[n.op], typeName(v))
	case nAnd, nOr:
		a, err := x.evalDef(n.args[0], cur)
		if err != nil {
			return nil, err
		}
		if Truthy(a) == (n.op == nOr) {
			return a, nil
		}
		return x.evalDef(n.args[1], cur)
	case nCond:
		c, err := x.evalDef(n.args[1], cur)
		if err != nil {
			return nil, err
		}
		if Truthy(c) {
			return x.eval(n.args[0], cur)
		}
		if n.args[2] == nil {
			return nil, nil
		}
		return x.eval(n.args[2], cur)
	}
	a, err := x.evalDef(n.args[0], cur)
	if err != nil {
		return nil, err
	}
	b, err := x.evalDef(n.args[1], cur)
	if err != nil {
		return nil, err
	}
	return x.binary(n, a, b)
}

func (x *evaluator) variable(n *node) (any, error) {
	if v, ok := x.vars.lookup(n.name); ok {
		return v, nil
	}
	if strings.HasPrefix(n.name, "__") {
		if m, ok := x.root.(map[string]any); ok {
			if v, ok := m[n.name]; ok {
				return v, nil
			}
		}
	}
	if x.d == yaql {
		return nil, nil
	}
	return &undefined{msg: fmt.Sprintf("'%s' is undefined", n.name)}, nil
}

// arrow evaluates `left -> right`: left is let(...) or with(...), whose
// variables right sees; `$` stays what it was.
func (x *evaluator) arrow(n *node, cur any) (any, error) {
	left := n.args[0]
	if left.op != nCall || left.method || left.fn == nil || !left.fn.binds {
		return nil, x.fail(n, "the left side of \"->\" must be let(...) or with(...)")
	}
	saved := x.arrowLeft
	x.arrowLeft = left
	v, err := x.eval(left, cur)
	x.arrowLeft = saved
	if err != nil {
		return nil, err
	}
	outer := x.vars
	sc := v.(*scope)
	if len(sc.names) > 0 && sc.names[0] == "1" {
		cur = sc.vals[0] // the first positional value is `$1`, which is `$`
	}
	x.vars = sc
	defer func() { x.vars = outer }()
	return x.eval(n.args[1], cur)
}

func (x *evaluator) attr(n *node, v any, name string, safe bool) (any, error) {
	if x.d == jinja {
		switch o := v.(type) {
		case *undefined:
			return o, nil
		case map[string]any:
			if e, ok := o[name]; ok {
				return e, nil
			}
			return &undefined{msg: fmt.Sprintf("'dict object' has no attribute '%s'", name)}, nil
		}
		return &undefined{msg: fmt.Sprintf("'%s object' has no attribute '%s'", typeName(v), name)}, nil
	}
	switch o := v.(type) {
	case map[string]any:
		if e, ok := o[name]; ok {
			return e, nil
		}
		return nil, x.fail(n, "key %s not found", pyQuote(name))
	case DateTime:
		return x.dtAttr(n, o, name)
	case Timespan:
		return x.spanAttr(n, o, name)
	case []any:
		// `.name` on a list reads the key from every element.
		out := make([]any, len(o))
		for i, e := range o {
			if err := x.charge(n, 1); err != nil {
				return nil, err
			}
			r, err := x.attr(n, e, name, safe)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return x.built(n, out)
	case nil:
		if safe {
			return nil, nil
		}
		return nil, x.fail(n, "cannot read %s of null", pyQuote(name))
	}
	return nil, x.fail(n, "cannot read %s of %s %s", pyQuote(name), typeName(v), reprShort(v))
}

func reprShort(v any) string {
	var b strings.Builder
	writePy(&b, v, true)
	s := b.String()
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

func (x *evaluator) index(n *node, v, k any) (any, error) {
	if u, ok := v.(*undefined); ok {
		return u, nil
	}
	switch o := v.(type) {
	case []any:
		i, ok := k.(int64)
		if !ok {
			return nil, x.fail(n, "list indices must be integers, not %s", typeName(k))
		}
		j := i
		if j < 0 {
			j += int64(len(o))
		}
		if j < 0 || j >= int64(len(o)) {
			if x.d == jinja {
				return &undefined{msg: fmt.Sprintf("list object has no element %d", i)}, nil
			}
			return nil, x.fail(n, "list index %d out of range (length %d)", i, len(o))
		}
		return o[j], nil
	case map[string]any:
		key, ok := k.(string)
		if !ok {
			key = keyString(k)
		}
		if e, ok := o[key]; ok {
			return e, nil
		}
		if x.d == jinja {
			return &undefined{msg: fmt.Sprintf("'dict object' has no attribute %s", pyQuote(key))}, nil
		}
		return nil, x.fail(n, "key %s not found", pyQuote(key))
	case string:
		if x.d == jinja {
			i, ok := k.(int64)
			if !ok {
				return nil, x.fail(n, "string indices must be integers, not %s", typeName(k))
			}
			r := []rune(o)
			if i < 0 {
				i += int64(len(r))
			}
			if i < 0 || i >= int64(len(r)) {
				return &undefined{msg: "string index out of range"}, nil
			}
			return string(r[i]), nil
		}
	case nil:
		return nil, x.fail(n, "cannot index null")
	}
	return nil, x.fail(n, "cannot index %s with %s", typeName(v), typeName(k))
}

func (x *evaluator) slice(n *node, cur any) (any, error) {
	v, err := x.evalDef(n.args[0], cur)
	if err != nil {
		return nil, err
	}
	bound := func(a *node, def int64) (int64, error) {
		if a == nil {
			return def, nil
		}
		b, err := x.evalDef(a, cur)
		if err != nil {
			return 0, err
		}
		if b == nil {
			return def, nil
		}
		i, ok := b.(int64)
		if !ok {
			return 0, x.fail(a, "slice indices must be integers, not %s", typeName(b))
		}
		return i, nil
	}
	var length int64
	var runes []rune
	switch o := v.(type) {
	case []any:
		length = int64(len(o))
	case string:
		runes = []rune(o)
		length = int64(len(runes))
	default:
		return nil, x.fail(n, "cannot slice %s", typeName(v))
	}
	lo, err := bound(n.args[1], 0)
	if err != nil {
		return nil, err
	}
	hi, err := bound(n.args[2], length)
	if err != nil {
		return nil, err
	}
	clamp := func(i int64) int64 {
		if i < 0 {
			i += length
		}
		return max(0, min(i, length))
	}
	lo, hi = clamp(lo), clamp(hi)
	if hi < lo {
		hi = lo
	}
	if err := x.charge(n, int(hi-lo)); err != nil {
		return nil, err
	}
	if l, ok := v.([]any); ok {
		return x.built(n, append([]any(nil), l[lo:hi]...))
	}
	return x.built(n, string(runes[lo:hi]))
}

func (x *evaluator) binary(n *node, a, b any) (any, error) {
	switch n.op {
	case nEq:
		return equal(a, b), nil
	case nNe:
		return !equal(a, b), nil
	case nLt, nLe, nGt, nGe:
		c, ok := compare(a, b)
		if !ok {
			return nil, x.fail(n, "cannot compare %s with %s using %s", typeName(a), typeName(b), opNames[n.op])
		}
		switch n.op {
		case nLt:
			return c < 0, nil
		case nLe:
			return c <= 0, nil
		case nGt:
			return c > 0, nil
		}
		return c >= 0, nil
	case nIn, nNotIn:
		in, err := x.contains(n, b, a)
		if err != nil {
			return nil, err
		}
		return in == (n.op == nIn), nil
	case nConcat:
		as, err := x.render(n, a)
		if err != nil {
			return nil, err
		}
		bs, err := x.render(n, b)
		if err != nil {
			return nil, err
		}
		if err := x.room(n, len(as)+len(bs)); err != nil {
			return nil, err
		}
		return x.built(n, as+bs)
	case nMatch, nNotMatch:
		s, ok1 := a.(string)
		_, isRe := b.(Regex)
		_, isPat := b.(string)
		if !ok1 || !isRe && !isPat {
			return nil, x.fail(n, "%s needs a string and a pattern, not %s and %s", opNames[n.op], typeName(a), typeName(b))
		}
		re, err := asRegex(opNames[n.op], b)
		if err != nil {
			return nil, x.fail(n, "%v", err)
		}
		return re.MatchString(s) == (n.op == nMatch), nil
	}
	return x.arith(n, a, b)
}

// contains reports whether needle is in haystack: an element of a list, a
// key of a dict, a substring of a string.
func (x *evaluator) contains(n *node, haystack, needle any) (bool, error) {
	switch h := haystack.(type) {
	case []any:
		if err := x.charge(n, len(h)); err != nil {
			return false, err
		}
		for _, e := range h {
			if equal(e, needle) {
				return true, nil
			}
		}
		return false, nil
	case map[string]any:
		k, ok := needle.(string)
		if !ok {
			return false, nil
		}
		_, found := h[k]
		return found, nil
	case string:
		s, ok := needle.(string)
		if !ok {
			return false, x.fail(n, "'in <string>' requires a string as left operand, not %s", typeName(needle))
		}
		return strings.Contains(h, s), nil
	}
	return false, x.fail(n, "argument of type %s is not iterable", typeName(haystack))
}

func (x *evaluator) arith(n *node, a, b any) (any, error) {
	if v, ok, err := x.timeArith(n, a, b); ok {
		return v, err
	}
	ai, aInt := a.(int64)
	bi, bInt := b.(int64)
	if aInt && bInt {
		switch n.op {
		case nAdd:
			r := ai + bi
			if (r > ai) == (bi > 0) {
				return r, nil
			}
			return nil, x.overflow(n, fmt.Sprintf("%d + %d", ai, bi))
		case nSub:
			r := ai - bi
			if (r < ai) == (bi > 0) {
				return r, nil
			}
			return nil, x.overflow(n, fmt.Sprintf("%d - %d", ai, bi))
		case nMul:
			if mulOK(ai, bi) {
				return ai * bi, nil
			}
			return nil, x.overflow(n, fmt.Sprintf("%d * %d", ai, bi))
		case nDiv, nFloorDiv, nMod:
			if bi == 0 {
				return nil, x.fail(n, "integer division or modulo by zero")
			}
			if ai == math.MinInt64 && bi == -1 {
				if n.op == nMod {
					return int64(0), nil
				}
				return nil, x.overflow(n, fmt.Sprintf("%d // %d", ai, bi))
			}
			q, r := ai/bi, ai%bi
			if r != 0 && (r < 0) != (bi < 0) {
				q--
				r += bi
			}
			if n.op == nMod {
				return r, nil
			}
			return q, nil
		case nPow:
			if bi >= 0 {
				if r, ok := ipow(ai, bi); ok {
					return r, nil
				}
				return nil, x.overflow(n, fmt.Sprintf("%d ** %d", ai, bi))
			}
		}
	}
	fa, aNum := num(a)
	fb, bNum := num(b)
	if aNum && bNum {
		switch n.op {
		case nAdd:
			return x.finite(n, fa+fb)
		case nSub:
			return x.finite(n, fa-fb)
		case nMul:
			return x.finite(n, fa*fb)
		case nDiv, nTrueDiv:
			if fb == 0 {
				return nil, x.fail(n, "division by zero")
			}
			return x.finite(n, fa/fb)
		case nFloorDiv:
			if fb == 0 {
				return nil, x.fail(n, "division by zero")
			}
			return x.finite(n, math.Floor(fa/fb))
		case nMod:
			if fb == 0 {
				return nil, x.fail(n, "modulo by zero")
			}
			r := math.Mod(fa, fb)
			if r != 0 && (r < 0) != (fb < 0) {
				r += fb
			}
			return x.finite(n, r)
		case nPow:
			return x.finite(n, math.Pow(fa, fb))
		}
	}
	switch n.op {
	case nAdd:
		switch as := a.(type) {
		case string:
			if bs, ok := b.(string); ok {
				if err := x.room(n, len(as)+len(bs)); err != nil {
					return nil, err
				}
				return x.built(n, as+bs)
			}
		case []any:
			if bl, ok := b.([]any); ok {
				if err := x.charge(n, len(as)+len(bl)); err != nil {
					return nil, err
				}
				out := make([]any, 0, len(as)+len(bl))
				return x.built(n, append(append(out, as...), bl...))
			}
		case map[string]any:
			// YAQL: a copy of the left dict updated with the right one.
			if bm, ok := b.(map[string]any); ok && x.d == yaql {
				if err := x.charge(n, len(as)+len(bm)); err != nil {
					return nil, err
				}
				out := make(map[string]any, len(as)+len(bm))
				for k, v := range as {
					out[k] = v
				}
				for k, v := range bm {
					out[k] = v
				}
				return x.built(n, out)
			}
		}
	case nSub:
		// Sets are lists: `set - set` is their difference.
		if al, ok := a.([]any); ok && x.d == yaql {
			if bl, ok := b.([]any); ok {
				return x.setDifference(n, al, bl)
			}
		}
	case nMul:
		if s, ok := a.(string); ok && bInt {
			return x.repeat(n, s, bi)
		}
		if s, ok := b.(string); ok && aInt {
			return x.repeat(n, s, ai)
		}
		if l, ok := a.([]any); ok && bInt {
			return x.repeatList(n, l, bi)
		}
		if l, ok := b.([]any); ok && aInt {
			return x.repeatList(n, l, ai)
		}
	}
	return nil, x.fail(n, "unsupported operand types for %s: %s and %s", opNames[n.op], typeName(a), typeName(b))
}

// num returns a number operand as float64; booleans are not numbers here.
func num(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func (x *evaluator) repeat(n *node, s string, k int64) (any, error) {
	if k <= 0 || s == "" {
		return "", nil
	}
	if err := x.roomFor(n, int64(len(s)), k); err != nil {
		return nil, err
	}
	return x.built(n, strings.Repeat(s, int(k)))
}

func (x *evaluator) repeatList(n *node, l []any, k int64) (any, error) {
	if k <= 0 || len(l) == 0 {
		return []any{}, nil
	}
	if k > int64(x.max)/int64(len(l))+1 {
		return nil, x.stepLimit(n)
	}
	if err := x.charge(n, len(l)*int(k)); err != nil {
		return nil, err
	}
	// Measure one copy first: k copies cost k times as much, and the
	// list of references would be cheap to make but not to encode.
	one, err := Size(l, x.left())
	if err != nil {
		return nil, &failure{pos: n.pos, msg: err.Error(), err: ErrNumber}
	}
	if err := x.roomFor(n, int64(one), k); err != nil {
		return nil, err
	}
	out := make([]any, 0, len(l)*int(k))
	for range k {
		out = append(out, l...)
	}
	return out, x.alloc(n, int(int64(one)*k))
}

// ipow raises base to a non-negative exponent by squaring; ok is false on
// overflow.
func ipow(base, exp int64) (int64, bool) {
	r := int64(1)
	for exp > 0 {
		if exp&1 == 1 {
			if !mulOK(r, base) {
				return 0, false
			}
			r *= base
		}
		exp >>= 1
		if exp > 0 {
			if !mulOK(base, base) {
				return 0, false
			}
			base *= base
		}
	}
	return r, true
}

func mulOK(a, b int64) bool {
	if a == 0 || b == 0 {
		return true
	}
	if a == -1 || b == -1 {
		return a != math.MinInt64 && b != math.MinInt64
	}
	r := a * b
	return r/b == a
}
