package expr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func decodeJSON(t testing.TB, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return Normalize(v)
}

func wrap(d dialect, e string) string {
	if d == whole {
		return e
	}
	if d == jinja {
		return "{{ " + e + " }}"
	}
	return "<% " + e + " %>"
}

// fakeHost answers the engine functions from fixed data.
type fakeHost struct {
	tasks map[string]any
	cur   string
	err   error
}

func (h *fakeHost) Task(name string) (any, error) {
	if h.err != nil {
		return nil, h.err
	}
	if name == "" {
		name = h.cur
	}
	t, ok := h.tasks[name]
	if !ok {
		return nil, nil
	}
	return t, nil
}

func (h *fakeHost) Tasks(execID string, recursive bool, state string) ([]any, error) {
	var out []any
	for _, name := range sortedKeys(h.tasks) {
		t := h.tasks[name].(map[string]any)
		if state == "" || t["state"] == state {
			out = append(out, t)
		}
	}
	return out, nil
}

func (h *fakeHost) Execution() any {
	return map[string]any{"id": "ex-1", "name": "wf", "input": map[string]any{"x": int64(1)}}
}

func (h *fakeHost) Env() any     { return map[string]any{"region": "eu"} }
func (h *fakeHost) UUID() string { return "00000000-0000-4000-8000-000000000001" }

func (h *fakeHost) Global(name string) (any, error) {
	if name == "g" {
		return "global value", nil
	}
	return nil, nil
}

func (h *fakeHost) Now() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 600000000, time.UTC) }

func (h *fakeHost) Executions(q ExecutionsQuery) ([]any, error) {
	all := []any{
		map[string]any{"id": "e1", "state": "SUCCESS"},
		map[string]any{"id": "e2", "state": "RUNNING"},
	}
	var out []any
	for _, e := range all {
		m := e.(map[string]any)
		if (q.ID == "" || m["id"] == q.ID) && (q.State == "" || m["state"] == q.State) {
			out = append(out, e)
		}
	}
	return out, nil
}

func newHost() *fakeHost {
	return &fakeHost{cur: "build", tasks: map[string]any{
		"build": map[string]any{"id": "t1", "name": "build", "state": "SUCCESS", "state_info": nil,
			"result": map[string]any{"x": int64(5), "items": []any{"a", "b"}}, "published": map[string]any{"p": true}},
		"test": map[string]any{"id": "t2", "name": "test", "state": "ERROR", "state_info": "boom",
			"result": nil, "published": map[string]any{}},
	}}
}

func evalString(t *testing.T, src string, data any) (any, error) {
	t.Helper()
	tp, err := Compile(src)
	if err != nil {
		return nil, err
	}
	return tp.Eval(&Context{Data: data, Host: newHost()})
}

