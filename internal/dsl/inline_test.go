package dsl

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseInline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		in         string
		wantAction string
		wantParams map[string]any
		wantErr    string // "" for none; else InlineError.Msg
		wantOffset int
	}{
		{name: "name only", in: "std.noop", wantAction: "std.noop"},
		{name: "surrounding spaces", in: "  std.noop  ", wantAction: "std.noop"},
		{
			name: "quoted strings", in: `std.echo output="Hi there" other='it is'`,
			wantAction: "std.echo", wantParams: map[string]any{"output": "Hi there", "other": "it is"},
		},
		{
			name: "quotes are taken as written", in: `a x="say 'hi'" y='a "b"' z="back\slash"`,
			wantAction: "a", wantParams: map[string]any{"x": "say 'hi'", "y": `a "b"`, "z": `back\slash`},
		},
		{
			name: "numbers booleans null", in: "a i=42 neg=-7 f=1.5 e=1e3 t=true f2=false n=null",
			wantAction: "a", wantParams: map[string]any{"i": int64(42), "neg": int64(-7), "f": 1.5, "e": 1000.0, "t": true, "f2": false, "n": nil},
		},
		{
			name: "expressions", in: "std.echo output=<% $.a + 1 %> j={{ _.b }} mixed=\"x <% $.c %>\"",
			wantAction: "std.echo", wantParams: map[string]any{"output": "<% $.a + 1 %>", "j": "{{ _.b }}", "mixed": "x <% $.c %>"},
		},
		{
			name: "json list and object", in: `a l=[1, "two", [3]] o={"k": {"n": null}}`,
			wantAction: "a", wantParams: map[string]any{"l": []any{int64(1), "two", []any{int64(3)}}, "o": map[string]any{"k": map[string]any{"n": nil}}},
		},
		{
			name: "yaml flow list", in: "send_email to_addrs=['admin@mysite.org'] body='Failed'",
			wantAction: "send_email", wantParams: map[string]any{"to_addrs": []any{"admin@mysite.org"}, "body": "Failed"},
		},
		{
			name: "brackets inside quotes", in: `a l=["]", "[x"]`,
			wantAction: "a", wantParams: map[string]any{"l": []any{"]", "[x"}},
		},
		{
			name: "expression as name", in: "<% $.action %> x=1",
			wantAction: "<% $.action %>", wantParams: map[string]any{"x": int64(1)},
		},
		{
			name: "function form", in: `fail(msg="went wrong", code=2)`,
			wantAction: "fail", wantParams: map[string]any{"msg": "went wrong", "code": int64(2)},
		},
		{name: "function form without parameters", in: "succeed()", wantAction: "succeed"},
		{
			name: "keys with dashes", in: "a my-key=1 under_score=2",
			wantAction: "a", wantParams: map[string]any{"my-key": int64(1), "under_score": int64(2)},
		},
		{name: "empty", in: "   ", wantErr: "empty name", wantOffset: 3},
		// Mistral's parser does not see an unquoted word: the parameter is
		// left out (the loader warns).
		{name: "unquoted word", in: "std.echo output=hello n=1", wantAction: "std.echo", wantParams: map[string]any{"n": int64(1)}},
		{name: "unclosed quote", in: `a x="abc`, wantErr: "the value of `x` has no closing \"", wantOffset: 4},
		{name: "unclosed expression", in: "a x=<% $.y", wantErr: "expression `<%` is not closed by `%>`", wantOffset: 4},
		{name: "unclosed list", in: "a x=[1, 2", wantErr: "the value of `x` has no closing ]", wantOffset: 4},
		{name: "missing value", in: "a x= y=1", wantErr: "`x=` has no value; write `x=\"\"` for an empty string", wantOffset: 4},
		{name: "not key=value", in: "a b c=1", wantErr: "expected name=value, found `b`", wantOffset: 2},
		{name: "duplicate", in: "a x=1 x=2", wantErr: "parameter `x` is given twice", wantOffset: 6},
		{name: "text after a value", in: `a x="y"z`, wantErr: "unexpected `z` after the value of `x`; quote the whole value", wantOffset: 7},
		{name: "parameters without name", in: "x=1", wantErr: "expected a name before the parameters", wantOffset: 0},
		{name: "unclosed function form", in: "fail(msg='x'", wantErr: "`(` is not closed by a `)` at the end", wantOffset: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			action, params, err := ParseInline(tc.in)
			if tc.wantErr != "" {
				var ie *InlineError
				if !errors.As(err, &ie) {
					t.Fatalf("ParseInline(%q) error = %v, want an *InlineError", tc.in, err)
				}
				if ie.Msg != tc.wantErr || ie.Offset != tc.wantOffset {
					t.Errorf("ParseInline(%q) error = %q at %d, want %q at %d", tc.in, ie.Msg, ie.Offset, tc.wantErr, tc.wantOffset)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseInline(%q): %v", tc.in, err)
			}
			if action != tc.wantAction {
				t.Errorf("action = %q, want %q", action, tc.wantAction)
			}
			if diff := cmp.Diff(tc.wantParams, params); diff != "" {
				t.Errorf("params (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDistance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"on-sucess", "on-success", 1}, {"pulbish", "publish", 1},
		{"kitten", "sitting", 3}, {"handel", "handle", 1}, {"été", "ete", 2},
	}
	for _, tc := range tests {
		if got := distance(tc.a, tc.b); got != tc.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	if got := closest("frobnicate", workflowKeys); got != "" {
		t.Errorf("closest(frobnicate) = %q, want none", got)
	}
}
