package expr

import "testing"

func benchEval(b *testing.B, src any) {
	b.Helper()
	tp := MustCompile(src)
	c := &Context{Data: map[string]any{
		"a": map[string]any{"b": int64(1)},
		"l": []any{int64(1), int64(2), int64(3), int64(4), int64(5), int64(6), int64(7), int64(8)},
		"s": "hello",
	}, Host: newHost()}
	if _, err := tp.Eval(c); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tp.Eval(c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEvalPath(b *testing.B)       { benchEval(b, "<% $.a.b %>") }
func BenchmarkEvalTaskResult(b *testing.B) { benchEval(b, "<% task(build).result.x %>") }
func BenchmarkEvalSelectSum(b *testing.B)  { benchEval(b, "<% $.l.select($ * 2).sum() %>") }
func BenchmarkEvalJinjaFilters(b *testing.B) {
	benchEval(b, "{{ _.l | map('string') | join(',') | upper | length }}")
}
func BenchmarkEvalTemplate3(b *testing.B) {
	benchEval(b, "<% $.s %>-<% $.a.b + 1 %>-<% $.l.len() %>")
}
func BenchmarkEvalCondition(b *testing.B) {
	benchEval(b, "<% $.a.b > 0 and $.s != '' %>")
}
func BenchmarkEvalMap(b *testing.B) {
	benchEval(b, map[string]any{"x": "<% $.a.b %>", "y": "static", "z": []any{"{{ _.s }}"}})
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile("<% $.l.where($ > 1).select($ * 2).sum() %> and {{ 1 }}x"); err == nil {
			b.Fatal("mixed syntaxes compiled")
		}
	}
}