func TestReference(t *testing.T) {
	t.Parallel()
	data := decodeJSON(t, referenceData)
	for _, tc := range slices.Concat(referenceCases, templateCases, iteratorCases, timeCases, regexCases, moreCases) {
		t.Run(langName(tc.lang)+"/"+tc.expr, func(t *testing.T) {
			t.Parallel()
			got, err := evalString(t, wrap(tc.lang, tc.expr), data)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("got %#v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if diff := cmp.Diff(decodeJSON(t, tc.want), got); diff != "" {
				t.Errorf("value mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

var testData = map[string]any{
	"a":   map[string]any{"b": int64(1), "c": map[string]any{"d": "deep"}},
	"l":   []any{int64(1), int64(2), int64(3)},
	"n":   int64(7),
	"f":   1.5,
	"s":   "Hello",
	"e":   []any{},
	"ld":  []any{map[string]any{"n": int64(2), "k": "b"}, map[string]any{"n": int64(1), "k": "a"}},
	"ok":  true,
	"nil": nil,
	"js":  `{"x": [1, 2.5, "y"], "z": null}`,
	"__env": map[string]any{
		"region": "eu",
	},
}

func TestEval(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want any
	}{
		// Data access.
		{"yaql root", "<% $ %>", testData},
		{"yaql path", "<% $.a.c.d %>", "deep"},
		{"yaql index key", "<% $.a['b'] %>", int64(1)},
		{"yaql index dq", `<% $.a["c"]["d"] %>`, "deep"},
		{"yaql list attr maps", "<% $.ld.k %>", []any{"b", "a"}},
		{"yaql safe nav", "<% $.nil?.x %>", nil},
		{"yaql unknown var is null", "<% $nope %>", nil},
		{"yaql env var", "<% $__env.region %>", "eu"},
		{"jinja root index", "{{ _['s'] }}", "Hello"},
		{"jinja nested", "{{ _.a.c['d'] }}", "deep"},
		{"jinja dunder name", "{{ __env.region }}", "eu"},
		// Literals.
		{"yaql list literal", "<% [1, 'a', null, true] %>", []any{int64(1), "a", nil, true}},
		{"yaql dict literal", "<% {a => 1, 'b c' => [2]} %>", map[string]any{"a": int64(1), "b c": []any{int64(2)}}},
		{"yaql bare name is string", "<% foo %>", "foo"},
		{"yaql backtick", "<% `raw\\n` %>", `raw\n`},
		{"yaql escapes", `<% 'a\'b\n' %>`, "a'b\n"},
		{"jinja dict literal", "{{ {'a': [1, 2], 'b': {'c': none}} }}", map[string]any{"a": []any{int64(1), int64(2)}, "b": map[string]any{"c": nil}}},
		{"jinja tuple", "{{ (1, 'x') }}", []any{int64(1), "x"}},
		{"jinja empty tuple", "{{ () }}", []any{}},
		// Arithmetic and operators.
		{"yaql int division floors", "<% 7 / 2 %>", int64(3)},
		{"yaql float division", "<% 7 / 2.0 %>", 3.5},
		{"yaql precedence", "<% 1 + 2 * 3 - 4 %>", int64(3)},
		{"yaql parens", "<% (1 + 2) * 3 %>", int64(9)},
		{"yaql unary binds tighter than mul", "<% -2 * 3 %>", int64(-6)},
		{"yaql not binds looser than compare", "<% not 1 = 2 %>", true},
		{"yaql string concat", "<% $.s + ' world' %>", "Hello world"},
		{"yaql list concat", "<% [1] + [2] %>", []any{int64(1), int64(2)}},
		{"yaql in dict keys", "<% 'b' in $.a %>", true},
		{"yaql in string", "<% 'ell' in $.s %>", true},
		{"yaql and returns operand", "<% $.ok and 'yes' %>", "yes"},
		{"yaql or short circuits", "<% $.ok or $.missing.x %>", true},
		{"yaql and short circuits", "<% $.nil and $.missing.x %>", nil},
		{"yaql regex", "<% $.s =~ '^H.l+o$' %>", true},
		{"yaql list compare", "<% [1, 2] < [1, 3] %>", true},
		{"jinja true division", "{{ 6 / 3 }}", 2.0},
		{"jinja floor division", "{{ 7 // 2 }}", int64(3)},
		{"jinja float floor division", "{{ 7.5 // 2 }}", 3.0},
		{"jinja modulo", "{{ -7 % 3 }}", int64(2)},
		{"jinja power", "{{ 2 ** 10 }}", int64(1024)},
		{"jinja negative power", "{{ 2 ** -1 }}", 0.5},
		{"jinja concat", "{{ 'n=' ~ _.n ~ ' ' ~ _.l }}", "n=7 [1, 2, 3]"},
		{"jinja not in", "{{ 4 not in _.l }}", true},
		{"jinja conditional", "{{ 'big' if _.n > 5 else 'small' }}", "big"},
		{"jinja conditional without else", "{{ 'big' if _.n > 50 }}", nil},
		{"jinja filter binds tighter than compare", "{{ _.l | length > 2 }}", true},
		{"jinja unary minus with filter", "{{ -_.n | abs }}", int64(7)},
		{"jinja slice", "{{ _.l[1:] }}", []any{int64(2), int64(3)}},
		{"jinja negative slice", "{{ _.s[-3:] }}", "llo"},
		{"jinja string index", "{{ _.s[0] }}", "H"},
		// YAQL variables and branching.
		{"yaql let scope ends with its arrow", "<% [let(x => 1) -> $x, $x] %>", []any{int64(1), nil}},
		{"yaql let sees outer let", "<% let(x => 1) -> let(x => 2, y => $x) -> [$x, $y] %>", []any{int64(2), int64(1)}},
		{"yaql let in lambda sees element", "<% $.l.select(let(d => $ * 2) -> $d + $) %>", []any{int64(3), int64(6), int64(9)}},
		{"yaql dollar2 of outer aggregate", "<% [[1], [2]].aggregate($1 + $2.select($2), []) %>", []any{[]any{int64(1)}, []any{int64(2)}}},
		{"yaql switch in where", "<% $.l.where(switch($ = 2 => false, true => true)) %>", []any{int64(1), int64(3)}},
		{"yaql switch keyword key is a true string", "<% switch(a => 1) %>", int64(1)},
		{"yaql mapping key renders", "<% dict(1 => a, true => b, null => c, 1.5 => d) %>", map[string]any{"1": "a", "true": "b", "null": "c", "1.5": "d"}},
		{"yaql set keeps the receiver", "<% [$.a.set(b => 9), $.a.b] %>", []any{map[string]any{"b": int64(9), "c": map[string]any{"d": "deep"}}, int64(1)}},
		{"yaql set constructor", "<% set(1, 2, 1) %>", []any{int64(1), int64(2)}},
		// Engine functions.
		{"yaql task result", "<% task(build).result.x %>", int64(5)},
		{"yaql task quoted", "<% task('test').state_info %>", "boom"},
		{"yaql current task", "<% task().published.p %>", true},
		{"yaql missing task is null", "<% task(nope) %>", nil},
		{"yaql tasks by state", "<% tasks(null, false, 'ERROR').name %>", []any{"test"}},
		{"yaql execution", "<% execution().input.x %>", int64(1)},
		{"yaql env", "<% env().region %>", "eu"},
		{"yaql uuid", "<% uuid() %>", "00000000-0000-4000-8000-000000000001"},
		{"jinja task", "{{ task('build').result.items | join('-') }}", "a-b"},
		{"jinja tasks kw", "{{ tasks(state='SUCCESS') | length }}", int64(1)},
		{"jinja execution", "{{ execution().id }}", "ex-1"},
		// Library, method and function form.
		{"len function", "<% len($.l) %>", int64(3)},
		{"len method", "<% $.l.len() %>", int64(3)},
		{"len string runes", "<% len('héé') %>", int64(3)},
		{"count", "<% $.a.count() %>", int64(2)},
		{"str dict", "<% str($.a) %>", "{'b': 1, 'c': {'d': 'deep'}}"},
		{"str null", "<% str(null) %>", "null"},
		{"jinja str", "{{ str(none) }}", "None"},
		{"int from string", "<% int(' 42 ') %>", int64(42)},
		{"float", "<% float(3) %>", 3.0},
		{"bool", "<% bool([]) %>", false},
		{"keys sorted", "<% $.a.keys() %>", []any{"b", "c"}},
		{"keys function", "<% keys($.a) %>", []any{"b", "c"}},
		{"values", "<% values({x => 1, y => 2}) %>", []any{int64(1), int64(2)}},
		{"items", "{{ {'x': 1}.items() }}", []any{[]any{"x", int64(1)}}},
		{"dict keywords", "<% dict(a => 1, b => 2) %>", map[string]any{"a": int64(1), "b": int64(2)}},
		{"dict pairs", "<% dict([['a', 1], ['b', 2]]) %>", map[string]any{"a": int64(1), "b": int64(2)}},
		{"jinja dict kw", "{{ dict(a=1) }}", map[string]any{"a": int64(1)}},
		{"list", "<% list(1, 2) %>", []any{int64(1), int64(2)}},
		{"range", "<% range(2, 5) %>", []any{int64(2), int64(3), int64(4)}},
		{"range negative step", "<% range(3, 0, -1) %>", []any{int64(3), int64(2), int64(1)}},
		{"select", "<% $.l.select($ * 2) %>", []any{int64(2), int64(4), int64(6)}},
		{"select function form", "<% select($.l, $ + 1) %>", []any{int64(2), int64(3), int64(4)}},
		{"select nested rebinding", "<% [[1, 2], [3]].select($.select($ * 10)) %>", []any{[]any{int64(10), int64(20)}, []any{int64(30)}}},
		{"where", "<% $.ld.where($.n > 1).k %>", []any{"b"}},
		{"filter alias", "<% $.l.filter($ != 2) %>", []any{int64(1), int64(3)}},
		{"first default", "<% $.e.first('none') %>", "none"},
		{"last", "<% last($.l) %>", int64(3)},
		{"sum floats", "<% [1, 2.5].sum() %>", 3.5},
		{"min args", "<% min(3, 1, 2) %>", int64(1)},
		{"max strings", "<% ['b', 'c', 'a'].max() %>", "c"},
		{"join method", "<% $.l.join('+') %>", "1+2+3"},
		{"join string receiver", "<% ', '.join(['a', 'b']) %>", "a, b"},
		{"join function", "<% join(['x', null, true], '/') %>", "x/null/true"},
		{"concat lists", "<% concat([1], [2], [3]) %>", []any{int64(1), int64(2), int64(3)}},
		{"contains list", "<% $.l.contains(3) %>", true},
		{"contains string", "<% $.s.contains('ell') %>", true},
		{"containsKey", "<% $.a.containsKey('zz') %>", false},
		{"distinct numbers", "<% [1, 1.0, 2, '2'].distinct() %>", []any{int64(1), int64(2), "2"}},
		{"sort", "<% [3, 1, 2].sort() %>", []any{int64(1), int64(2), int64(3)}},
		{"sort by key", "<% $.ld.sort($.k).n %>", []any{int64(1), int64(2)}},
		{"orderBy", "<% $.ld.orderBy($.n).k %>", []any{"a", "b"}},
		{"orderByDescending", "<% $.l.orderByDescending($) %>", []any{int64(3), int64(2), int64(1)}},
		{"reverse", "<% $.l.reverse() %>", []any{int64(3), int64(2), int64(1)}},
		{"indexOf", "<% $.l.indexOf(9) %>", int64(-1)},
		{"isEmpty", "<% $.e.isEmpty() %>", true},
		{"any", "<% $.l.any($ > 2) %>", true},
		{"all", "<% $.l.all($ > 2) %>", false},
		{"all empty", "<% [].all() %>", true},
		{"skip take", "<% $.l.skip(1).take(1) %>", []any{int64(2)}},
		{"flatten", "<% [[1], 2, [3, [4]]].flatten() %>", []any{int64(1), int64(2), int64(3), int64(4)}},
		{"get default", "<% $.a.get(zz, 9) %>", int64(9)},
		{"json_parse", "<% json_parse($.js).x[1] %>", 2.5},
		{"json_dump", "<% json_dump({b => [1], a => 'é'}) %>", "{\n    \"a\": \"\\u00e9\",\n    \"b\": [\n        1\n    ]\n}"},
		{"yaml_dump", "<% yaml_dump({b => [1, {c => 'yes'}], a => {}}) %>", "a: {}\nb:\n- 1\n- c: 'yes'\n"},
		{"yaml_dump scalar", "<% yaml_dump(5) %>", "5\n...\n"},
		{"toUpper", "<% $.s.toUpper() %>", "HELLO"},
		{"toLower function", "<% toLower($.s) %>", "hello"},
		{"replace", "<% 'a-b-c'.replace('-', '+', 1) %>", "a+b-c"},
		{"split", "<% 'a,b,c'.split(',', 1) %>", []any{"a", "b,c"}},
		{"split whitespace", "<% ' a  b '.split() %>", []any{"a", "b"}},
		{"format positional", "<% '{0}/{1}/{0}'.format('x', 2) %>", "x/2/x"},
		{"format auto", "<% format('{} and {}', 1, [2]) %>", "1 and [2]"},
		{"format keyword", "<% '{a}{{}}'.format(a => 1) %>", "1{}"},
		{"trim", "<% '  x '.trim() %>", "x"},
		{"startsWith", "<% $.s.startsWith('He') %>", true},
		{"abs", "<% abs(-3) %>", int64(3)},
		{"round", "<% round(2.5) %>", int64(2)},
		// Jinja filters and tests.
		{"filter length", "{{ _.s | length }}", int64(5)},
		{"filter count", "{{ _.a | count }}", int64(2)},
		{"filter join default sep", "{{ ['a', 'b'] | join }}", "ab"},
		{"filter upper lower", "{{ _.s | upper | lower }}", "hello"},
		{"filter default undefined", "{{ _.missing | default('d') }}", "d"},
		{"filter default nested undefined", "{{ _.a.zz | d(0) }}", int64(0)},
		{"filter default keeps falsy", "{{ _.e | default('d') }}", []any{}},
		{"filter default boolean", "{{ _.e | default('d', true) }}", "d"},
		{"filter default boolean kw", "{{ _.nil | default('d', boolean=true) }}", "d"},
		{"filter int", "{{ '3.9' | int }}", int64(3)},
		{"filter int fallback", "{{ 'x' | int(7) }}", int64(7)},
		{"filter float", "{{ '2' | float }}", 2.0},
		{"filter string", "{{ _.ok | string }}", "True"},
		{"filter tojson", "{{ {'b': '<&>', 'a': [1.0, none]} | tojson }}", `{"a": [1.0, null], "b": "\u003c\u0026\u003e"}`},
		{"filter first last", "{{ (_.l | first) + (_.l | last) }}", int64(4)},
		{"filter list string", "{{ 'ab' | list }}", []any{"a", "b"}},
		{"filter sort reverse", "{{ _.l | sort(reverse=true) }}", []any{int64(3), int64(2), int64(1)}},
		{"filter sort attribute", "{{ (_.ld | sort(attribute='n'))[0].k }}", "a"},
		{"filter replace", "{{ 'aaa' | replace('a', 'b', 2) }}", "bba"},
		{"filter trim", "{{ ' x ' | trim }}", "x"},
		{"filter unique", "{{ [1, 1, 2] | unique | list }}", []any{int64(1), int64(2)}},
		{"filter map attribute", "{{ _.ld | map(attribute='k') | list }}", []any{"b", "a"}},
		{"filter map filter", "{{ _.l | map('string') | join(',') }}", "1,2,3"},
		{"filter select test", "{{ _.l | select('odd') | list }}", []any{int64(1), int64(3)}},
		{"filter reject", "{{ _.l | reject('odd') | list }}", []any{int64(2)}},
		{"filter selectattr", "{{ _.ld | selectattr('n', 'even') | map(attribute='k') | first }}", "b"},
		{"filter round", "{{ 2.5 | round }}", 3.0},
		{"filter capitalize", "{{ 'hELLO' | capitalize }}", "Hello"},
		{"filter library function", "{{ _.a | json_dump | length > 0 }}", true},
		{"jinja method upper", "{{ _.s.upper() }}", "HELLO"},
		{"jinja method split", "{{ 'a b'.split(' ') }}", []any{"a", "b"}},
		{"jinja method get", "{{ _.a.get('zz', 1) }}", int64(1)},
		{"jinja len function", "{{ len(_.l) }}", int64(3)},
		{"test defined", "{{ _.zz is defined }}", false},
		{"test not none", "{{ _.n is not none }}", true},
		{"test divisibleby", "{{ 9 is divisibleby(3) }}", true},
		{"test in", "{{ 2 is in(_.l) }}", true},
		{"test mapping", "{{ _.a is mapping and _.l is sequence }}", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := evalString(t, tc.src, testData)
			if err != nil {
				t.Fatalf("Eval(%q): %v", tc.src, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Eval(%q) mismatch (-want +got):\n%s", tc.src, diff)
			}
		})
	}
}

func TestEvalErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		src     string
		want    string // the whole message
		wantOff int
	}{
		{"unknown function", "<% $.x.foo() %>", `Can not evaluate YAQL expression [expression=$.x.foo(), error=key 'x' not found]`, 5},
		{"unknown method", "<% $.l.foo() %>", `Can not evaluate YAQL expression [expression=$.l.foo(), error=Unknown method "foo"]`, 7},
		{"unknown function call", "x <% nope(1) %>", `Can not evaluate YAQL expression [expression=nope(1), error=Unknown function "nope"]`, 5},
		{"missing key", "<% $.a.zz %>", `Can not evaluate YAQL expression [expression=$.a.zz, error=key 'zz' not found]`, 7},
		{"attr of int", "<% $.n.x %>", `Can not evaluate YAQL expression [expression=$.n.x, error=cannot read 'x' of integer 7]`, 7},
		{"index out of range", "<% $.l[3] %>", `Can not evaluate YAQL expression [expression=$.l[3], error=list index 3 out of range (length 3)]`, 6},
		{"type mismatch", "<% 'a' + 1 %>", `Can not evaluate YAQL expression [expression='a' + 1, error=unsupported operand types for +: string and integer]`, 7},
		{"compare mismatch", "<% 1 < 'a' %>", `Can not evaluate YAQL expression [expression=1 < 'a', error=cannot compare integer with string using <]`, 5},
		{"division by zero", "<% 1 / 0 %>", `Can not evaluate YAQL expression [expression=1 / 0, error=integer division or modulo by zero]`, 5},
		{"arity", "<% len(1, 2) %>", `Can not evaluate YAQL expression [expression=len(1, 2), error=len() takes 1 argument(s), 2 given]`, 3},
		{"bad argument", "<% len(1) %>", `Can not evaluate YAQL expression [expression=len(1), error=len() needs a string, list or dict, not integer]`, 3},
		{"first of empty", "<% [].first() %>", `Can not evaluate YAQL expression [expression=[].first(), error=first(): the collection is empty]`, 6},
		{"arrow needs let", "<% $.l.select($ -> 1) %>", `Can not evaluate YAQL expression [expression=$.l.select($ -> 1), error=the left side of "->" must be let(...) or with(...)]`, 16},
		{"let without arrow", "<% let(a => 1) %>", `Can not evaluate YAQL expression [expression=let(a => 1), error=let() is only valid on the left of "->": let(...) -> expression]`, 3},
		{"let inside let", "<% let(a => let(b => 1)) -> $a %>", `Can not evaluate YAQL expression [expression=let(a => let(b => 1)) -> $a, error=let() is only valid on the left of "->": let(...) -> expression]`, 12},
		{"mapping not allowed", "<% len($.n => 1) %>", `Can not evaluate YAQL expression [expression=len($.n => 1), error=len() takes no mapping (key => value) arguments]`, 11},
		{"switch needs mappings", "<% switch(1) %>", `Can not evaluate YAQL expression [expression=switch(1), error=switch() takes condition => value arguments]`, 10},
		{"keyword not allowed", "<% len(x => 1) %>", `Can not evaluate YAQL expression [expression=len(x => 1), error=len() takes no keyword argument x]`, 7},
		{"jinja undefined", "{{ _.zz }}", `Can not evaluate Jinja expression [expression=_.zz, error='dict object' has no attribute 'zz']`, 5},
		{"jinja undefined name", "{{ foo }}", `Can not evaluate Jinja expression [expression=foo, error='foo' is undefined]`, 3},
		{"jinja undefined in op", "{{ _.zz + 1 }}", `Can not evaluate Jinja expression [expression=_.zz + 1, error='dict object' has no attribute 'zz']`, 5},
		{"jinja unknown filter", "{{ 1 | nope }}", `Can not evaluate Jinja expression [expression=1 | nope, error=No filter named "nope"]`, 7},
		{"jinja first of empty", "{{ [] | first }}", `Can not evaluate Jinja expression [expression=[] | first, error=No first item, sequence was empty.]`, 8},
		{"no host", "<% task(x) %>", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tp, err := Compile(tc.src)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tc.src, err)
			}
			c := &Context{Data: testData, Host: newHost()}
			if tc.name == "no host" {
				c.Host = nil
			}
			_, err = tp.Eval(c)
			var ee *EvalError
			if !errors.As(err, &ee) {
				t.Fatalf("Eval(%q) = %v, want *EvalError", tc.src, err)
			}
			if tc.want == "" {
				if !strings.Contains(ee.Msg, "task() is not available") {
					t.Errorf("message %q does not name the function", ee.Msg)
				}
				return
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("message\n got %s\nwant %s", got, tc.want)
			}
			if ee.Offset != tc.wantOff {
				t.Errorf("offset = %d, want %d", ee.Offset, tc.wantOff)
			}
		})
	}
}

