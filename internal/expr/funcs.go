package expr

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// function is one entry of the library.
type function struct {
	name string
	// min and max bound the number of positional arguments, counting the
	// receiver of a method call or the value of a filter; max < 0 is unbounded.
	min, max int
	// lambda, when > 0, is the index of the first argument that is evaluated
	// once per element with `$` bound to the element (YAQL only); lambdaEnd,
	// when > 0, the index of the last one (later arguments are plain).
	lambda, lambdaEnd int
	// kw allows keyword arguments (nPair); they arrive in kwargs.
	kw bool
	// mappings also allows YAQL mappings with a computed key (`$.k => 1`);
	// they arrive in kwargs under the key rendered as a string.
	mappings bool
	// lazy leaves every argument unevaluated: call reads n.args itself.
	lazy bool
	// binds marks let() and with(), valid only on the left of `->`; call
	// returns the *scope of their variables.
	binds bool
	// raw lets the first argument be a Jinja undefined (default, tests).
	raw  bool
	call func(x *evaluator, n *node, args []any, kw map[string]any, cur any) (any, error)
}

type simpleFn func(x *evaluator, n *node, args []any) (any, error)

func fn(name string, min, max int, f simpleFn) *function {
	return &function{name: name, min: min, max: max,
		call: func(x *evaluator, n *node, args []any, _ map[string]any, _ any) (any, error) {
			return f(x, n, args)
		}}
}

func lambdaFn(name string, min, max int, f func(x *evaluator, n *node, args []any, cur any) (any, error)) *function {
	return &function{name: name, min: min, max: max, lambda: 1,
		call: func(x *evaluator, n *node, args []any, _ map[string]any, cur any) (any, error) {
			return f(x, n, args, cur)
		}}
}

var (
	common      = map[string]*function{} // YAQL and Jinja, call and method form
	yaqlOnly    = map[string]*function{} // functions taking per-element expressions
	jinjaOnly   = map[string]*function{} // Python methods Jinja templates call
	filters     = map[string]*function{} // Jinja filters
	jinjaTests  = map[string]*function{} // Jinja `is` tests
	allFuncList []string
)

func register(m map[string]*function, fs ...*function) {
	for _, f := range fs {
		m[f.name] = f
	}
}

func alias(m map[string]*function, name, of string) {
	f := *m[of]
	f.name = name
	m[name] = &f
}

func lookup(d dialect, name string) *function {
	if f, ok := common[name]; ok {
		return f
	}
	if d == yaql {
		return yaqlOnly[name]
	}
	return jinjaOnly[name]
}

func lookupFilter(name string) *function {
	if f, ok := filters[name]; ok {
		return f
	}
	return common[name]
}

// IsFunction reports whether name is a function, method or filter of the
// library, in either syntax.
func IsFunction(name string) bool {
	return common[name] != nil || yaqlOnly[name] != nil || jinjaOnly[name] != nil || filters[name] != nil
}

// Functions lists the names of every function, method and filter of the
// library, sorted.
func Functions() []string {
	listFuncs.Do(func() {
		seen := map[string]bool{}
		for _, m := range []map[string]*function{common, yaqlOnly, jinjaOnly, filters} {
			for name := range m {
				if !seen[name] {
					seen[name] = true
					allFuncList = append(allFuncList, name)
				}
			}
		}
		slices.Sort(allFuncList)
	})
	return slices.Clone(allFuncList)
}

// listFuncs builds allFuncList once every file's init has registered its
// functions.
var listFuncs sync.Once

func (x *evaluator) call(n *node, cur any) (any, error) {
	f := n.fn
	if f == nil {
		if n.method && len(n.args) > 0 {
			// Fail on the receiver first, as it is evaluated first.
			if _, err := x.evalDef(n.args[0], cur); err != nil {
				return nil, err
			}
		}
		switch {
		case n.op == nFilter:
			return nil, x.fail(n, "No filter named %q", n.name)
		case n.method:
			return nil, x.fail(n, "Unknown method %q", n.name)
		}
		return nil, x.fail(n, "Unknown function %q", n.name)
	}
	if f.binds {
		if x.arrowLeft != n {
			return nil, x.fail(n, "%s() is only valid on the left of \"->\": %s(...) -> expression", f.name, f.name)
		}
		x.arrowLeft = nil
	}
	if f.lazy {
		if len(n.args) < f.min || f.max >= 0 && len(n.args) > f.max {
			return nil, x.fail(n, "%s", arityMsg(f, len(n.args)))
		}
		return f.call(x, n, nil, nil, cur)
	}
	eager := len(n.args)
	if f.lambda > 0 && n.op == nCall && eager > f.lambda {
		eager = f.lambda
	}
	var args []any
	var kw map[string]any
	if eager > 0 {
		args = make([]any, 0, eager)
	}
	for i, a := range n.args[:eager] {
		if a.op == nPair {
			key := a.name
			if key == "" {
				if !f.mappings {
					return nil, x.fail(a, "%s() takes no mapping (key => value) arguments", f.name)
				}
				k, err := x.evalDef(a.args[1], cur)
				if err != nil {
					return nil, err
				}
				key = keyString(k)
			} else if !f.kw {
				return nil, x.fail(a, "%s() takes no keyword argument %s", f.name, a.name)
			}
			v, err := x.evalDef(a.args[0], cur)
			if err != nil {
				return nil, err
			}
			if kw == nil {
				kw = map[string]any{}
			}
			kw[key] = v
			continue
		}
		var v any
		var err error
		if i == 0 && f.raw {
			v, err = x.eval(a, cur)
		} else {
			v, err = x.evalDef(a, cur)
		}
		if err != nil {
			return nil, err
		}
		args = append(args, v)
	}
	total := len(args) + len(n.args) - eager
	if total < f.min || f.max >= 0 && total > f.max {
		return nil, x.fail(n, "%s", arityMsg(f, total))
	}
	v, err := f.call(x, n, args, kw, cur)
	if err != nil {
		if _, ok := err.(*failure); !ok {
			err = &failure{pos: n.pos, msg: err.Error(), err: err}
		}
		return nil, err
	}
	// Whatever a function returns is counted against the byte budget
	// here, once, so that no function has to (budget.go).
	return x.result(n, v, args)
}

func arityMsg(f *function, got int) string {
	want := ""
	switch {
	case f.max < 0:
		want = fmt.Sprintf("at least %d", f.min)
	case f.min == f.max:
		want = strconv.Itoa(f.min)
	default:
		want = fmt.Sprintf("%d to %d", f.min, f.max)
	}
	return fmt.Sprintf("%s() takes %s argument(s), %d given", f.name, want, got)
}

func (x *evaluator) test(n *node, cur any) (any, error) {
	f := jinjaTests[n.name]
	v, err := x.eval(n.args[0], cur)
	if err != nil {
		return nil, err
	}
	args := []any{v}
	for _, a := range n.args[1:] {
		av, err := x.evalDef(a, cur)
		if err != nil {
			return nil, err
		}
		args = append(args, av)
	}
	if len(args) < f.min || f.max >= 0 && len(args) > f.max {
		return nil, x.fail(n, "%s", arityMsg(f, len(args)))
	}
	if _, ok := v.(*undefined); ok && n.name != "defined" && n.name != "undefined" {
		return nil, x.fail(n.args[0], "%s", v.(*undefined).msg)
	}
	r, err := f.call(x, n, args, nil, cur)
	if err != nil {
		return nil, err
	}
	return Truthy(r) != n.negate, nil
}

