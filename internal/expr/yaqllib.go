package expr

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// The part of YAQL's standard library that Mistral workflows use beyond the
// functions both syntaxes share: branching, variables, dict updates, set
// operations, grouping and the type tests. Each behaves as yaql 3 does
// under Mistral's engine options; where Bora differs, the docs say so.

func registerYAQLLibrary() {
	register(yaqlOnly,
		// Branching, evaluated lazily.
		&function{name: "switch", min: 0, max: -1, lazy: true, call: yaqlSwitch},
		&function{name: "coalesce", min: 0, max: -1, lazy: true, call: func(x *evaluator, n *node, _ []any, _ map[string]any, cur any) (any, error) {
			for _, a := range n.args {
				v, err := x.evalDef(a, cur)
				if err != nil {
					return nil, err
				}
				if v != nil {
					return v, nil
				}
			}
			return nil, nil
		}},

		// Variables for the right side of `->`.
		&function{name: "let", min: 0, max: -1, kw: true, binds: true, call: bindVars},
		&function{name: "with", min: 0, max: -1, binds: true, call: bindVars},

		// Dicts.
		&function{name: "set", min: 0, max: -1, kw: true, mappings: true, call: yaqlSet},
		fn("delete", 1, -1, yaqlDelete),
		fn("deleteAll", 2, 2, func(x *evaluator, n *node, a []any) (any, error) {
			d, err := asDict("deleteAll", a[0])
			if err != nil {
				return nil, err
			}
			keys, err := iterable("deleteAll", a[1])
			if err != nil {
				return nil, err
			}
			return withoutKeys(x, n, d, keys)
		}),
		&function{name: "mergeWith", min: 2, max: 5, lambda: 2, lambdaEnd: 3, call: yaqlMergeWith},
		&function{name: "toDict", min: 2, max: 3, lambda: 1, call: func(x *evaluator, n *node, a []any, _ map[string]any, _ any) (any, error) {
			l, err := asList("toDict", a[0])
			if err != nil {
				return nil, err
			}
			out := make(map[string]any, len(l))
			for _, e := range l {
				k, err := x.apply(n.args[1], e)
				if err != nil {
					return nil, err
				}
				v := e
				if len(n.args) > 2 {
					if v, err = x.apply(n.args[2], e); err != nil {
						return nil, err
					}
				}
				out[keyString(k)] = v
			}
			return out, nil
		}},

		// Sets, kept as lists in first-seen order.
		fn("toSet", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			l, err := iterable("toSet", a[0])
			if err != nil {
				return nil, err
			}
			return x.distinct(n, l, nil)
		}),
		setOp("union", func(inA, inB bool) bool { return inA || inB }),
		setOp("intersect", func(inA, inB bool) bool { return inA && inB }),
		setOp("difference", func(inA, inB bool) bool { return inA && !inB }),
		setOp("symmetricDifference", func(inA, inB bool) bool { return inA != inB }),

		// Lists.
		&function{name: "distinct", min: 1, max: 2, lambda: 1, call: func(x *evaluator, n *node, a []any, _ map[string]any, _ any) (any, error) {
			l, err := iterable("distinct", a[0])
			if err != nil {
				return nil, err
			}
			var key *node
			if len(n.args) > 1 {
				key = n.args[1]
			}
			return x.distinct(n, l, key)
		}},
		fn("zip", 1, -1, func(x *evaluator, n *node, a []any) (any, error) {
			lists := make([][]any, len(a))
			size := math.MaxInt
			for i, v := range a {
				l, err := iterable("zip", v)
				if err != nil {
					return nil, err
				}
				lists[i] = l
				size = min(size, len(l))
			}
			out := make([]any, size)
			for i := range out {
				row := make([]any, len(lists))
				for j, l := range lists {
					row[j] = l[i]
				}
				out[i] = row
			}
			return out, x.charge(n, size*len(lists))
		}),
		fn("enumerate", 1, 2, func(x *evaluator, n *node, a []any) (any, error) {
			l, err := iterable("enumerate", a[0])
			if err != nil {
				return nil, err
			}
			var start int64
			if len(a) == 2 {
				if start, err = asInt("enumerate", a[1]); err != nil {
					return nil, err
				}
			}
			out := make([]any, len(l))
			for i, e := range l {
				out[i] = []any{start + int64(i), e}
			}
			return out, x.charge(n, len(l))
		}),
		lambdaFn("selectMany", 2, 2, func(x *evaluator, n *node, a []any, _ any) (any, error) {
			l, err := iterable("selectMany", a[0])
			if err != nil {
				return nil, err
			}
			out := make([]any, 0, len(l))
			for _, e := range l {
				v, err := x.apply(n.args[1], e)
				if err != nil {
					return nil, err
				}
				if inner, ok := v.([]any); ok {
					out = append(out, inner...)
				} else {
					out = append(out, v)
				}
			}
			return out, x.charge(n, len(out))
		}),
		lambdaFn("groupBy", 2, 4, yaqlGroupBy),
		&function{name: "aggregate", min: 2, max: 3, lambda: 1, lambdaEnd: 1, call: func(x *evaluator, n *node, a []any, _ map[string]any, cur any) (any, error) {
			l, err := iterable("aggregate", a[0])
			if err != nil {
				return nil, err
			}
			var acc any
			if len(n.args) > 2 {
				if acc, err = x.evalDef(n.args[2], cur); err != nil {
					return nil, err
				}
			} else {
				if len(l) == 0 {
					return nil, errorf("aggregate(): the collection is empty and there is no seed")
				}
				acc, l = l[0], l[1:]
			}
			for _, e := range l {
				if acc, err = x.apply2(n.args[1], acc, e); err != nil {
					return nil, err
				}
			}
			return acc, nil
		}},
		fn("append", 1, -1, func(x *evaluator, n *node, a []any) (any, error) {
			l, err := iterable("append", a[0])
			if err != nil {
				return nil, err
			}
			out := append(slices.Clip(l), a[1:]...)
			return out, x.charge(n, len(out))
		}),
		fn("insert", 3, 3, func(x *evaluator, n *node, a []any) (any, error) {
			l, err := asList("insert", a[0])
			if err != nil {
				return nil, err
			}
			i, err := asInt("insert", a[1])
			if err != nil {
				return nil, err
			}
			// Python's list.insert clamps the position.
			if i < 0 {
				i = max(0, i+int64(len(l)))
			}
			i = min(i, int64(len(l)))
			return slices.Insert(slices.Clone(l), int(i), a[2]), x.charge(n, len(l))
		}),
		fn("single", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			l, err := iterable("single", a[0])
			if err != nil {
				return nil, err
			}
			if len(l) != 1 {
				return nil, errorf("single(): the collection has %d items, not one", len(l))
			}
			return l[0], nil
		}),
		whileFn("takeWhile", true),
		whileFn("skipWhile", false),
		lambdaFn("indexWhere", 2, 2, func(x *evaluator, n *node, a []any, _ any) (any, error) {
			l, err := iterable("indexWhere", a[0])
			if err != nil {
				return nil, err
			}
			for i, e := range l {
				v, err := x.apply(n.args[1], e)
				if err != nil {
					return nil, err
				}
				if Truthy(v) {
					return int64(i), nil
				}
			}
			return int64(-1), nil
		}),

		// Type tests.
		fn("isString", 1, 1, func(x *evaluator, n *node, a []any) (any, error) { _, ok := a[0].(string); return ok, nil }),
		fn("isList", 1, 1, func(x *evaluator, n *node, a []any) (any, error) { _, ok := a[0].([]any); return ok, nil }),
		fn("isDict", 1, 1, func(x *evaluator, n *node, a []any) (any, error) { _, ok := a[0].(map[string]any); return ok, nil }),
		fn("isInteger", 1, 1, func(x *evaluator, n *node, a []any) (any, error) { _, ok := a[0].(int64); return ok, nil }),
		fn("isNumber", 1, 1, func(x *evaluator, n *node, a []any) (any, error) { _, ok := num(a[0]); return ok, nil }),
		fn("isBoolean", 1, 1, func(x *evaluator, n *node, a []any) (any, error) { _, ok := a[0].(bool); return ok, nil }),

		// Strings.
		fn("substring", 2, 3, func(x *evaluator, n *node, a []any) (any, error) {
			s, err := asString("substring", a[0])
			if err != nil {
				return nil, err
			}
			r := []rune(s)
			start, err := asInt("substring", a[1])
			if err != nil {
				return nil, err
			}
			length := int64(-1)
			if len(a) == 3 {
				if length, err = asInt("substring", a[2]); err != nil {
					return nil, err
				}
			}
			size := int64(len(r))
			if start < 0 {
				start = max(0, start+size)
			}
			start = min(start, size)
			end := size
			if length >= 0 {
				end = min(size, start+length)
			}
			return string(r[start:end]), nil
		}),
		fn("lastIndexOf", 2, 2, func(x *evaluator, n *node, a []any) (any, error) {
			if s, ok := a[0].(string); ok {
				sub, err := asString("lastIndexOf", a[1])
				if err != nil {
					return nil, err
				}
				i := strings.LastIndex(s, sub)
				if i > 0 {
					i = utf8.RuneCountInString(s[:i])
				}
				return int64(i), nil
			}
			l, err := asList("lastIndexOf", a[0])
			if err != nil {
				return nil, err
			}
			for i := len(l) - 1; i >= 0; i-- {
				if equal(l[i], a[1]) {
					return int64(i), nil
				}
			}
			return int64(-1), x.charge(n, len(l))
		}),
		fn("trimLeft", 1, 2, func(x *evaluator, n *node, a []any) (any, error) {
			return trimSide("trimLeft", a, strings.TrimLeft, strings.TrimLeftFunc)
		}),
		fn("trimRight", 1, 2, func(x *evaluator, n *node, a []any) (any, error) {
			return trimSide("trimRight", a, strings.TrimRight, strings.TrimRightFunc)
		}),
		fn("toCharArray", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			s, err := asString("toCharArray", a[0])
			if err != nil {
				return nil, err
			}
			l, _ := iterable("toCharArray", s)
			return l, x.charge(n, len(l))
		}),
		fn("matches", 2, 2, func(x *evaluator, n *node, a []any) (any, error) {
			re, s, err := regexAndString("matches", a)
			if err != nil {
				return nil, err
			}
			return re.MatchString(s), x.charge(n, len(s)/64)
		}),

		// Numbers.
		fn("pow", 2, 3, func(x *evaluator, n *node, a []any) (any, error) {
			p, err := x.arith(&node{op: nPow, pos: n.pos}, a[0], a[1])
			if err != nil || len(a) == 2 {
				return p, err
			}
			return x.arith(&node{op: nMod, pos: n.pos}, p, a[2])
		}),
		fn("sign", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			f, ok := num(a[0])
			if !ok {
				return nil, errorf("sign() needs a number, not %s", typeName(a[0]))
			}
			switch {
			case f > 0:
				return int64(1), nil
			case f < 0:
				return int64(-1), nil
			}
			return int64(0), nil
		}),
	)
}