func TestHostError(t *testing.T) {
	t.Parallel()
	boom := errors.New("store unavailable")
	tp := MustCompile("<% task(a).result %>")
	_, err := tp.Eval(&Context{Host: &fakeHost{err: boom}})
	if !errors.Is(err, boom) {
		t.Fatalf("Eval = %v, want it to wrap %v", err, boom)
	}
}

func TestSyntaxErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		src     string
		wantOff int
		wantMsg string
	}{
		{"dangling operator", "<% 1 + %>", 7, "unexpected end of expression"},
		{"offset after text", "abc <% $.x ] %>", 11, `unexpected "]"`},
		{"second expression", "<% $.a %> and <% $.b.( %>", 21, `expected a name after "."`},
		{"double equals in yaql", "<% $.a == 1 %>", 7, `YAQL compares with "=", not "=="`},
		{"single equals in jinja", "{{ _.a = 1 }}", 7, `Jinja compares with "==", not "="`},
		{"unterminated string", "<% 'abc %>", 3, "unterminated string"},
		{"bad char", "<% $.a # %>", 7, `unexpected character '#'`},
		{"empty yaql", "<%  %>", 4, "empty expression"},
		{"empty jinja", "{{}}", 2, "empty expression"},
		{"unclosed paren", "<% len($.a %>", 11, `expected "," or ")", found end of expression`},
		{"unclosed list", "{{ [1, 2 }}", 9, `expected "," or "]", found end of expression`},
		{"jinja macro", "x {% macro m() %}y{% endmacro %}", 2, "the Jinja statement `macro` is not supported; Bora renders `if`, `for`, `set` and `raw`"},
		{"mixed syntaxes", "<% $.a %>{{ _.b }}", 9, "a string cannot mix YAQL (<% %>) and Jinja ({{ }}, {% %}) expressions"},
		{"yaql in a jinja template", "<% $.a %>{% if x %}y{% endif %}", 9, "a string cannot mix YAQL (<% %>) and Jinja ({{ }}, {% %}) expressions"},
		{"unclosed if", "x {% if a %}y", 13, "missing `{% endif %}`"},
		{"stray endfor", "x {% endfor %}", 2, "`{% endfor %}` without the statement it belongs to"},
		{"bad for", "{% for in l %}x{% endfor %}", 7, `expected a variable name, found "in"`},
		{"bad if expression", "{% if a == %}x{% endif %}", 11, "unexpected end of expression"},
		{"unclosed expression in a template", "{% if a %}{{ x{% endif %}", 10, "expression `{{` is not closed by `}}`"},
		{"unknown test", "{{ 1 is nope }}", 8, `unknown test "nope"`},
		{"integer literal too large", "{{ 99999999999999999999 }}", 3, "integer literal 99999999999999999999 is outside the 64-bit range"},
		{"float literal too large", "<% 1" + strings.Repeat("0", 400) + ".5 %>", 3, "number literal 1" + strings.Repeat("0", 400) + ".5 is too large for a float"},
		{"call on value", "{{ _.a.b(1)(2) }}", 11, "only functions and methods can be called"},
		{"mapping in a list", "<% [a => 1] %>", 6, `expected "," or "]", found "=>"`},
		{"mapping twice", "<% dict(a => 1 => 2) %>", 15, `expected "," or ")", found "=>"`},
		{"bad number", "<% 1abc %>", 4, "invalid number literal"},
		{"missing filter name", "{{ 1 | 2 }}", 7, `expected a filter name after "|"`},
		{"keyword at start", "<% and 1 %>", 3, `unexpected "and"`},
		{"jinja keyword", "{{ is }}", 3, `unexpected "is"`},
		{"multibyte char", "<% $.a ¤ %>", 7, `unexpected character '¤'`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Compile(tc.src)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile(%q) = %v, want *SyntaxError", tc.src, err)
			}
			want := &SyntaxError{Expr: tc.src, Offset: tc.wantOff, Msg: tc.wantMsg}
			if diff := cmp.Diff(want, se); diff != "" {
				t.Errorf("Compile(%q) mismatch (-want +got):\n%s", tc.src, diff)
			}
		})
	}
}