// apply evaluates a per-element argument with `$` bound to elem. In YAQL
// `$1` is another name for `$`.
func (x *evaluator) apply(body *node, elem any) (any, error) {
	if err := x.charge(body, 1); err != nil {
		return nil, err
	}
	return x.evalDef(body, elem)
}

// apply2 evaluates a two-argument lambda: `$` (and `$1`) is a, `$2` is b.
func (x *evaluator) apply2(body *node, a, b any) (any, error) {
	if err := x.charge(body, 1); err != nil {
		return nil, err
	}
	if !body.numbered {
		return x.evalDef(body, a)
	}
	outer := x.vars
	x.vars = &scope{parent: outer, names: []string{"2"}, vals: []any{b}}
	v, err := x.evalDef(body, a)
	x.vars = outer
	return v, err
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func asList(name string, v any) ([]any, error) {
	if l, ok := v.([]any); ok {
		return l, nil
	}
	return nil, errorf("%s() needs a list, not %s", name, typeName(v))
}

func asString(name string, v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	return "", errorf("%s() needs a string, not %s", name, typeName(v))
}

func asInt(name string, v any) (int64, error) {
	switch i := v.(type) {
	case int64:
		return i, nil
	case bool:
		if i {
			return 1, nil
		}
		return 0, nil
	case float64:
		// Integral floats are accepted: data decoded without json.Number
		// holds every number as a float.
		if i == math.Trunc(i) && math.Abs(i) < 1<<53 {
			return int64(i), nil
		}
	}
	return 0, errorf("%s() needs an integer, not %s", name, typeName(v))
}

// iterable returns the elements of a list, the sorted keys of a dict or
// the characters of a string.
func iterable(name string, v any) ([]any, error) {
	switch o := v.(type) {
	case []any:
		return o, nil
	case map[string]any:
		keys := sortedKeys(o)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = k
		}
		return out, nil
	case string:
		out := make([]any, 0, len(o))
		for _, r := range o {
			out = append(out, string(r))
		}
		return out, nil
	}
	return nil, errorf("%s() needs a list, not %s", name, typeName(v))
}

// str is YAQL's str(): null, true and false in YAQL spelling, the rest
// as Render, within the budget.
func (x *evaluator) str(n *node, v any) (string, error) {
	if x.d == yaql {
		switch b := v.(type) {
		case nil:
			return "null", nil
		case bool:
			if b {
				return "true", nil
			}
			return "false", nil
		}
	}
	return x.render(n, v)
}

func (x *evaluator) host(n *node, name string) (Host, error) {
	if x.c.Host == nil {
		return nil, x.fail(n, "%s() is not available here: there is no execution context", name)
	}
	return x.c.Host, nil
}

func toInt(v any, lenient bool) (int64, error) {
	switch o := v.(type) {
	case int64:
		return o, nil
	case float64:
		if math.IsNaN(o) || math.IsInf(o, 0) || math.Abs(o) >= 9.2e18 {
			return 0, errorf("cannot convert float %s to integer", pyFloat(o))
		}
		return int64(o), nil
	case bool:
		if o {
			return 1, nil
		}
		return 0, nil
	case string:
		s := strings.TrimSpace(o)
		if i, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64); err == nil {
			return i, nil
		}
		if lenient {
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				return toInt(f, false)
			}
		}
		return 0, errorf("invalid literal for int(): %s", pyQuote(o))
	case nil:
		if lenient {
			return 0, nil
		}
	}
	return 0, errorf("int() cannot convert %s", typeName(v))
}

func toFloatValue(v any) (float64, error) {
	switch o := v.(type) {
	case int64:
		return float64(o), nil
	case float64:
		return o, nil
	case bool:
		if o {
			return 1, nil
		}
		return 0, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(o), 64)
		if err != nil && !isRangeErr(err) {
			return 0, errorf("could not convert string to float: %s", pyQuote(o))
		}
		return f, nil
	}
	return 0, errorf("float() cannot convert %s", typeName(v))
}

// hashKey gives values that are equal the same key, for distinct(). A
// list or dict is rendered, within the budget.
func (x *evaluator) hashKey(n *node, v any) (string, error) {
	switch v.(type) {
	case []any, map[string]any:
		s, err := x.render(n, v)
		if err == nil {
			err = x.alloc(n, len(s))
		}
		return "o" + s, err
	}
	return hashKey(v), nil
}

func hashKey(v any) string {
	switch o := v.(type) {
	case string:
		return "s" + o
	case int64:
		return "n" + strconv.FormatInt(o, 10)
	case float64:
		if o == math.Trunc(o) && math.Abs(o) < 1e18 {
			return "n" + strconv.FormatInt(int64(o), 10)
		}
		return "f" + pyFloat(o)
	case bool:
		if o {
			return "n1"
		}
		return "n0"
	}
	return "o" + Render(v)
}

func (x *evaluator) sortList(n *node, l []any, keys []any, desc bool) ([]any, error) {
	if err := x.charge(n, len(l)); err != nil {
		return nil, err
	}
	idx := make([]int, len(l))
	for i := range idx {
		idx[i] = i
	}
	if keys == nil {
		keys = l
	}
	var cmpErr error
	slices.SortStableFunc(idx, func(a, b int) int {
		c, ok := compare(keys[a], keys[b])
		if !ok && cmpErr == nil {
			cmpErr = errorf("cannot compare %s with %s", typeName(keys[a]), typeName(keys[b]))
		}
		if desc {
			return -c
		}
		return c
	})
	if cmpErr != nil {
		return nil, cmpErr
	}
	out := make([]any, len(l))
	for i, j := range idx {
		out[i] = l[j]
	}
	return out, nil
}

func (x *evaluator) extreme(n *node, args []any, sign int) (any, error) {
	vals := args
	if len(args) == 1 {
		l, err := iterable("min/max", args[0])
		if err != nil {
			return nil, err
		}
		vals = l
	}
	if len(vals) == 0 {
		return nil, errorf("min() and max() need a non-empty list")
	}
	if err := x.charge(n, len(vals)); err != nil {
		return nil, err
	}
	best := vals[0]
	for _, v := range vals[1:] {
		c, ok := compare(v, best)
		if !ok {
			return nil, errorf("cannot compare %s with %s", typeName(v), typeName(best))
		}
		if c*sign > 0 {
			best = v
		}
	}
	return best, nil
}

