package dsl

import (
	"strings"
	"testing"
)

func TestCheckActions(t *testing.T) {
	t.Parallel()
	known := map[string]ActionSpec{
		"std.echo": {Required: []string{"output"}},
		"std.noop": {},
		"std.http": {Required: []string{"url"}, Optional: []string{"method", "headers"}},
	}
	tests := []struct {
		name, task string
		want       []string // substrings of the diagnostics, in order; "" for none
		errors     bool
	}{
		{"known, right params", `action: std.echo output="x"`, nil, false},
		{"no action is std.noop", `description: nothing`, nil, false},
		{"misspelt std action", `action: std.ech output="x"`, []string{"wf.yaml:9:7: task `t`: unknown action `std.ech`; did you mean `std.echo`?"}, true},
		{"user action", `action: my.thing`, []string{"warning: task `t`: unknown action `my.thing`"}, false},
		{"misspelt param", `action: std.http url="u" methd="GET"`, []string{"takes no parameter `methd`; did you mean `method`?"}, false},
		{"missing required", `action: std.echo`, []string{"action `std.echo` needs the parameter `output`"}, false},
		{"expression name", `action: <% $.a %>`, nil, false},
		{"input from one expression", "action: std.http\n      input: <% $.params %>", nil, false},
		{"ad-hoc action", `action: greet`, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := "version: '2.0'\nactions:\n  greet:\n    base: std.echo output=\"hi\"\nworkflows:\n  wf:\n    tasks:\n      t:\n        " + strings.ReplaceAll(tt.task, "\n      ", "\n        ") + "\n"
			src = "name: book\n" + src
			b, diags := Load("wf.yaml", []byte(src))
			if diags.HasErrors() {
				t.Fatalf("load: %v", diags)
			}
			got := CheckActions(b, known)
			if got.HasErrors() != tt.errors {
				t.Errorf("errors = %v, want %v: %v", got.HasErrors(), tt.errors, got)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("diagnostics = %v, want %d", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i].String(), w) {
					t.Errorf("diagnostic %q does not contain %q", got[i], w)
				}
			}
		})
	}
}