func TestSyntaxErrorInsideValue(t *testing.T) {
	t.Parallel()
	_, err := Compile(map[string]any{"ok": "<% $.a %>", "bad": []any{"fine", "x <% ( %>"}})
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("Compile = %v, want *SyntaxError", err)
	}
	if se.Expr != "x <% ( %>" || se.Offset != 7 {
		t.Errorf("got Expr=%q Offset=%d, want the failing string and offset 7", se.Expr, se.Offset)
	}
}

func TestNestingLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
	}{
		{"parens", "<% " + strings.Repeat("(", 10000) + "1" + strings.Repeat(")", 10000) + " %>"},
		{"lists", "{{ " + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + " }}"},
		{"not", "<% " + strings.Repeat("not ", 10000) + "true %>"},
		{"unary", "{{ " + strings.Repeat("-", 10000) + "1 }}"},
		{"attribute chain", "<% $" + strings.Repeat(".a", 10000) + " %>"},
		{"operator chain", "<% 1" + strings.Repeat(" + 1", 10000) + " %>"},
		{"filter chain", "{{ 1" + strings.Repeat(" | abs", 10000) + " }}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Compile(tc.src)
			var se *SyntaxError
			if !errors.As(err, &se) || !strings.Contains(se.Msg, "nested too deeply") {
				t.Fatalf("Compile = %v, want a nesting error", err)
			}
		})
	}
	// Just under the limit still compiles and evaluates.
	src := "<% " + strings.Repeat("(", 150) + "1" + strings.Repeat(")", 150) + " %>"
	if got, err := MustCompile(src).Eval(nil); err != nil || got != int64(1) {
		t.Fatalf("Eval = %v, %v; want 1", got, err)
	}
}

func TestStepLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		src      string
		maxSteps int
		wantErr  bool
	}{
		{"small fits", "<% range(10).select($ * 2).sum() %>", 100, false},
		{"range too long", "<% range(1000000) %>", 1000, true},
		{"range huge", "<% range(9000000000000000000) %>", 0, true},
		{"select counts elements", "<% range(50).select($ * 2) %>", 120, true},
		{"nested select", "<% range(100).select(range(100).select($)) %>", 5000, true},
		{"replace blowup", "<% range(20).select('x').join('').replace('', 'yyyyyyyyyy') %>", 30, true},
		{"pow loop", "{{ 1 ** 1000000000 }}", 100, false},
		{"pow big", "{{ (-1) ** 100000000000 }}", 10, false},
		{"default applies", "<% range(1000).len() %>", 0, false},
		{"list repeat", "<% [1, 2] * 1000000000 %>", 1000, true},
		{"list repeat within limit", "<% [1, 2] * 10 %>", 100, false},
		{"groupBy counts elements", "<% range(100).groupBy($ mod 3) %>", 150, true},
		{"aggregate counts elements", "<% range(100).aggregate($1 + $2) %>", 150, true},
		{"zip counts cells", "<% range(100).zip(range(100), range(100)) %>", 250, true},
		{"switch is lazy", "<% switch(true => 1, range(1000000) => 2) %>", 100, false},
		{"set union counts", "<% range(100).union(range(100, 200)) %>", 150, true},
		{"mergeWith counts", "<% dict(range(100).select([str($), $])).mergeWith({a => 1}) %>", 250, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := MustCompile(tc.src).Eval(&Context{MaxSteps: tc.maxSteps})
			if tc.wantErr != errors.Is(err, ErrStepLimit) {
				t.Fatalf("Eval = %v, want step limit error: %v", err, tc.wantErr)
			}
		})
	}
}