func (x *evaluator) join(n *node, l []any, sep string) (any, error) {
	if err := x.charge(n, len(l)); err != nil {
		return nil, err
	}
	if err := x.measure(n, l); err != nil {
		return nil, err
	}
	if err := x.roomFor(n, int64(len(sep)), int64(len(l))); err != nil {
		return nil, err
	}
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteString(sep)
		}
		s, err := x.str(n, e)
		if err != nil {
			return nil, err
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// pyFormat implements the common part of Python's str.format: {}, {0},
// {name}, with {{ and }} as literal braces.
func (x *evaluator) pyFormat(n *node, f string, args []any, kw map[string]any) (string, error) {
	var b strings.Builder
	auto := 0
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c == '}' {
			if i+1 < len(f) && f[i+1] == '}' {
				i++
			}
			b.WriteByte('}')
			continue
		}
		if c != '{' {
			b.WriteByte(c)
			continue
		}
		if i+1 < len(f) && f[i+1] == '{' {
			b.WriteByte('{')
			i++
			continue
		}
		end := strings.IndexByte(f[i:], '}')
		if end < 0 {
			return "", errorf("single '{' encountered in format string")
		}
		field := f[i+1 : i+end]
		field, _, _ = strings.Cut(field, ":")
		field, _, _ = strings.Cut(field, "!")
		var v any
		switch {
		case field == "":
			if auto >= len(args) {
				return "", errorf("format(): not enough arguments")
			}
			v = args[auto]
			auto++
		case isDigit(field[0]):
			k, err := strconv.Atoi(field)
			if err != nil || k >= len(args) {
				return "", errorf("format(): no argument %s", field)
			}
			v = args[k]
		default:
			val, ok := kw[field]
			if !ok {
				return "", errorf("format(): no argument named %s", field)
			}
			v = val
		}
		s, err := x.render(n, v)
		if err != nil {
			return "", err
		}
		if err := x.room(n, b.Len()+len(s)); err != nil {
			return "", err
		}
		b.WriteString(s)
		i += end
	}
	return b.String(), nil
}