// yaqlSwitch returns the value of the first `condition => value` whose
// condition is true, evaluating no further; null if none is.
func yaqlSwitch(x *evaluator, n *node, _ []any, _ map[string]any, cur any) (any, error) {
	for _, a := range n.args {
		if a.op != nPair {
			return nil, x.fail(a, "switch() takes condition => value arguments")
		}
		var cond any = a.name // a bare name is a string, and so true
		if a.name == "" {
			var err error
			if cond, err = x.evalDef(a.args[1], cur); err != nil {
				return nil, err
			}
		}
		if Truthy(cond) {
			return x.evalDef(a.args[0], cur)
		}
	}
	return nil, nil
}

// bindVars makes the scope of let() and with(): positional values are
// `$1`, `$2`…, keyword values are their names.
func bindVars(x *evaluator, n *node, a []any, kw map[string]any, _ any) (any, error) {
	sc := &scope{parent: x.vars}
	for i, v := range a {
		sc.names = append(sc.names, strconv.Itoa(i+1))
		sc.vals = append(sc.vals, v)
	}
	for _, k := range sortedKeys(kw) {
		sc.names = append(sc.names, k)
		sc.vals = append(sc.vals, kw[k])
	}
	return sc, nil
}

// yaqlSet is dict.set(key, value), dict.set(other) and dict.set(k => v, …):
// a copy of the dict with the entries set. Called with anything but a dict
// first, set(a, b, …) is YAQL's set constructor.
func yaqlSet(x *evaluator, n *node, a []any, kw map[string]any, _ any) (any, error) {
	d, isDict := func() (map[string]any, bool) {
		if len(a) == 0 {
			return nil, false
		}
		m, ok := a[0].(map[string]any)
		return m, ok
	}()
	if !isDict {
		if !n.method && len(kw) == 0 {
			return x.distinct(n, a, nil)
		}
		if len(a) == 0 {
			return nil, errorf("set() needs a dict")
		}
		return nil, errorf("set() needs a dict, not %s", typeName(a[0]))
	}
	out := make(map[string]any, len(d)+len(kw)+1)
	for k, v := range d {
		out[k] = v
	}
	switch len(a) {
	case 1:
	case 2:
		m, ok := a[1].(map[string]any)
		if !ok {
			return nil, errorf("set() needs a key and a value, a dict, or key => value arguments")
		}
		for k, v := range m {
			out[k] = v
		}
	case 3:
		out[keyString(a[1])] = a[2]
	default:
		return nil, errorf("set() needs a key and a value, a dict, or key => value arguments")
	}
	if len(a) > 1 && len(kw) > 0 {
		return nil, errorf("set() takes either positional or key => value arguments, not both")
	}
	for k, v := range kw {
		out[k] = v
	}
	return out, x.charge(n, len(out))
}

