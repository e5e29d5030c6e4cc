package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/borawf/bora/internal/dsl"
)

// TestSizesCheckedFirst: a document or an input over its limit is refused
// before it is parsed, with a message that names the limit, and a document
// is loaded once.
func TestSizesCheckedFirst(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const wf = "version: '2.0'\nwf:\n  input: [x]\n  tasks:\n    a:\n      action: std.noop\n"
	big := write("big.yaml", wf+"#"+strings.Repeat("x", dsl.MaxSourceBytes))
	good := write("good.yaml", wf)
	huge := write("huge.json", `{"x": "`+strings.Repeat("y", 1<<20)+`"}`)
	large := write("large.json", `{"x": "`+strings.Repeat("y", 150<<10)+`"}`)
	bad := write("bad.yaml", "version: '2.0'\nwf:\n  tasks:\n    a:\n      on-success: missing\n")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
		wantStdout string
	}{
		{"validate a document over the limit", []string{"validate", big}, 1, "more than 1048576 bytes, over the limit of a workflow document", ""},
		{"run a document over the limit", []string{"run", big}, 2, "more than 1048576 bytes, over the limit of a workflow document", ""},
		{"an input file over any value", []string{"run", good, "--input", "@" + huge}, 2, "--input @" + huge + ": more than 163840 bytes", ""},
		{"an input over the value limit", []string{"run", good, "--input", "@" + large}, 2, "the input is 153609 bytes, over the 128 KiB limit of one value", ""},
		{"an invalid document is reported once", []string{"run", bad}, 2, "is not a valid workflow document\n" + bad + ":5:19: `on-success` leads to `missing`", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := run(t, tc.args...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantStderr) || !strings.Contains(stdout, tc.wantStdout) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, stdout, stderr, tc.wantCode, tc.wantStderr)
			}
			if n := strings.Count(stderr, "leads to"); n > 1 {
				t.Errorf("stderr reports %d errors, want each once: %q", n, stderr)
			}
		})
	}
}

// TestLargeWorkbookRuns: a workbook larger than a store record (a real one
// was 451 KB) is stored, in parts, and runs; a second run finds it stored.
func TestLargeWorkbookRuns(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("version: '2.0'\nname: big\nworkflows:\n  wf:\n    output: {r: <% $.r %>}\n    tasks:\n      go:\n        action: std.echo output=\"ran\"\n        publish: {r: <% task().result %>}\n  archive:\n    tasks:\n")
	for i := 0; b.Len() < 460<<10; i++ {
		fmt.Fprintf(&b, "      step_%05d:\n        action: std.echo output=\"step %d of an archived deployment of service %d\"\n", i, i, i%97)
	}
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "bora.db")
	for range 2 {
		code, stdout, stderr := run(t, "run", path, "--workflow", "big.wf", "--db", db, "--json", "--quiet")
		if code != 0 || !strings.Contains(stdout, `"r": "ran"`) {
			t.Fatalf("exit %d, stdout %.300s, stderr %.500s", code, stdout, stderr)
		}
	}
}
