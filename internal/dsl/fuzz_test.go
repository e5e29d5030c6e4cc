package dsl

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds documents to Load. Bad input must never panic, every
// diagnostic must point into the document, and a document without errors
// must give a bundle whose graphs hold together.
func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{"testdata/errors/*.yaml", "testdata/reference/*.yaml", "../../events/examples/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			src, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src)
		}
	}
	f.Add([]byte(""))
	f.Add([]byte("version: '2.0'\na: &a [*a]\n"))
	f.Add([]byte("version: '2.0'\nwf:\n  tasks:\n    a:\n      action: \"x y=<% $.a\"\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		b, diags := Load("fuzz.yaml", src)
		lines := bytes.Count(src, []byte("\n")) + 2
		for _, d := range diags {
			if d.Pos.Line < 1 || d.Pos.Col < 1 || d.Pos.Line > lines {
				t.Errorf("diagnostic outside the document (%d lines): %s", lines, d)
			}
		}
		if diags.HasErrors() != (b == nil) {
			t.Fatalf("bundle %v with HasErrors %v:\n%s", b != nil, diags.HasErrors(), diags)
		}
		if b == nil {
			return
		}
		for _, name := range b.Order {
			checkGraph(t, b.Workflows[name])
		}
	})
}

// checkGraph asserts what the engine relies on in a compiled workflow.
func checkGraph(t *testing.T, w *Workflow) {
	t.Helper()
	if len(w.Order) != len(w.Tasks) || len(w.Order) == 0 {
		t.Fatalf("workflow %s: %d names in Order, %d tasks", w.Name, len(w.Order), len(w.Tasks))
	}
	for _, name := range w.Order {
		task := w.Tasks[name]
		if task == nil || task.Name != name {
			t.Fatalf("workflow %s: task %q missing or misnamed", w.Name, name)
		}
		if (task.Action == nil) == (task.Workflow == nil) {
			t.Errorf("task %s: want exactly one of Action and Workflow", name)
		}
		for _, tr := range append(append(append([]Transition(nil), task.OnSuccess...), task.OnError...), task.OnComplete...) {
			if (tr.Target == "") == (tr.Command == "") {
				t.Errorf("task %s: transition %+v has both or neither of Target and Command", name, tr)
			}
			if tr.Target != "" && w.Tasks[tr.Target] == nil {
				t.Errorf("task %s: transition to unknown task %s", name, tr.Target)
			}
		}
		for _, r := range task.Requires {
			if w.Tasks[r] == nil {
				t.Errorf("task %s requires unknown task %s", name, r)
			}
		}
	}
	if w.Type == Direct && len(w.Start) == 0 {
		t.Errorf("direct workflow %s has no start task", w.Name)
	}
	if w.Type == Reverse {
		for _, name := range w.Order {
			if _, err := w.Plan(name); err != nil {
				t.Errorf("Plan(%s): %v", name, err)
			}
		}
	}
}

// FuzzParseInline feeds inline calls to ParseInline: no panic, and an error
// points into the string.
func FuzzParseInline(f *testing.F) {
	for _, s := range []string{
		"std.noop",
		`std.echo output="Hi" n=<% $.n %>`,
		`fail(msg="x", code=2)`,
		"a l=[1, [2, {\"k\": \"]\"}]] o={'a': 1}",
		"<% $.action %> x={{ _.y }}",
		"a x='unclosed",
		"a x=<% never closed",
		"a x=-1.5e3 y=true z=null",
		"count=10 delay=5 break-on=<% $.foo = 'bar' %>",
		"(",
		"a(",
		"a x=\"\\\"\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		action, params, err := ParseInline(s)
		if err != nil {
			var ie *InlineError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v is not an *InlineError", err)
			}
			if ie.Offset < 0 || ie.Offset > len(s) {
				t.Fatalf("error offset %d outside [0, %d]", ie.Offset, len(s))
			}
			return
		}
		if action == "" {
			t.Fatalf("ParseInline(%q) gave no action and no error", s)
		}
		for k := range params {
			if k == "" {
				t.Fatalf("ParseInline(%q) gave an empty parameter name", s)
			}
		}
	})
}
