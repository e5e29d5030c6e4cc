package expr

import (
	"errors"
	"strings"
	"testing"
)

var fuzzData = map[string]any{
	"a": map[string]any{"b": int64(1), "s": "str"},
	"l": []any{int64(3), int64(1), 2.5, "x", nil, true, []any{int64(1)}, map[string]any{"k": "v"}},
	"n": int64(-7),
	"s": "héllo",
}

var fuzzSeeds = []string{
	"$.a.b", "$.l.select($ * 2).where($ > 1).sum()", "task(t).result.x", "$.l[0] + $.l[-1]",
	"{a => [1, 2], 'b' => null}", "not $.x and $.y or $.z", "'%>' + `x`", "$.s.toUpper().split('L')",
	"range(5).orderBy(-$).join(',')", "dict(a => 1).keys()", "$?.a?.b", "$.a.s =~ '^s'",
	"json_parse('[1, {\"a\": 2}]')", "1 / 0", "-(--1)", "'{0}{1}'.format(1)", "$.l.distinct()",
	"_.a.b | default(1) | int", "_.l | map('string') | join(',')", "{'a': [1, 2]}['a'][1:]",
	"1 if _.n else 2", "_.x is not defined", "(1, 2) ~ 'x'", "task('a').result | tojson",
	"_.s[::]", "2 ** 64", "tasks(state='ERROR') | length", "_.l | select('odd') | list",
	"switch($.n > 1 => 'a', true => $.l)", "let(x => $.l, 1) -> $x.select($ + $1)",
	"$.a.set(z => 1).mergeWith({b => {c => [1]}}, $1 + $2)", "$.l.groupBy($ mod 2, $, $.sum())",
	"$.l.aggregate($1 + $2, 0)", "dict($.a.s => 1) + {x => 2}", "coalesce($.x, [1] * 3)",
	"[$.s] * 1000", "str([$.l] * 100)", "$.s * 10000", "let(a => [$.l, $.l]) -> [$a, $a]",
	"json_dump([$.l] * 50)", "float('inf')", "9223372036854775807 + 1", "range(-9223372036854775808, 9223372036854775807)",
}

// FuzzYAQL checks that no YAQL expression makes the parser or evaluator
// panic, and that every failure is a SyntaxError or an EvalError.
func FuzzYAQL(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.Contains(s, "%>") {
			return
		}
		checkTemplate(t, "<% "+s+" %>")
	})
}

// FuzzJinja is FuzzYAQL for `{{ }}` expressions.
func FuzzJinja(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkTemplate(t, "{{ "+s+" }}")
	})
}

// FuzzTemplate feeds whole strings: delimiters, text and expressions mixed.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		"plain", "<% $.a %>", "x {{ _.l }} y {{ _.n }}", "<% 1 %><% 2 %>", "{% if %}",
		"<% '}}' %>", "{{ '%>' }}", "{{ {'a': {'b': 1}} }}", "<% $ %> {{ _ }}", "<%%>", "{{}}",
		"<% $.a\n.b %>", "{{ 'x' ~ <% %> }}", "a <% b", "{% %} {{ x }}", "<% [1, 2, 3] %>!",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkTemplate(t, s)
	})
}

func checkTemplate(t *testing.T, src string) {
	t.Helper()
	tp, err := Compile(src)
	if err != nil {
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Fatalf("Compile(%q) = %T %v, want *SyntaxError", src, err, err)
		}
		if se.Offset < 0 || se.Offset > len(src) {
			t.Fatalf("Compile(%q): offset %d outside the string", src, se.Offset)
		}
		if se.Expr != src {
			t.Fatalf("Compile(%q): Expr = %q", src, se.Expr)
		}
		return
	}
	_ = tp.Refs()
	_ = tp.String()
	if ContainsExpr(src) == tp.IsConst() {
		t.Fatalf("ContainsExpr(%q) = %v but IsConst = %v", src, ContainsExpr(src), tp.IsConst())
	}
	v, err := tp.Eval(&Context{Data: fuzzData, Host: newHost(), MaxSteps: 5000, MaxBytes: fuzzMaxBytes})
	if err != nil {
		var ee *EvalError
		if !errors.As(err, &ee) {
			t.Fatalf("Eval(%q) = %T %v, want *EvalError", src, err, err)
		}
		if ee.Offset < 0 || ee.Offset > len(src) {
			t.Fatalf("Eval(%q): offset %d outside the string", src, ee.Offset)
		}
		return
	}
	// The budget bounds what comes out: a result is at most what the
	// evaluation could build plus a piece of the data it refers to, and
	// holds only numbers JSON can hold.
	size, err := Size(v, 1<<20)
	if err != nil {
		t.Fatalf("Eval(%q) = a value JSON cannot hold: %v", src, err)
	}
	if size > fuzzMaxBytes+fuzzDataBytes {
		t.Fatalf("Eval(%q) = a value of %d bytes, over the budget of %d", src, size, fuzzMaxBytes)
	}
	_ = Render(v)
	_ = pyJSON(v, "  ", true)
	_ = yamlDump(v)
}

// fuzzMaxBytes is the byte budget of the fuzzed evaluations; fuzzDataBytes
// bounds the data (fuzzData, the fake host's tasks) a result may refer to.
const fuzzMaxBytes, fuzzDataBytes = 64 << 10, 4 << 10