func init() {
	register(common,
		// Engine access.
		fn("task", 0, 1, func(x *evaluator, n *node, a []any) (any, error) {
			h, err := x.host(n, "task")
			if err != nil {
				return nil, err
			}
			name := ""
			if len(a) == 1 && a[0] != nil {
				if name, err = asString("task", a[0]); err != nil {
					return nil, err
				}
			}
			return h.Task(name)
		}),
		&function{name: "tasks", min: 0, max: 4, kw: true, call: func(x *evaluator, n *node, a []any, kw map[string]any, _ any) (any, error) {
			h, err := x.host(n, "tasks")
			if err != nil {
				return nil, err
			}
			names := []string{"workflow_execution_id", "recursive", "state", "flat"}
			vals := make([]any, len(names))
			copy(vals, a)
			for i, nm := range names {
				if v, ok := kw[nm]; ok {
					vals[i] = v
				}
			}
			id, _ := vals[0].(string)
			state, _ := vals[2].(string)
			l, err := h.Tasks(id, Truthy(vals[1]), state)
			if err != nil {
				return nil, err
			}
			if l == nil {
				l = []any{}
			}
			return l, nil
		}},
		fn("execution", 0, 0, func(x *evaluator, n *node, a []any) (any, error) {
			h, err := x.host(n, "execution")
			if err != nil {
				return nil, err
			}
			return h.Execution(), nil
		}),
		fn("env", 0, 0, func(x *evaluator, n *node, a []any) (any, error) {
			h, err := x.host(n, "env")
			if err != nil {
				return nil, err
			}
			return h.Env(), nil
		}),
		fn("global", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			h, err := x.host(n, "global")
			if err != nil {
				return nil, err
			}
			name, err := asString("global", a[0])
			if err != nil {
				return nil, err
			}
			return h.Global(name)
		}),
		&function{name: "executions", min: 0, max: 5, kw: true, call: yaqlExecutions},
		fn("uuid", 0, 0, func(x *evaluator, n *node, a []any) (any, error) {
			h, err := x.host(n, "uuid")
			if err != nil {
				return nil, err
			}
			return h.UUID(), nil
		}),

		// Conversions.
		fn("len", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			switch o := a[0].(type) {
			case string:
				return int64(utf8.RuneCountInString(o)), nil
			case []any:
				return int64(len(o)), nil
			case map[string]any:
				return int64(len(o)), nil
			}
			return nil, errorf("len() needs a string, list or dict, not %s", typeName(a[0]))
		}),
		fn("str", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			return x.str(n, a[0])
		}),
		fn("int", 1, 1, func(x *evaluator, n *node, a []any) (any, error) { return toInt(a[0], false) }),
		fn("float", 1, 1, func(x *evaluator, n *node, a []any) (any, error) { return toFloatValue(a[0]) }),
		fn("bool", 1, 1, func(x *evaluator, n *node, a []any) (any, error) { return Truthy(a[0]), nil }),
		fn("json_parse", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			s, err := asString("json_parse", a[0])
			if err != nil {
				return nil, err
			}
			if err := x.room(n, len(s)); err != nil {
				return nil, err
			}
			dec := json.NewDecoder(strings.NewReader(s))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				return nil, errorf("json_parse(): %v", err)
			}
			if dec.More() {
				return nil, errorf("json_parse(): extra data after the JSON value")
			}
			return Normalize(v), nil
		}),
		fn("json_dump", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			return x.renderJSON(n, a[0], "    ", false)
		}),
		fn("json_pp", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			// Mistral's deprecated json_pp: json_dump with escaped newlines
			// in strings printed as newlines.
			s, err := x.renderJSON(n, a[0], "    ", false)
			if err != nil {
				return nil, err
			}
			return strings.ReplaceAll(strings.ReplaceAll(s, `\n`, "\n"), " \n", "\n"), nil
		}),
		fn("yaml_dump", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			return x.renderYAML(n, a[0])
		}),
		fn("yaml_parse", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			s, err := asString("yaml_parse", a[0])
			if err != nil {
				return nil, err
			}
			if err := x.room(n, len(s)); err != nil {
				return nil, err
			}
			return yamlParse(s)
		}),

		// Collections.
		fn("keys", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			m, ok := a[0].(map[string]any)
			if !ok {
				return nil, errorf("keys() needs a dict, not %s", typeName(a[0]))
			}
			out := make([]any, 0, len(m))
			for _, k := range sortedKeys(m) {
				out = append(out, k)
			}
			return out, x.charge(n, len(m))
		}),
		fn("values", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			m, ok := a[0].(map[string]any)
			if !ok {
				return nil, errorf("values() needs a dict, not %s", typeName(a[0]))
			}
			out := make([]any, 0, len(m))
			for _, k := range sortedKeys(m) {
				out = append(out, m[k])
			}
			return out, x.charge(n, len(m))
		}),
		fn("items", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			m, ok := a[0].(map[string]any)
			if !ok {
				return nil, errorf("items() needs a dict, not %s", typeName(a[0]))
			}
			out := make([]any, 0, len(m))
			for _, k := range sortedKeys(m) {
				out = append(out, []any{k, m[k]})
			}
			return out, x.charge(n, len(m))
		}),
		&function{name: "dict", min: 0, max: -1, kw: true, mappings: true, call: func(x *evaluator, n *node, a []any, kw map[string]any, _ any) (any, error) {
			out := make(map[string]any, len(kw))
			add := func(p any) error {
				switch o := p.(type) {
				case map[string]any:
					for k, v := range o {
						out[k] = v
					}
					return nil
				case []any:
					if len(o) == 2 && !isList(o[0]) {
						out[keyString(o[0])] = o[1]
						return nil
					}
					// A list of pairs.
					for _, e := range o {
						pair, ok := e.([]any)
						if !ok || len(pair) != 2 {
							return errorf("dict() needs pairs [key, value], not %s", typeName(e))
						}
						out[keyString(pair[0])] = pair[1]
					}
					return nil
				}
				return errorf("dict() needs pairs [key, value] or key => value, not %s", typeName(p))
			}
			for _, p := range a {
				if err := add(p); err != nil {
					return nil, err
				}
			}
			for k, v := range kw {
				out[k] = v
			}
			return out, x.charge(n, len(out))
		}},
		&function{name: "list", min: 0, max: -1, lazy: true, call: listFn},
		fn("toList", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			if a[0] == nil {
				return []any{}, nil
			}
			if _, ok := a[0].(string); ok {
				return []any{a[0]}, nil
			}
			l, err := iterable("toList", a[0])
			return slices.Clone(l), err
		}),
		fn("range", 1, 3, func(x *evaluator, n *node, a []any) (any, error) {
			var start, stop, step int64 = 0, 0, 1
			ints := make([]int64, len(a))
			for i, v := range a {
				k, err := asInt("range", v)
				if err != nil {
					return nil, err
				}
				ints[i] = k
			}
			switch len(a) {
			case 1:
				stop = ints[0]
			case 2:
				start, stop = ints[0], ints[1]
			case 3:
				start, stop, step = ints[0], ints[1], ints[2]
			}
			if step == 0 {
				return nil, errorf("range() step must not be zero")
			}
			// Counted in unsigned arithmetic: the span of two int64
			// may not fit in one.
			var count uint64
			if step > 0 && stop > start {
				count = (uint64(stop)-uint64(start)-1)/uint64(step) + 1
			} else if step < 0 && stop < start {
				count = (uint64(start)-uint64(stop)-1)/(uint64(-(step+1))+1) + 1
			}
			if count > uint64(x.max) {
				return nil, x.stepLimit(n)
			}
			if err := x.charge(n, int(count)); err != nil {
				return nil, err
			}
			out := make([]any, count)
			for i := range out {
				out[i] = start + int64(i)*step
			}
			return out, nil
		}),
		fn("first", 1, 2, end("first", func(l []any) any { return l[0] })),
		fn("last", 1, 2, end("last", func(l []any) any { return l[len(l)-1] })),
		fn("sum", 1, 2, func(x *evaluator, n *node, a []any) (any, error) {
			l, err := asList("sum", a[0])
			if err != nil {
				return nil, err
			}
			// Like YAQL, add the elements with +, starting from the first;
			// an empty list sums to 0.
			var acc any = int64(0)
			if len(a) == 2 {
				acc = a[1]
			} else if len(l) > 0 {
				acc, l = l[0], l[1:]
			}
			add := &node{op: nAdd, pos: n.pos}
			for _, e := range l {
				if acc, err = x.arith(add, acc, e); err != nil {
					return nil, err
				}
			}
			return acc, x.charge(n, len(l))
		}),
		fn("min", 1, -1, func(x *evaluator, n *node, a []any) (any, error) { return x.extreme(n, a, -1) }),
		fn("max", 1, -1, func(x *evaluator, n *node, a []any) (any, error) { return x.extreme(n, a, 1) }),
		fn("join", 2, 2, func(x *evaluator, n *node, a []any) (any, error) {
			l, sepv := a[0], a[1]
			if _, ok := l.(string); ok {
				if _, ok := sepv.([]any); ok { // 'sep'.join(list)
					l, sepv = sepv, l
				}
			}
			list, err := iterable("join", l)
			if err != nil {
				return nil, err
			}
			sep, err := asString("join", sepv)
			if err != nil {
				return nil, err
			}
			return x.join(n, list, sep)
		}),
		fn("concat", 1, -1, func(x *evaluator, n *node, a []any) (any, error) {
			if _, ok := a[0].(string); ok {
				var b strings.Builder
				for _, v := range a {
					s, ok := v.(string)
					if !ok {
						return nil, errorf("concat() needs all strings or all lists, not %s", typeName(v))
					}
					if err := x.room(n, b.Len()+len(s)); err != nil {
						return nil, err
					}
					b.WriteString(s)
				}
				return b.String(), nil
			}
			var out []any
			for _, v := range a {
				l, ok := v.([]any)
				if !ok {
					return nil, errorf("concat() needs all strings or all lists, not %s", typeName(v))
				}
				out = append(out, l...)
			}
			if out == nil {
				out = []any{}
			}
			return out, x.charge(n, len(out))
		}),
		fn("contains", 2, 2, func(x *evaluator, n *node, a []any) (any, error) {
			return x.contains(n, a[0], a[1])
		}),
		fn("containsKey", 2, 2, func(x *evaluator, n *node, a []any) (any, error) {
			m, ok := a[0].(map[string]any)
			if !ok {
				return nil, errorf("containsKey() needs a dict, not %s", typeName(a[0]))
			}
			k, ok := a[1].(string)
			if !ok {
				return false, nil
			}
			_, found := m[k]
			return found, nil
		}),
		fn("containsValue", 2, 2, func(x *evaluator, n *node, a []any) (any, error) {
			m, ok := a[0].(map[string]any)
			if !ok {
				return nil, errorf("containsValue() needs a dict, not %s", typeName(a[0]))
			}
			for _, v := range m {
				if equal(v, a[1]) {
					return true, nil
				}
			}
			return false, x.charge(n, len(m))
		}),
		fn("get", 2, 3, func(x *evaluator, n *node, a []any) (any, error) {
			m, ok := a[0].(map[string]any)
			if !ok {
				return nil, errorf("get() needs a dict, not %s", typeName(a[0]))
			}
			if v, ok := m[keyString(a[1])]; ok {
				return v, nil
			}
			if len(a) == 3 {
				return a[2], nil
			}
			return nil, nil
		}),
		fn("distinct", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			l, err := iterable("distinct", a[0])
			if err != nil {
				return nil, err
			}
			return x.distinct(n, l, nil)
		}),
		fn("reverse", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			if s, ok := a[0].(string); ok {
				r := []rune(s)
				slices.Reverse(r)
				return string(r), nil
			}
			l, err := asList("reverse", a[0])
			if err != nil {
				return nil, err
			}
			out := slices.Clone(l)
			slices.Reverse(out)
			return out, x.charge(n, len(l))
		}),
		fn("indexOf", 2, 3, func(x *evaluator, n *node, a []any) (any, error) {
			if s, ok := a[0].(string); ok {
				sub, err := asString("indexOf", a[1])
				if err != nil {
					return nil, err
				}
				var start int64
				if len(a) == 3 {
					if start, err = asInt("indexOf", a[2]); err != nil {
						return nil, err
					}
				}
				r := []rune(s)
				if start < 0 {
					start = max(0, start+int64(len(r)))
				}
				start = min(start, int64(len(r)))
				i := strings.Index(string(r[start:]), sub)
				if i < 0 {
					return int64(-1), nil
				}
				return start + int64(utf8.RuneCountInString(string(r[start:])[:i])), nil
			}
			if len(a) == 3 {
				return nil, errorf("indexOf() takes a start position only for strings")
			}
			l, err := asList("indexOf", a[0])
			if err != nil {
				return nil, err
			}
			for i, e := range l {
				if equal(e, a[1]) {
					return int64(i), nil
				}
			}
			return int64(-1), x.charge(n, len(l))
		}),
		fn("isEmpty", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			switch o := a[0].(type) {
			case nil:
				return true, nil
			case string:
				return o == "", nil
			case []any:
				return len(o) == 0, nil
			case map[string]any:
				return len(o) == 0, nil
			}
			return nil, errorf("isEmpty() needs a string, list or dict, not %s", typeName(a[0]))
		}),
		fn("skip", 2, 2, cut("skip", func(l []any, k int) []any { return l[k:] })),
		fn("take", 2, 2, cut("take", func(l []any, k int) []any { return l[:k] })),
		fn("flatten", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			l, err := asList("flatten", a[0])
			if err != nil {
				return nil, err
			}
			out := make([]any, 0, len(l))
			var walk func(l []any) error
			walk = func(l []any) error {
				for _, e := range l {
					if sub, ok := e.([]any); ok {
						if err := walk(sub); err != nil {
							return err
						}
						continue
					}
					out = append(out, e)
				}
				return x.charge(n, len(l))
			}
			return out, walk(l)
		}),

		// Strings.
		fn("toUpper", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			s, err := asString("toUpper", a[0])
			return strings.ToUpper(s), err
		}),
		fn("toLower", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			s, err := asString("toLower", a[0])
			return strings.ToLower(s), err
		}),
		&function{name: "replace", min: 1, max: 8, kw: true, call: func(x *evaluator, n *node, a []any, kw map[string]any, _ any) (any, error) {
			if d, ok := a[0].(DateTime); ok {
				return x.dtReplace(d, a[1:], kw)
			}
			if len(a) > 4 {
				return nil, errorf("replace() takes at most 4 arguments, %d given", len(a))
			}
			if len(a) < 2 {
				return nil, errorf("replace() takes a string, what to replace and its replacement, or a dict of replacements")
			}
			if r, ok := a[1].(map[string]any); ok {
				return x.replaceDict(n, a, r, kw)
			}
			if re, s, ok, err := regexCall("replace", a); ok {
				if err != nil || len(a) < 3 {
					return nil, cmpOr(err, errorf("replace() of a regex needs a replacement"))
				}
				repl, err := asString("replace", a[2])
				if err != nil {
					return nil, err
				}
				count := int64(0)
				if len(a) == 4 {
					if count, err = asInt("replace", a[3]); err != nil {
						return nil, err
					}
				}
				if err := x.room(n, len(s)*(len(repl)+1)); err != nil {
					return nil, err
				}
				return replaceRegex(re, s, repl, count), nil
			}
			if len(a) < 3 {
				return nil, errorf("replace() takes a string, what to replace and its replacement, or a dict of replacements")
			}
			s, err := asString("replace", a[0])
			if err != nil {
				return nil, err
			}
			old, err := asString("replace", a[1])
			if err != nil {
				return nil, err
			}
			repl, err := x.str(n, a[2])
			if err != nil {
				return nil, err
			}
			count := int64(-1)
			if len(a) == 4 {
				if count, err = asInt("replace", a[3]); err != nil {
					return nil, err
				}
			}
			// The result's size is known before it is built.
			k := int64(strings.Count(s, old))
			if count >= 0 {
				k = min(k, count)
			}
			if err := x.roomFor(n, int64(len(repl)), k); err != nil {
				return nil, err
			}
			if err := x.room(n, len(s)+int(k)*len(repl)); err != nil {
				return nil, err
			}
			return strings.Replace(s, old, repl, int(count)), nil
		}},
		fn("split", 1, 3, func(x *evaluator, n *node, a []any) (any, error) {
			if re, s, ok, err := regexCall("split", a); ok {
				if err != nil {
					return nil, err
				}
				limit := int64(0)
				if len(a) == 3 {
					if limit, err = asInt("split", a[2]); err != nil {
						return nil, err
					}
				}
				k := -1
				if limit > 0 {
					k = int(limit) + 1
				}
				parts := re.Split(s, k)
				out := make([]any, len(parts))
				for i, p := range parts {
					out[i] = p
				}
				return out, x.charge(n, len(out))
			}
			s, err := asString("split", a[0])
			if err != nil {
				return nil, err
			}
			limit := int64(-1)
			if len(a) == 3 {
				if limit, err = asInt("split", a[2]); err != nil {
					return nil, err
				}
			}
			var parts []string
			if len(a) < 2 || a[1] == nil {
				parts = strings.Fields(s)
				if limit >= 0 && int64(len(parts)) > limit+1 {
					// Python keeps the rest of the string after maxsplit splits.
					rest := s
					parts = parts[:0]
					for range limit {
						rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
						i := strings.IndexFunc(rest, unicode.IsSpace)
						parts = append(parts, rest[:i])
						rest = rest[i:]
					}
					parts = append(parts, strings.TrimLeftFunc(rest, unicode.IsSpace))
				}
			} else {
				sep, err := asString("split", a[1])
				if err != nil {
					return nil, err
				}
				if sep == "" {
					return nil, errorf("split(): empty separator")
				}
				n := -1
				if limit >= 0 {
					n = int(limit) + 1
				}
				parts = strings.SplitN(s, sep, n)
			}
			out := make([]any, len(parts))
			for i, p := range parts {
				out[i] = p
			}
			return out, x.charge(n, len(out))
		}),
		&function{name: "format", min: 1, max: -1, kw: true, call: func(x *evaluator, n *node, a []any, kw map[string]any, _ any) (any, error) {
			if d, ok := a[0].(DateTime); ok && len(a) == 2 {
				f, err := asString("format", a[1])
				if err != nil {
					return nil, err
				}
				return strftime(d.T, f)
			}
			f, err := asString("format", a[0])
			if err != nil {
				return nil, err
			}
			return x.pyFormat(n, f, a[1:], kw)
		}},
		fn("trim", 1, 2, func(x *evaluator, n *node, a []any) (any, error) {
			s, err := asString("trim", a[0])
			if err != nil {
				return nil, err
			}
			if len(a) == 2 && a[1] != nil {
				chars, err := asString("trim", a[1])
				if err != nil {
					return nil, err
				}
				return strings.Trim(s, chars), nil
			}
			return strings.TrimSpace(s), nil
		}),
		fn("startsWith", 2, -1, affix("startsWith", strings.HasPrefix)),
		fn("endsWith", 2, -1, affix("endsWith", strings.HasSuffix)),
		fn("abs", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			switch o := a[0].(type) {
			case int64:
				if o < 0 {
					if o == math.MinInt64 {
						return nil, x.overflow(n, fmt.Sprintf("abs(%d)", o))
					}
					return -o, nil
				}
				return o, nil
			case float64:
				return math.Abs(o), nil
			}
			return nil, errorf("abs() needs a number, not %s", typeName(a[0]))
		}),
		fn("round", 1, 2, func(x *evaluator, n *node, a []any) (any, error) {
			f, ok := num(a[0])
			if !ok {
				return nil, errorf("round() needs a number, not %s", typeName(a[0]))
			}
			var digits int64
			if len(a) == 2 {
				var err error
				if digits, err = asInt("round", a[1]); err != nil {
					return nil, err
				}
			}
			if _, isInt := a[0].(int64); isInt && digits >= 0 {
				return a[0], nil
			}
			p := math.Pow(10, float64(digits))
			r := math.RoundToEven(f*p) / p
			if len(a) == 1 {
				return toInt(r, false)
			}
			return r, nil
		}),
	)
	alias(common, "count", "len")
	// distinct takes a key selector in YAQL.
	jinjaOnly["distinct"] = common["distinct"]
	delete(common, "distinct")
	registerYAQLLibrary()
	limit := *common["take"]
	limit.name = "limit"
	yaqlOnly["limit"] = &limit

	// YAQL functions whose later arguments run once per element.
	predicate := func(name string, keep bool) *function {
		return lambdaFn(name, 2, 2, func(x *evaluator, n *node, a []any, cur any) (any, error) {
			l, err := asList(name, a[0])
			if err != nil {
				return nil, err
			}
			out := make([]any, 0, len(l))
			for _, e := range l {
				v, err := x.apply(n.args[1], e)
				if err != nil {
					return nil, err
				}
				if Truthy(v) == keep {
					out = append(out, e)
				}
			}
			return out, nil
		})
	}
	order := func(name string, desc bool, min int) *function {
		return lambdaFn(name, min, 2, func(x *evaluator, n *node, a []any, cur any) (any, error) {
			l, err := asList(name, a[0])
			if err != nil {
				return nil, err
			}
			var keys []any
			if len(n.args) > 1 {
				keys = make([]any, len(l))
				for i, e := range l {
					if keys[i], err = x.apply(n.args[1], e); err != nil {
						return nil, err
					}
				}
			}
			return x.sortList(n, l, keys, desc)
		})
	}
	quantifier := func(name string, all bool) *function {
		return lambdaFn(name, 1, 2, func(x *evaluator, n *node, a []any, cur any) (any, error) {
			l, err := asList(name, a[0])
			if err != nil {
				return nil, err
			}
			for _, e := range l {
				v := e
				if len(n.args) > 1 {
					if v, err = x.apply(n.args[1], e); err != nil {
						return nil, err
					}
				} else if err := x.charge(n, 1); err != nil {
					return nil, err
				}
				if Truthy(v) != all {
					return !all, nil
				}
			}
			return all, nil
		})
	}
	register(yaqlOnly,
		lambdaFn("select", 2, 2, func(x *evaluator, n *node, a []any, cur any) (any, error) {
			l, err := asList("select", a[0])
			if err != nil {
				return nil, err
			}
			out := make([]any, len(l))
			for i, e := range l {
				if out[i], err = x.apply(n.args[1], e); err != nil {
					return nil, err
				}
			}
			return out, nil
		}),
		predicate("where", true),
		predicate("filter", true),
		order("orderBy", false, 2),
		order("orderByDescending", true, 2),
		order("sort", false, 1),
		quantifier("any", false),
		quantifier("all", true),
	)

	// Python methods that Jinja templates call on values.
	register(jinjaOnly,
		fn("upper", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			s, err := asString("upper", a[0])
			return strings.ToUpper(s), err
		}),
		fn("lower", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			s, err := asString("lower", a[0])
			return strings.ToLower(s), err
		}),
		fn("strip", 1, 2, common["trim"].call2()),
		fn("startswith", 2, 2, common["startsWith"].call2()),
		fn("endswith", 2, 2, common["endsWith"].call2()),
	)
	register(jinjaOnly, func() *function { f := *yaqlOnly["sort"]; f.lambda = 0; return &f }())

	// Jinja filters. Library functions are filters too (value first).
	register(filters,
		&function{name: "default", min: 1, max: 3, kw: true, raw: true, call: func(x *evaluator, n *node, a []any, kw map[string]any, _ any) (any, error) {
			var def any = ""
			if len(a) > 1 {
				def = a[1]
			}
			boolean := len(a) > 2 && Truthy(a[2]) || Truthy(kw["boolean"])
			if _, ok := a[0].(*undefined); ok || boolean && !Truthy(a[0]) {
				return def, nil
			}
			return a[0], nil
		}},
		fn("length", 1, 1, common["len"].call2()),
		fn("join", 1, 2, func(x *evaluator, n *node, a []any) (any, error) {
			l, err := iterable("join", a[0])
			if err != nil {
				return nil, err
			}
			sep := ""
			if len(a) == 2 {
				if sep, err = asString("join", a[1]); err != nil {
					return nil, err
				}
			}
			return x.join(n, l, sep)
		}),
		fn("upper", 1, 1, jinjaOnly["upper"].call2()),
		fn("lower", 1, 1, jinjaOnly["lower"].call2()),
		fn("int", 1, 2, func(x *evaluator, n *node, a []any) (any, error) {
			i, err := toInt(a[0], true)
			if err != nil {
				if len(a) == 2 {
					return a[1], nil
				}
				return int64(0), nil
			}
			return i, nil
		}),
		fn("float", 1, 2, func(x *evaluator, n *node, a []any) (any, error) {
			f, err := toFloatValue(a[0])
			if err != nil {
				if len(a) == 2 {
					return a[1], nil
				}
				return 0.0, nil
			}
			return f, nil
		}),
		fn("string", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			return x.render(n, a[0])
		}),
		fn("tojson", 1, 2, func(x *evaluator, n *node, a []any) (any, error) {
			indent := ""
			if len(a) == 2 {
				k, err := asInt("tojson", a[1])
				if err != nil {
					return nil, err
				}
				indent = strings.Repeat(" ", int(max(0, min(k, 16))))
			}
			return x.renderJSON(n, a[0], indent, true)
		}),
		fn("first", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			l, err := iterable("first", a[0])
			if err != nil {
				return nil, err
			}
			if len(l) == 0 {
				return &undefined{msg: "No first item, sequence was empty."}, nil
			}
			return l[0], nil
		}),
		fn("last", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			l, err := iterable("last", a[0])
			if err != nil {
				return nil, err
			}
			if len(l) == 0 {
				return &undefined{msg: "No last item, sequence was empty."}, nil
			}
			return l[len(l)-1], nil
		}),
		fn("list", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			l, err := iterable("list", a[0])
			return slices.Clone(l), err
		}),
		&function{name: "sort", min: 1, max: 2, kw: true, call: func(x *evaluator, n *node, a []any, kw map[string]any, _ any) (any, error) {
			l, err := iterable("sort", a[0])
			if err != nil {
				return nil, err
			}
			desc := len(a) == 2 && Truthy(a[1]) || Truthy(kw["reverse"])
			if attr, ok := kw["attribute"].(string); ok {
				keys := make([]any, len(l))
				for i, e := range l {
					if m, ok := e.(map[string]any); ok {
						keys[i] = m[attr]
					}
				}
				return x.sortList(n, l, keys, desc)
			}
			return x.sortList(n, l, nil, desc)
		}},
		fn("unique", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			l, err := iterable("unique", a[0])
			if err != nil {
				return nil, err
			}
			return x.distinct(n, l, nil)
		}),
		fn("replace", 3, 4, common["replace"].call2()),
		fn("trim", 1, 2, common["trim"].call2()),
		fn("capitalize", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			s, err := asString("capitalize", a[0])
			if err != nil || s == "" {
				return s, err
			}
			r, size := utf8.DecodeRuneInString(s)
			return string(unicode.ToUpper(r)) + strings.ToLower(s[size:]), nil
		}),
	)
	register(filters,
		&function{name: "map", min: 1, max: -1, kw: true, call: func(x *evaluator, n *node, a []any, kw map[string]any, _ any) (any, error) {
			l, err := iterable("map", a[0])
			if err != nil {
				return nil, err
			}
			out := make([]any, len(l))
			if attr, ok := kw["attribute"]; ok {
				for i, e := range l {
					if out[i], err = x.attrPath(n, e, attr, kw); err != nil {
						return nil, err
					}
				}
				return out, x.charge(n, len(l))
			}
			if len(a) < 2 {
				return nil, errorf("map() needs a filter name or attribute=")
			}
			name, err := asString("map", a[1])
			if err != nil {
				return nil, err
			}
			f := lookupFilter(name)
			if f == nil {
				return nil, errorf("No filter named %q", name)
			}
			for i, e := range l {
				args := append([]any{e}, a[2:]...)
				if out[i], err = f.call(x, n, args, nil, nil); err != nil {
					return nil, err
				}
			}
			return out, x.charge(n, len(l))
		}},
		selectFilter("select", false, false),
		selectFilter("reject", true, false),
		selectFilter("selectattr", false, true),
		selectFilter("rejectattr", true, true),
		fn("round", 1, 2, func(x *evaluator, n *node, a []any) (any, error) {
			f, ok := num(a[0])
			if !ok {
				return nil, errorf("round() needs a number, not %s", typeName(a[0]))
			}
			var digits int64
			if len(a) == 2 {
				var err error
				if digits, err = asInt("round", a[1]); err != nil {
					return nil, err
				}
			}
			p := math.Pow(10, float64(digits))
			return math.Round(f*p) / p, nil
		}),
	)
	alias(filters, "d", "default")
	alias(filters, "count", "length")

	register(jinjaTests,
		fn("defined", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			_, undef := a[0].(*undefined)
			return !undef, nil
		}),
		fn("undefined", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			_, undef := a[0].(*undefined)
			return undef, nil
		}),
		fn("none", 1, 1, func(x *evaluator, n *node, a []any) (any, error) { return a[0] == nil, nil }),
		fn("string", 1, 1, func(x *evaluator, n *node, a []any) (any, error) { _, ok := a[0].(string); return ok, nil }),
		fn("number", 1, 1, func(x *evaluator, n *node, a []any) (any, error) { _, ok := num(a[0]); return ok, nil }),
		fn("integer", 1, 1, func(x *evaluator, n *node, a []any) (any, error) { _, ok := a[0].(int64); return ok, nil }),
		fn("float", 1, 1, func(x *evaluator, n *node, a []any) (any, error) { _, ok := a[0].(float64); return ok, nil }),
		fn("boolean", 1, 1, func(x *evaluator, n *node, a []any) (any, error) { _, ok := a[0].(bool); return ok, nil }),
		fn("mapping", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			_, ok := a[0].(map[string]any)
			return ok, nil
		}),
		fn("sequence", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			switch a[0].(type) {
			case []any, string, map[string]any:
				return true, nil
			}
			return false, nil
		}),
		fn("true", 1, 1, func(x *evaluator, n *node, a []any) (any, error) { return a[0] == true, nil }),
		fn("false", 1, 1, func(x *evaluator, n *node, a []any) (any, error) { return a[0] == false, nil }),
		fn("even", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			i, err := asInt("even", a[0])
			return i%2 == 0, err
		}),
		fn("odd", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			i, err := asInt("odd", a[0])
			return i%2 != 0, err
		}),
		fn("divisibleby", 2, 2, func(x *evaluator, n *node, a []any) (any, error) {
			i, err := asInt("divisibleby", a[0])
			if err != nil {
				return nil, err
			}
			d, err := asInt("divisibleby", a[1])
			if err != nil || d == 0 {
				return false, err
			}
			return i%d == 0, nil
		}),
		fn("in", 2, 2, func(x *evaluator, n *node, a []any) (any, error) { return x.contains(n, a[1], a[0]) }),
	)
	alias(jinjaTests, "iterable", "sequence")

}