func TestTemplate(t *testing.T) {
	t.Parallel()
	data := map[string]any{"n": int64(3), "s": "x", "m": map[string]any{"k": "v"}, "l": []any{int64(1), "a", nil, true, 1.5}, "key": "dyn"}
	tests := []struct {
		name      string
		src       any
		want      any
		wantConst bool
	}{
		{"plain string", "hello", "hello", true},
		{"number", int64(5), int64(5), true},
		{"nil", nil, nil, true},
		{"single keeps type", "<% $.n %>", int64(3), false},
		{"single with whitespace keeps type", "  <% $.n %>\n", int64(3), false},
		{"jinja single keeps type", "{{ _.m }}", map[string]any{"k": "v"}, false},
		{"text renders", "n=<% $.n %>", "n=3", false},
		{"two expressions render", "<% $.n %><% $.n %>", "33", false},
		{"dict renders like python", "m: <% $.m %>", "m: {'k': 'v'}", false},
		{"list renders like python", "l: {{ _.l }}", "l: [1, 'a', None, True, 1.5]", false},
		{"null renders None", "<% null %>!", "None!", false},
		{"bool renders True", "{{ true }}!", "True!", false},
		{"unclosed is text", "a <% b", "a <% b", true},
		{"unclosed jinja is text", "{{ x", "{{ x", true},
		{"percent text", "100% done {x}", "100% done {x}", true},
		{"closing inside string", "<% '%>' + $.s %>", "%>x", false},
		{"braces inside jinja", "{{ {'a': {'b': 1}}['a'] }}", map[string]any{"b": int64(1)}, false},
		{"multiline expression", "<% $.n\n + 1 %>", int64(4), false},
		{"list", []any{"<% $.n %>", "k", []any{"{{ _.s }}"}}, []any{int64(3), "k", []any{"x"}}, false},
		{"map", map[string]any{"a": "<% $.s %>", "b": int64(1)}, map[string]any{"a": "x", "b": int64(1)}, false},
		{"map key expression", map[string]any{"<% $.key %>": "<% $.n %>", "k_{{ _.s }}": 1}, map[string]any{"dyn": int64(3), "k_x": int64(1)}, false},
		{"map key non-string", map[string]any{"<% $.n %>": true}, map[string]any{"3": true}, false},
		{"yaml decoded map", map[any]any{"a": []string{"<% $.s %>"}, 1: int32(2)}, map[string]any{"a": []any{"x"}, "1": int64(2)}, false},
		{"const map", map[string]any{"a": []any{int64(1)}}, map[string]any{"a": []any{int64(1)}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tp, err := Compile(tc.src)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if tp.IsConst() != tc.wantConst {
				t.Errorf("IsConst = %v, want %v", tp.IsConst(), tc.wantConst)
			}
			got, err := tp.Eval(&Context{Data: data})
			if err != nil {
				t.Fatalf("Eval: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTemplateResultIsFresh(t *testing.T) {
	t.Parallel()
	tp := MustCompile(map[string]any{"a": []any{int64(1)}, "b": "<% 1 %>", "c": map[string]any{"d": "e"}})
	first, err := tp.Eval(nil)
	if err != nil {
		t.Fatal(err)
	}
	first.(map[string]any)["a"].([]any)[0] = "changed"
	first.(map[string]any)["c"].(map[string]any)["d"] = "changed"
	second, _ := tp.Eval(nil)
	want := map[string]any{"a": []any{int64(1)}, "b": int64(1), "c": map[string]any{"d": "e"}}
	if diff := cmp.Diff(want, second); diff != "" {
		t.Errorf("mutating a result changed the template (-want +got):\n%s", diff)
	}
}

func TestTemplateAccessors(t *testing.T) {
	t.Parallel()
	src := map[string]any{"x": "<% $.a %>"}
	tp := MustCompile(src)
	if diff := cmp.Diff(src, tp.Source()); diff != "" {
		t.Errorf("Source mismatch (-want +got):\n%s", diff)
	}
	if got, want := tp.String(), `{"x":"<% $.a %>"}`; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got := MustCompile("<% $.a %>").String(); got != "<% $.a %>" {
		t.Errorf("String = %q", got)
	}
}

func TestRefs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  any
		want Refs
	}{
		{"none", "text", Refs{}},
		{"vars", "<% $.a.b + $.c %> <% 1 %>", Refs{Vars: []string{"a", "c"}}},
		{"jinja vars", "{{ _.x + _['y'] }}", Refs{Vars: []string{"x", "y"}}},
		{"lambda dollar is not a var", "<% $.l.select($.name).where($.k) %>", Refs{Vars: []string{"l"}, Functions: []string{"where", "select"}}},
		{"tasks", "<% task(build).result + task('test').result %>", Refs{Tasks: []string{"build", "test"}, Functions: []string{"task"}}},
		{"jinja tasks", "{{ task('a').result | length }}", Refs{Tasks: []string{"a"}, Functions: []string{"length", "task"}}},
		{"current task", "<% task().result %>", Refs{Functions: []string{"task"}}},
		{"dynamic task", "<% task($.name).result %>", Refs{Vars: []string{"name"}, Functions: []string{"task"}, Dynamic: true}},
		{"tasks() is dynamic", "<% tasks() %>", Refs{Functions: []string{"tasks"}, Dynamic: true}},
		{"unknown function listed", "<% foo($.z) %>", Refs{Vars: []string{"z"}, Functions: []string{"foo"}}},
		{"nested value and keys", map[string]any{"<% $.k %>": []any{"<% env() %>"}}, Refs{Vars: []string{"k"}, Functions: []string{"env"}}},
		{"deduplicated", "<% $.a %> <% $.a %> <% len($.a) + len($.a) %>", Refs{Vars: []string{"a"}, Functions: []string{"len"}}},
		{"let binds names", "<% let(x => $.a) -> $x.select($.y) + $.b %>", Refs{Vars: []string{"a", "b"}, Functions: []string{"let", "select"}}},
		{"let positional rebinds dollar", "<% let($.a) -> $.b %>", Refs{Vars: []string{"a"}, Functions: []string{"let"}}},
		{"switch conditions and values", "<% switch($.a => task(t).result, true => $.b) %>", Refs{Tasks: []string{"t"}, Vars: []string{"a", "b"}, Functions: []string{"switch", "task"}}},
		{"aggregate seed is data", "<% $.l.aggregate($1 + $2.n, $.seed) %>", Refs{Vars: []string{"l", "seed"}, Functions: []string{"aggregate"}}},
		{"mergeWith levels is data", "<% $.a.mergeWith($.b, $1 + $2, $2, $.lv) %>", Refs{Vars: []string{"a", "b", "lv"}, Functions: []string{"mergeWith"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := MustCompile(tc.src).Refs()
			if diff := cmp.Diff(tc.want, got, cmp.Transformer("sort", func(s []string) []string {
				out := append([]string(nil), s...)
				sortStrings(out)
				return out
			})); diff != "" {
				t.Errorf("Refs mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestContainsExpr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    string
		want bool
	}{
		{"plain", false},
		{"<% $ %>", true},
		{"a {{ b }} c", true},
		{"{% if x %}", true},
		{"<% not closed", false},
		{"{{ not closed", false},
		{"{% not closed", false},
		{"{% ok %} on one line", true},
		{"a {% if x\n %} spans lines", false},
		{"50% of {it}", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := ContainsExpr(tc.s); got != tc.want {
			t.Errorf("ContainsExpr(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	type custom struct{ A int }
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"ints", []any{int(1), int8(2), int16(3), int32(4), uint(5), uint8(6), uint16(7), uint32(8), uint64(9)},
			[]any{int64(1), int64(2), int64(3), int64(4), int64(5), int64(6), int64(7), int64(8), int64(9)}},
		{"huge uint", uint64(1 << 63), float64(1 << 63)},
		{"float32 keeps its digits", float32(1.1), 1.1},
		{"json numbers", []any{json.Number("12"), json.Number("1.5"), json.Number("1e400")}, []any{int64(12), 1.5, "1e400"}},
		{"map any any", map[any]any{"a": 1, 2: "b", true: nil}, map[string]any{"a": int64(1), "2": "b", "true": nil}},
		{"string maps and slices", map[string]any{"m": map[string]string{"k": "v"}, "s": []string{"x"}},
			map[string]any{"m": map[string]any{"k": "v"}, "s": []any{"x"}}},
		{"typed slice", []int{1, 2}, []any{int64(1), int64(2)}},
		{"typed map", map[string]int{"a": 1}, map[string]any{"a": int64(1)}},
		{"pointer", func() any { i := 3; return &i }(), int64(3)},
		{"nil pointer", (*int)(nil), nil},
		{"bytes", []byte("hi"), "hi"},
		{"struct", custom{A: 1}, "{1}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, Normalize(tc.in)); diff != "" {
				t.Errorf("Normalize mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTruthy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   any
		want bool
	}{
		{nil, false}, {false, false}, {true, true}, {int64(0), false}, {int64(-1), true},
		{0.0, false}, {0.1, true}, {"", false}, {"false", true}, {[]any{}, false},
		{[]any{nil}, true}, {map[string]any{}, false}, {map[string]any{"a": nil}, true},
	}
	for _, tc := range tests {
		if got := Truthy(tc.in); got != tc.want {
			t.Errorf("Truthy(%#v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   any
		want string
	}{
		{nil, "None"}, {true, "True"}, {false, "False"}, {int64(-3), "-3"},
		{1.0, "1.0"}, {0.1, "0.1"}, {1e16, "1e+16"}, {1e15, "1000000000000000.0"},
		{1.5e-5, "1.5e-05"}, {0.0001, "0.0001"}, {math.Copysign(0, -1), "-0.0"}, {123456789.125, "123456789.125"},
		{"plain 'text'", "plain 'text'"},
		{[]any{"it's", `say "hi"`, `both ' "`, "tab\t"}, `["it's", 'say "hi"', 'both \' "', 'tab\t']`},
		{map[string]any{"b": []any{}, "a": map[string]any{}}, "{'a': {}, 'b': []}"},
		{[]any{nil, true, 2.5, int64(1)}, "[None, True, 2.5, 1]"},
		{int(7), "7"},
	}
	for _, tc := range tests {
		if got := Render(tc.in); got != tc.want {
			t.Errorf("Render(%#v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFunctions(t *testing.T) {
	t.Parallel()
	names := Functions()
	for _, want := range []string{"task", "tasks", "execution", "env", "len", "str", "int", "float", "bool",
		"keys", "values", "dict", "list", "range", "select", "where", "first", "last", "sum", "min", "max",
		"join", "concat", "contains", "distinct", "sort", "orderBy", "json_parse", "json_dump", "yaml_dump",
		"uuid", "toUpper", "toLower", "replace", "split", "format", "isEmpty", "any", "all",
		"length", "upper", "lower", "default", "string", "tojson", "trim"} {
		if !IsFunction(want) {
			t.Errorf("IsFunction(%q) = false", want)
		}
	}
	if IsFunction("nope") {
		t.Error(`IsFunction("nope") = true`)
	}
	for i := 1; i < len(names); i++ {
		if names[i-1] >= names[i] {
			t.Fatalf("Functions() not sorted and unique at %q, %q", names[i-1], names[i])
		}
	}
	names[0] = "mutated"
	if Functions()[0] == "mutated" {
		t.Error("Functions() shares its slice with the library")
	}
}

// Every library function must fail cleanly, never panic, on arguments of
// every type.
func TestFunctionsRejectBadArguments(t *testing.T) {
	t.Parallel()
	vals := []string{"null", "true", "1", "1.5", "'s'", "[1, 'a']", "{a => 1}", "[]"}
	var buf bytes.Buffer
	for _, name := range Functions() {
		f := lookup(yaql, name)
		if f == nil || name == "range" {
			continue
		}
		for _, a := range vals {
			for _, b := range append([]string{""}, vals...) {
				args := a
				if b != "" {
					args += ", " + b
				}
				src := fmt.Sprintf("<%% %s(%s) %%>", name, args)
				tp, err := Compile(src)
				if err != nil {
					t.Fatalf("Compile(%q): %v", src, err)
				}
				_, err = tp.Eval(&Context{Host: newHost(), MaxSteps: 10000})
				if err != nil {
					var ee *EvalError
					if !errors.As(err, &ee) {
						fmt.Fprintf(&buf, "%s: %T %v\n", src, err, err)
					}
				}
			}
		}
	}
	if buf.Len() > 0 {
		t.Errorf("errors that are not *EvalError:\n%s", buf.String())
	}
}

// Finding and parsing the expressions of a string stays linear on hostile
// input: unclosed quotes and brackets, many delimiters.
func TestCompileLinear(t *testing.T) {
	t.Parallel()
	for _, unit := range []string{"<% '", "{{ [", "{% ", "<%<%", "{{{{", "<% ( %>", "<% '%>"} {
		s := strings.Repeat(unit, 400_000/len(unit)) + " %> }} %}"
		start := time.Now()
		_, _ = Compile(s)
		// A quadratic scan of 400 KB takes minutes; a linear one milliseconds.
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Compile of %q×N took %v", unit, d)
		}
	}
}