// yaqlDelete is dict.delete(key, …) and list.delete(position[, count]).
func yaqlDelete(x *evaluator, n *node, a []any) (any, error) {
	if d, ok := a[0].(map[string]any); ok {
		return withoutKeys(x, n, d, a[1:])
	}
	l, err := asList("delete", a[0])
	if err != nil {
		return nil, errorf("delete() needs a dict or a list, not %s", typeName(a[0]))
	}
	if len(a) < 2 || len(a) > 3 {
		return nil, errorf("delete() on a list takes a position and a count")
	}
	pos, err := asInt("delete", a[1])
	if err != nil {
		return nil, err
	}
	count := int64(1)
	if len(a) == 3 {
		if count, err = asInt("delete", a[2]); err != nil {
			return nil, err
		}
	}
	out := make([]any, 0, len(l))
	for i, e := range l {
		i := int64(i)
		gone := i >= pos && (count < 0 || i < pos+count)
		if !gone {
			out = append(out, e)
		}
	}
	return out, x.charge(n, len(l))
}

func withoutKeys(x *evaluator, n *node, d map[string]any, keys []any) (any, error) {
	out := make(map[string]any, len(d))
	for k, v := range d {
		out[k] = v
	}
	for _, k := range keys {
		if s, ok := k.(string); ok {
			delete(out, s)
		}
	}
	return out, x.charge(n, len(d)+len(keys))
}