// replaceDict is replace() with a dict: each key replaced by its value
// (both as str() gives them), count times each at most. Python replaces in
// the order the dict was written, which a Go map does not keep: the
// longest keys go first (then in key order), so that a key is not cut by
// a shorter one it starts with.
func (x *evaluator) replaceDict(n *node, a []any, r map[string]any, kw map[string]any) (any, error) {
	s, err := asString("replace", a[0])
	if err != nil {
		return nil, err
	}
	count := int64(-1)
	if v, ok := kw["count"]; ok {
		a = append(a[:2:2], v)
	}
	if len(a) > 2 {
		if count, err = asInt("replace", a[2]); err != nil {
			return nil, err
		}
	}
	keys := sortedKeys(r)
	slices.SortStableFunc(keys, func(a, b string) int { return len(b) - len(a) })
	for _, k := range keys {
		repl, err := x.str(n, r[k])
		if err != nil {
			return nil, err
		}
		times := int64(strings.Count(s, k))
		if count >= 0 {
			times = min(times, count)
		}
		if k == "" {
			times = int64(len(s)) + 1
		}
		if err := x.room(n, len(s)+int(times)*len(repl)); err != nil {
			return nil, err
		}
		s = strings.Replace(s, k, repl, int(count))
	}
	return s, x.charge(n, len(r))
}

