package expr

import (
	"fmt"
	"slices"
	"strings"
)

// More of YAQL's standard library: slicing and splitting lists, the
// case functions, running totals, and the bit and set operations, as
// yaql has them.

func init() {
	register(yaqlOnly,
		fn("slice", 2, 2, func(x *evaluator, n *node, a []any) (any, error) {
			l, err := iterable("slice", a[0])
			if err != nil {
				return nil, err
			}
			k, err := asInt("slice", a[1])
			if err != nil || k <= 0 {
				return nil, cmpOr(err, errorf("slice() needs a length of at least 1"))
			}
			out := []any{}
			for i := 0; i < len(l); i += int(k) {
				out = append(out, slices.Clone(l[i:min(len(l), i+int(k))]))
			}
			return out, x.charge(n, len(l))
		}),
		fn("splitAt", 2, 2, func(x *evaluator, n *node, a []any) (any, error) {
			l, err := iterable("splitAt", a[0])
			if err != nil {
				return nil, err
			}
			i, err := asInt("splitAt", a[1])
			if err != nil {
				return nil, err
			}
			i = max(0, min(i, int64(len(l))))
			return []any{slices.Clone(l[:i]), slices.Clone(l[i:])}, x.charge(n, len(l))
		}),
		lambdaFn("splitWhere", 2, 2, func(x *evaluator, n *node, a []any, _ any) (any, error) {
			l, err := iterable("splitWhere", a[0])
			if err != nil {
				return nil, err
			}
			out, start := []any{}, 0
			for i, e := range l {
				v, err := x.apply(n.args[1], e)
				if err != nil {
					return nil, err
				}
				if Truthy(v) {
					out = append(out, slices.Clone(l[start:i]))
					start = i + 1
				}
			}
			if start < len(l) {
				out = append(out, slices.Clone(l[start:]))
			}
			return out, nil
		}),
		lambdaFn("sliceWhere", 2, 2, func(x *evaluator, n *node, a []any, _ any) (any, error) {
			l, err := iterable("sliceWhere", a[0])
			if err != nil {
				return nil, err
			}
			// Runs of elements the predicate gives one answer for.
			out, start := []any{}, 0
			var prev bool
			for i, e := range l {
				v, err := x.apply(n.args[1], e)
				if err != nil {
					return nil, err
				}
				if t := Truthy(v); i > 0 && t != prev {
					out = append(out, slices.Clone(l[start:i]))
					start = i
				}
				prev = Truthy(v)
			}
			if start < len(l) {
				out = append(out, slices.Clone(l[start:]))
			}
			return out, nil
		}),
		lambdaFn("lastIndexWhere", 2, 2, func(x *evaluator, n *node, a []any, _ any) (any, error) {
			l, err := iterable("lastIndexWhere", a[0])
			if err != nil {
				return nil, err
			}
			found := int64(-1)
			for i, e := range l {
				v, err := x.apply(n.args[1], e)
				if err != nil {
					return nil, err
				}
				if Truthy(v) {
					found = int64(i)
				}
			}
			return found, nil
		}),
		&function{name: "accumulate", min: 2, max: 3, lambda: 1, lambdaEnd: 1, call: func(x *evaluator, n *node, a []any, _ map[string]any, cur any) (any, error) {
			l, err := iterable("accumulate", a[0])
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
					return []any{}, nil
				}
				acc, l = l[0], l[1:]
			}
			out := []any{acc}
			for _, e := range l {
				if acc, err = x.apply2(n.args[1], acc, e); err != nil {
					return nil, err
				}
				out = append(out, acc)
			}
			return out, nil
		}},
		fn("defaultIfEmpty", 2, 2, func(x *evaluator, n *node, a []any) (any, error) {
			l, err := iterable("defaultIfEmpty", a[0])
			if err != nil {
				return nil, err
			}
			if len(l) == 0 {
				return a[1], nil
			}
			return a[0], nil
		}),
		&function{name: "zipLongest", min: 1, max: -1, kw: true, call: func(x *evaluator, n *node, a []any, kw map[string]any, _ any) (any, error) {
			for k := range kw {
				if k != "default" {
					return nil, errorf("zipLongest() takes no argument %s", k)
				}
			}
			lists := make([][]any, len(a))
			size := 0
			for i, v := range a {
				l, err := iterable("zipLongest", v)
				if err != nil {
					return nil, err
				}
				lists[i] = l
				size = max(size, len(l))
			}
			out := make([]any, size)
			for i := range out {
				row := make([]any, len(lists))
				for j, l := range lists {
					row[j] = kw["default"]
					if i < len(l) {
						row[j] = l[i]
					}
				}
				out[i] = row
			}
			return out, x.charge(n, size*len(lists))
		}},
		fn("isIterable", 1, 1, func(x *evaluator, n *node, a []any) (any, error) { _, ok := a[0].([]any); return ok, nil }),
		fn("isSet", 1, 1, func(x *evaluator, n *node, a []any) (any, error) { _, ok := a[0].([]any); return ok, nil }),
		fn("add", 1, -1, func(x *evaluator, n *node, a []any) (any, error) {
			l, err := iterable("add", a[0])
			if err != nil {
				return nil, err
			}
			return x.distinct(n, slices.Concat(l, a[1:]), nil)
		}),
		fn("remove", 1, -1, func(x *evaluator, n *node, a []any) (any, error) {
			l, err := iterable("remove", a[0])
			if err != nil {
				return nil, err
			}
			return x.setCombine(n, l, a[1:], func(inA, inB bool) bool { return inA && !inB })
		}),
		fn("insertMany", 3, 3, func(x *evaluator, n *node, a []any) (any, error) {
			l, err := asList("insertMany", a[0])
			if err != nil {
				return nil, err
			}
			i, err := asInt("insertMany", a[1])
			if err != nil {
				return nil, err
			}
			vals, err := iterable("insertMany", a[2])
			if err != nil {
				return nil, err
			}
			if i < 0 {
				i = int64(len(l))
			}
			i = min(i, int64(len(l)))
			return slices.Concat(l[:i], vals, l[i:]), x.charge(n, len(l)+len(vals))
		}),
		fn("hex", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			k, err := asInt("hex", a[0])
			if err != nil {
				return nil, err
			}
			if k < 0 {
				return fmt.Sprintf("-0x%x", -k), nil
			}
			return fmt.Sprintf("0x%x", k), nil
		}),
		fn("rightSplit", 1, 3, func(x *evaluator, n *node, a []any) (any, error) {
			s, err := asString("rightSplit", a[0])
			if err != nil {
				return nil, err
			}
			limit := int64(-1)
			if len(a) == 3 {
				if limit, err = asInt("rightSplit", a[2]); err != nil {
					return nil, err
				}
			}
			var parts []string
			if len(a) < 2 || a[1] == nil {
				parts = strings.Fields(s)
				if limit >= 0 && int64(len(parts)) > limit+1 {
					head := strings.Join(parts[:int64(len(parts))-limit], " ")
					parts = append([]string{head}, parts[int64(len(parts))-limit:]...)
				}
			} else {
				sep, err := asString("rightSplit", a[1])
				if err != nil || sep == "" {
					return nil, cmpOr(err, errorf("rightSplit(): empty separator"))
				}
				parts = strings.Split(s, sep)
				if limit >= 0 && int64(len(parts)) > limit+1 {
					head := strings.Join(parts[:int64(len(parts))-limit], sep)
					parts = append([]string{head}, parts[int64(len(parts))-limit:]...)
				}
			}
			out := make([]any, len(parts))
			for i, p := range parts {
				out[i] = p
			}
			return out, x.charge(n, len(out))
		}),
		fn("repeat", 2, 2, func(x *evaluator, n *node, a []any) (any, error) {
			k, err := asInt("repeat", a[1])
			if err != nil {
				return nil, err
			}
			if k < 0 {
				return nil, errorf("repeat() without a count repeats for ever; give one")
			}
			return x.repeatList(n, []any{a[0]}, k)
		}),
		bitwise("bitwiseAnd", func(p, q int64) int64 { return p & q }),
		bitwise("bitwiseOr", func(p, q int64) int64 { return p | q }),
		bitwise("bitwiseXor", func(p, q int64) int64 { return p ^ q }),
		bitwise("shiftBitsLeft", func(p, q int64) int64 {
			if q < 0 || q > 62 {
				return 0
			}
			return p << q
		}),
		bitwise("shiftBitsRight", func(p, q int64) int64 {
			if q < 0 || q > 63 {
				return 0
			}
			return p >> q
		}),
		fn("bitwiseNot", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			k, err := asInt("bitwiseNot", a[0])
			return ^k, err
		}),
		&function{name: "selectCase", min: 0, max: -1, lazy: true, call: func(x *evaluator, n *node, _ []any, _ map[string]any, cur any) (any, error) {
			for i, c := range n.args {
				v, err := x.evalDef(c, cur)
				if err != nil {
					return nil, err
				}
				if Truthy(v) {
					return int64(i), nil
				}
			}
			return int64(len(n.args)), nil
		}},
		&function{name: "selectAllCases", min: 0, max: -1, lazy: true, call: func(x *evaluator, n *node, _ []any, _ map[string]any, cur any) (any, error) {
			out := []any{}
			for i, c := range n.args {
				v, err := x.evalDef(c, cur)
				if err != nil {
					return nil, err
				}
				if Truthy(v) {
					out = append(out, int64(i))
				}
			}
			return out, nil
		}},
		&function{name: "examine", min: 0, max: -1, lazy: true, call: func(x *evaluator, n *node, _ []any, _ map[string]any, cur any) (any, error) {
			out := make([]any, len(n.args))
			for i, c := range n.args {
				v, err := x.evalDef(c, cur)
				if err != nil {
					return nil, err
				}
				out[i] = Truthy(v)
			}
			return out, nil
		}},
		&function{name: "switchCase", min: 1, max: -1, lazy: true, call: func(x *evaluator, n *node, _ []any, _ map[string]any, cur any) (any, error) {
			v, err := x.evalDef(n.args[0], cur)
			if err != nil {
				return nil, err
			}
			k, err := asInt("switchCase", v)
			if err != nil {
				return nil, err
			}
			cases := n.args[1:]
			switch {
			case len(cases) == 0:
				return nil, nil
			case k >= 0 && k < int64(len(cases)):
				return x.evalDef(cases[k], cur)
			}
			return x.evalDef(cases[len(cases)-1], cur)
		}},
	)
	reduce := *yaqlOnly["aggregate"]
	reduce.name = "reduce"
	yaqlOnly["reduce"] = &reduce
}

func bitwise(name string, op func(p, q int64) int64) *function {
	return fn(name, 2, 2, func(x *evaluator, n *node, a []any) (any, error) {
		p, err := asInt(name, a[0])
		if err != nil {
			return nil, err
		}
		q, err := asInt(name, a[1])
		return op(p, q), err
	})
}