func asDict(name string, v any) (map[string]any, error) {
	if m, ok := v.(map[string]any); ok {
		return m, nil
	}
	return nil, errorf("%s() needs a dict, not %s", name, typeName(v))
}

// yaqlMergeWith merges another dict into a copy of the first, recursively:
// dicts merge, lists join without duplicates (or through listMerger),
// anything else takes the other value (or itemMerger's result). maxLevels
// > 0 stops the recursion at that depth.
func yaqlMergeWith(x *evaluator, n *node, a []any, _ map[string]any, cur any) (any, error) {
	d, err := asDict("mergeWith", a[0])
	if err != nil {
		return nil, err
	}
	other, err := asDict("mergeWith", a[1])
	if err != nil {
		return nil, err
	}
	// An explicit null merger is, as in YAQL, a function that returns null.
	var listMerger, itemMerger *node
	if len(n.args) > 2 {
		listMerger = n.args[2]
	}
	if len(n.args) > 3 {
		itemMerger = n.args[3]
	}
	var levels int64
	if len(n.args) > 4 {
		v, err := x.evalDef(n.args[4], cur)
		if err != nil {
			return nil, err
		}
		if levels, err = asInt("mergeWith", v); err != nil {
			return nil, err
		}
	}
	m := &merger{x: x, n: n, lists: listMerger, items: itemMerger}
	return m.merge(d, other, levels)
}