// yaqlExecutions is executions(id, root_execution_id, state, from_time,
// to_time), by position or keyword: the executions that match, as the
// engine's host reads them.
func yaqlExecutions(x *evaluator, n *node, a []any, kw map[string]any, _ any) (any, error) {
	h, err := x.host(n, "executions")
	if err != nil {
		return nil, err
	}
	names := []string{"id", "root_execution_id", "state", "from_time", "to_time"}
	vals := make([]any, len(names))
	copy(vals, a)
	for i, nm := range names {
		if v, ok := kw[nm]; ok {
			vals[i] = v
		}
	}
	for k := range kw {
		if !slices.Contains(names, k) {
			return nil, errorf("executions() takes no argument %s", k)
		}
	}
	var q ExecutionsQuery
	for i, dst := range []*string{&q.ID, &q.RootID, &q.State} {
		if vals[i] != nil {
			if *dst, err = asString("executions", vals[i]); err != nil {
				return nil, err
			}
		}
	}
	for i, dst := range []*time.Time{&q.From, &q.To} {
		switch v := vals[3+i].(type) {
		case nil:
		case DateTime:
			*dst = v.T
		case string:
			if *dst, err = parseDatetime(v); err != nil {
				return nil, err
			}
		default:
			return nil, errorf("executions(): %s must be a datetime or its text, not %s", names[3+i], typeName(v))
		}
	}
	l, err := h.Executions(q)
	if err != nil {
		return nil, err
	}
	if l == nil {
		l = []any{}
	}
	return l, nil
}

