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

func TestCheckAdhocActions(t *testing.T) {
	t.Parallel()
	known := map[string]ActionSpec{
		"std.echo": {Required: []string{"output"}},
		"std.http": {Required: []string{"url"}, Optional: []string{"method"}},
	}
	const actions = `
  greet:
    input: [name, {greeting: Hello}]
    base: std.echo
    base-input: {output: <% $.name %>}
  loud:
    input: [who]
    base: greet
    base-input: {name: <% $.who %>}
`
	tests := []struct {
		name, actions, task string
		want                []string
		errors              bool
	}{
		{"right inputs", actions, `action: greet name="a"`, nil, false},
		{"default may be left out, nested", actions, `action: book.loud who="a"`, nil, false},
		{"unexpected input", actions, `action: greet name="a" nme="b"`, []string{"wf.yaml:15:7: warning: task `t`: action `greet` takes no parameter `nme`; did you mean `name`?"}, false},
		{"missing input", actions, `action: greet greeting="a"`, []string{"task `t`: action `greet` needs the parameter `name`"}, false},
		{"unknown std base", "\n  a:\n    base: std.ech output=1\n", `action: a`, []string{"wf.yaml:5:11: ad-hoc action `a`: unknown action `std.ech`; did you mean `std.echo`?"}, true},
		{"base-input the base does not take", "\n  a:\n    base: std.http\n    base-input: {url: u, methd: GET}\n", `action: a`,
			[]string{"ad-hoc action `a`: action `std.http` takes no parameter `methd`; did you mean `method`?"}, false},
		{"base-input an ad-hoc base needs", "\n  a:\n    input: [x]\n    base: b\n  b:\n    input: [y]\n    base: std.echo output=1\n", `action: a x=1`,
			[]string{"ad-hoc action `a`: action `b` needs the parameter `y`"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := "name: book\nversion: '2.0'\nactions:" + tt.actions + "workflows:\n  wf:\n    tasks:\n      t:\n        " + tt.task + "\n"
			b, diags := Load("wf.yaml", []byte(src))
			if diags.HasErrors() {
				t.Fatalf("load: %v\n%s", diags, src)
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

// An unknown action named by many tasks is reported once, with its sites.
func TestCheckActionsGroupsUnknown(t *testing.T) {
	t.Parallel()
	src := "version: '2.0'\nwf:\n  tasks:\n"
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		src += "    " + n + ":\n      action: my.thing\n"
	}
	src += "    h:\n      action: std.nope\n    i:\n      action: std.nope\n"
	b, diags := Load("wf.yaml", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	got := CheckActions(b, map[string]ActionSpec{"std.noop": {}})
	want := []string{
		"wf.yaml:4:5: warning: task `a`: unknown action `my.thing` (7 call sites: a, b, c, d, e and 2 more)",
		"wf.yaml:18:5: task `h`: unknown action `std.nope`; did you mean `std.noop`? (2 call sites: h, i)",
	}
	if len(got) != len(want) {
		t.Fatalf("diagnostics:\n%v", got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("diagnostic %d = %q, want %q", i, got[i], want[i])
		}
	}
}