type merger struct {
	x            *evaluator
	n            *node
	lists, items *node
}

func (m *merger) merge(a, b map[string]any, levels int64) (map[string]any, error) {
	if err := m.x.charge(m.n, len(a)+len(b)); err != nil {
		return nil, err
	}
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, vb := range b {
		va, both := a[k]
		if !both {
			out[k] = vb
			continue
		}
		var err error
		switch bv := vb.(type) {
		case map[string]any:
			if levels == 1 {
				out[k], err = m.item(va, vb)
				break
			}
			av, ok := va.(map[string]any)
			if !ok {
				return nil, errorf("mergeWith(): cannot merge %s with dict at key %s", typeName(va), pyQuote(k))
			}
			out[k], err = m.merge(av, bv, max(0, levels-1))
		case []any:
			if levels == 1 {
				out[k], err = m.item(va, vb)
				break
			}
			av, ok := va.([]any)
			if !ok {
				return nil, errorf("mergeWith(): cannot merge %s with list at key %s", typeName(va), pyQuote(k))
			}
			if m.lists != nil {
				out[k], err = m.x.apply2(m.lists, av, bv)
				break
			}
			out[k], err = m.x.distinct(m.n, append(slices.Clip(av), bv...), nil)
		default:
			out[k], err = m.item(va, vb)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (m *merger) item(a, b any) (any, error) {
	if m.items == nil {
		return b, nil
	}
	return m.x.apply2(m.items, a, b)
}

// distinct keeps the first element of each group of equal elements, or of
// elements with equal keys when key is given.
func (x *evaluator) distinct(n *node, l []any, key *node) ([]any, error) {
	seen := make(map[string]bool, len(l))
	out := make([]any, 0, len(l))
	for _, e := range l {
		k := e
		if key != nil {
			var err error
			if k, err = x.apply(key, e); err != nil {
				return nil, err
			}
		}
		h, err := x.hashKey(n, k)
		if err != nil {
			return nil, err
		}
		if !seen[h] {
			seen[h] = true
			out = append(out, e)
		}
	}
	return out, x.charge(n, len(l))
}

// setOp builds union, intersect, difference and symmetricDifference on
// lists treated as sets: the result keeps first-seen order, the first
// collection's elements before the second's.
func setOp(name string, keep func(inA, inB bool) bool) *function {
	return fn(name, 2, 2, func(x *evaluator, n *node, a []any) (any, error) {
		la, err := iterable(name, a[0])
		if err != nil {
			return nil, err
		}
		lb, err := iterable(name, a[1])
		if err != nil {
			return nil, err
		}
		return x.setCombine(n, la, lb, keep)
	})
}

// setDifference is `set - set`: the elements of a not in b.
func (x *evaluator) setDifference(n *node, a, b []any) (any, error) {
	v, err := x.setCombine(n, a, b, func(inA, inB bool) bool { return inA && !inB })
	if err != nil {
		return nil, err
	}
	return x.built(n, v)
}

// setCombine keeps the distinct elements of la and lb, in first-seen
// order, for which keep says yes.
func (x *evaluator) setCombine(n *node, la, lb []any, keep func(inA, inB bool) bool) ([]any, error) {
	{
		var err error
		all := slices.Concat(la, lb)
		hashes := make([]string, len(all))
		for i, e := range all {
			if hashes[i], err = x.hashKey(n, e); err != nil {
				return nil, err
			}
		}
		inA := make(map[string]bool, len(la))
		for _, h := range hashes[:len(la)] {
			inA[h] = true
		}
		inB := make(map[string]bool, len(lb))
		for _, h := range hashes[len(la):] {
			inB[h] = true
		}
		done := make(map[string]bool, len(la)+len(lb))
		out := []any{}
		for i, e := range all {
			h := hashes[i]
			if !done[h] && keep(inA[h], inB[h]) {
				out = append(out, e)
			}
			done[h] = true
		}
		return out, x.charge(n, len(la)+len(lb))
	}
}

// whileFn builds takeWhile and skipWhile.
func whileFn(name string, take bool) *function {
	return lambdaFn(name, 2, 2, func(x *evaluator, n *node, a []any, _ any) (any, error) {
		l, err := iterable(name, a[0])
		if err != nil {
			return nil, err
		}
		i := 0
		for ; i < len(l); i++ {
			v, err := x.apply(n.args[1], l[i])
			if err != nil {
				return nil, err
			}
			if !Truthy(v) {
				break
			}
		}
		if take {
			return slices.Clone(l[:i]), nil
		}
		return slices.Clone(l[i:]), nil
	})
}

// yaqlGroupBy groups a list by a key: [[key, values], …] in the order keys
// first appear. valueSelector maps each element; aggregator maps each
// group's values. An aggregator written for yaql before 1.1.1, which takes
// the [key, values] pair, still works.
func yaqlGroupBy(x *evaluator, n *node, a []any, _ any) (any, error) {
	l, err := iterable("groupBy", a[0])
	if err != nil {
		return nil, err
	}
	var order []string
	keys := map[string]any{}
	groups := map[string][]any{}
	for _, e := range l {
		k, err := x.apply(n.args[1], e)
		if err != nil {
			return nil, err
		}
		v := e
		if len(n.args) > 2 {
			if v, err = x.apply(n.args[2], e); err != nil {
				return nil, err
			}
		}
		h, err := x.hashKey(n, k)
		if err != nil {
			return nil, err
		}
		if _, ok := keys[h]; !ok {
			keys[h] = k
			order = append(order, h)
		}
		groups[h] = append(groups[h], v)
	}
	out := make([]any, len(order))
	for i, h := range order {
		pair := []any{keys[h], groups[h]}
		if len(n.args) > 3 {
			agg, err := x.apply(n.args[3], groups[h])
			if err != nil {
				if errors.Is(err, ErrStepLimit) {
					return nil, err
				}
				old, oldErr := x.apply(n.args[3], pair)
				if l, ok := old.([]any); oldErr != nil || !ok || len(l) != 2 {
					return nil, err
				}
				pair = old.([]any)
			} else {
				pair[1] = agg
			}
		}
		out[i] = pair
	}
	return out, nil
}

// trimSide trims spaces, or the given characters, from one side.
func trimSide(name string, a []any, cut func(string, string) string, cutSpace func(string, func(rune) bool) string) (any, error) {
	s, err := asString(name, a[0])
	if err != nil {
		return nil, err
	}
	if len(a) == 2 && a[1] != nil {
		chars, err := asString(name, a[1])
		if err != nil {
			return nil, err
		}
		return cut(s, chars), nil
	}
	return cutSpace(s, unicode.IsSpace), nil
}

// yamlParse is Mistral's yaml_parse(): a YAML document to a value.
func yamlParse(s string) (any, error) {
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return nil, errorf("yaml_parse(): %v", err)
	}
	return Normalize(v), nil
}