// yaqlIterators are the YAQL functions that return an iterator rather than
// a list: list() takes the elements of such an argument, not the argument.
var yaqlIterators = map[string]bool{
	"range": true, "select": true, "where": true, "filter": true, "skip": true, "take": true,
	"limit": true, "distinct": true, "reverse": true, "concat": true, "enumerate": true,
	"selectMany": true, "flatten": true, "groupBy": true, "append": true, "takeWhile": true,
	"skipWhile": true, "delete": true,
}

// listFn is list(). In Jinja it is Python's list(x): the elements of x. In
// YAQL it is a list of its arguments, but an argument that YAQL computes
// as an iterator (range(), select(), where(), `$.list.key`, ...) gives its
// elements, as YAQL's list() flattens iterators: list(range(0, 3)) is
// [0, 1, 2] and list($.users.name) the names, while list($.l) is [$.l].
func listFn(x *evaluator, n *node, _ []any, _ map[string]any, cur any) (any, error) {
	if x.d == jinja {
		args := make([]any, len(n.args))
		for i, a := range n.args {
			v, err := x.evalDef(a, cur)
			if err != nil {
				return nil, err
			}
			args[i] = v
		}
		if len(args) == 1 {
			l, err := iterable("list", args[0])
			if err != nil {
				return nil, &failure{pos: n.pos, msg: err.Error(), err: err}
			}
			return x.built(n, slices.Clone(l))
		}
		return x.built(n, args)
	}
	out := make([]any, 0, len(n.args))
	for _, a := range n.args {
		if a.op == nPair {
			return nil, x.fail(a, "list() takes no keyword arguments")
		}
		v, iter, err := x.listArg(a, cur)
		if err != nil {
			return nil, err
		}
		if l, ok := v.([]any); ok && iter {
			if err := x.charge(n, len(l)); err != nil {
				return nil, err
			}
			out = append(out, l...)
			continue
		}
		out = append(out, v)
	}
	return x.built(n, out)
}

// listArg evaluates an argument of YAQL's list() and reports whether YAQL
// would compute it as an iterator.
func (x *evaluator) listArg(a *node, cur any) (any, bool, error) {
	switch {
	case a.op == nAttr || a.op == nAttrSafe:
		// `.key` of a list maps the list: an iterator.
		recv, err := x.evalDef(a.args[0], cur)
		if err != nil {
			return nil, false, err
		}
		v, err := x.attr(a, recv, a.name, a.op == nAttrSafe)
		_, iter := recv.([]any)
		return v, iter, err
	case a.op == nArrow:
		v, err := x.evalDef(a, cur)
		return v, isIteratorNode(a.args[1]), err
	}
	v, err := x.evalDef(a, cur)
	return v, isIteratorNode(a), err
}

// isIteratorNode reports whether an expression is a call that YAQL
// computes as an iterator.
func isIteratorNode(a *node) bool {
	return a.op == nCall && a.fn != nil && yaqlIterators[a.name]
}

// call2 adapts a function's implementation for reuse under another name.
func (f *function) call2() simpleFn {
	return func(x *evaluator, n *node, a []any) (any, error) { return f.call(x, n, a, nil, nil) }
}

// attrPath reads attribute (a name, or dotted names) of v for map and
// selectattr; a missing key gives kw["default"] or null.
func (x *evaluator) attrPath(n *node, v any, attr any, kw map[string]any) (any, error) {
	name, ok := attr.(string)
	if !ok {
		return x.index(n, v, attr)
	}
	for part := range strings.SplitSeq(name, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return kw["default"], nil
		}
		if v, ok = m[part]; !ok {
			return kw["default"], nil
		}
	}
	return v, nil
}

// selectFilter builds Jinja's select, reject, selectattr and rejectattr:
// keep the elements (or the elements whose attribute) pass a test, or are
// truthy when no test is named.
func selectFilter(name string, reject, byAttr bool) *function {
	min := 1
	if byAttr {
		min = 2
	}
	return fn(name, min, -1, func(x *evaluator, n *node, a []any) (any, error) {
		l, err := iterable(name, a[0])
		if err != nil {
			return nil, err
		}
		rest := a[1:]
		var attr any
		if byAttr {
			attr, rest = rest[0], rest[1:]
		}
		var test *function
		if len(rest) > 0 {
			tn, err := asString(name, rest[0])
			if err != nil {
				return nil, err
			}
			if test = jinjaTests[tn]; test == nil {
				return nil, errorf("No test named %q", tn)
			}
			rest = rest[1:]
		}
		out := make([]any, 0, len(l))
		for _, e := range l {
			v := e
			if byAttr {
				if v, err = x.attrPath(n, e, attr, nil); err != nil {
					return nil, err
				}
			}
			ok := Truthy(v)
			if test != nil {
				r, err := test.call(x, n, append([]any{v}, rest...), nil, nil)
				if err != nil {
					return nil, err
				}
				ok = Truthy(r)
			}
			if ok != reject {
				out = append(out, e)
			}
		}
		return out, x.charge(n, len(l))
	})
}

func isList(v any) bool {
	_, ok := v.([]any)
	return ok
}

// affix builds startsWith and endsWith: true when the string has any of
// the given prefixes (suffixes).
func affix(name string, has func(s, p string) bool) func(x *evaluator, n *node, a []any) (any, error) {
	return func(x *evaluator, n *node, a []any) (any, error) {
		s, err := asString(name, a[0])
		if err != nil {
			return nil, err
		}
		for _, v := range a[1:] {
			p, err := asString(name, v)
			if err != nil {
				return nil, err
			}
			if has(s, p) {
				return true, nil
			}
		}
		return false, nil
	}
}

// end builds first and last: the element pick chooses, or the default
// (second argument) when the collection is empty.
func end(name string, pick func(l []any) any) func(x *evaluator, n *node, a []any) (any, error) {
	return func(x *evaluator, n *node, a []any) (any, error) {
		l, err := iterable(name, a[0])
		if err != nil {
			return nil, err
		}
		if len(l) == 0 {
			if len(a) == 2 {
				return a[1], nil
			}
			return nil, errorf("%s(): the collection is empty", name)
		}
		return pick(l), nil
	}
}

// cut builds skip and take: the part of a list that part keeps, given a
// count clamped to the list's length.
func cut(name string, part func(l []any, k int) []any) func(x *evaluator, n *node, a []any) (any, error) {
	return func(x *evaluator, n *node, a []any) (any, error) {
		l, err := asList(name, a[0])
		if err != nil {
			return nil, err
		}
		k, err := asInt(name, a[1])
		if err != nil {
			return nil, err
		}
		out := slices.Clone(part(l, int(max(0, min(k, int64(len(l)))))))
		return out, x.charge(n, len(out))
	}
}
