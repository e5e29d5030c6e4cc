package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPauseResumeRerun drives one execution through the CLI: a
// pause-before stops bora run, bora resume carries it to a failed task, and
// bora rerun runs that task again with a new env, which lets it succeed.
func TestPauseResumeRerun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	wf := filepath.Join(dir, "wf.yaml")
	db := filepath.Join(dir, "bora.db")
	if err := os.WriteFile(wf, []byte(`version: '2.0'
wf:
  tasks:
    first:
      action: std.echo output=1
      on-success: gate
    gate:
      pause-before: true
      action: std.noop
      on-success: check
    check:
      action: std.echo output=<% env().ok %>
      fail-on: <% task().result != true %>
      publish:
        ok: <% task().result %>
  output:
    ok: <% $.ok %>
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cli := func(want int, args ...string) (string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := dispatch(args, &out, &errOut); code != want {
			t.Fatalf("bora %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, &out, &errOut)
		}
		return out.String(), errOut.String()
	}
	type doc struct {
		ID, State string
		Output    map[string]any
		Tasks     []struct{ Name, State string }
	}
	parse := func(s string) doc {
		t.Helper()
		var d doc
		if err := json.Unmarshal([]byte(s), &d); err != nil {
			t.Fatalf("%v in %s", err, s)
		}
		return d
	}

	out, errOut := cli(1, "run", wf, "--db", db, "--env", `{"ok": false}`, "--json", "--quiet")
	d := parse(out)
	if d.State != "PAUSED" || !strings.Contains(errOut, "bora resume --db PATH "+d.ID) {
		t.Fatalf("run: %s, stderr %q; want PAUSED and a hint to resume", d.State, errOut)
	}
	out, _ = cli(0, "show", "--db", db)
	if !strings.Contains(out, d.ID) || !strings.Contains(out, "PAUSED") {
		t.Errorf("show lists:\n%s", out)
	}

	out, _ = cli(1, "resume", "--db", db, d.ID, "--json", "--quiet")
	if d = parse(out); d.State != "ERROR" {
		t.Fatalf("resume: %s, want ERROR (check fails with ok=false)", d.State)
	}

	out, _ = cli(0, "rerun", "--db", db, d.ID, "check", "--env", `{"ok": true}`, "--json", "--quiet")
	d = parse(out)
	if d.State != "SUCCESS" || d.Output["ok"] != true {
		t.Fatalf("rerun: %s %v, want SUCCESS with ok=true", d.State, d.Output)
	}
	var names []string
	for _, tk := range d.Tasks {
		names = append(names, tk.Name+":"+tk.State)
	}
	if got, want := strings.Join(names, " "), "first:SUCCESS gate:SUCCESS check:ERROR check:SUCCESS"; got != want {
		t.Errorf("tasks = %s, want %s", got, want)
	}

	cli(2, "resume", "--db", db, "no-such-execution")
	cli(2, "rerun", "--db", db, d.ID)
}

// TestSkip skips a failed task through the CLI: the execution goes on
// from the task's on-skip transition with what it publishes on skip.
func TestSkip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	wf := filepath.Join(dir, "wf.yaml")
	db := filepath.Join(dir, "bora.db")
	if err := os.WriteFile(wf, []byte(`version: '2.0'
wf:
  tasks:
    flaky:
      action: std.fail
      publish-on-skip:
        how: skipped
      on-skip: after
    after:
      action: std.echo output=<% $.how %>
      publish:
        got: <% task().result %>
  output:
    got: <% $.got %>
`), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := dispatch([]string{"run", wf, "--db", db, "--json", "--quiet"}, &out, &errOut); code != 1 {
		t.Fatalf("run: exit %d\n%s", code, &errOut)
	}
	var d struct {
		ID, State string
		Output    map[string]any
		Tasks     []struct{ Name, State string }
	}
	if err := json.Unmarshal(out.Bytes(), &d); err != nil || d.State != "ERROR" {
		t.Fatalf("run: %v %s", err, out.String())
	}
	out.Reset()
	if code := dispatch([]string{"skip", "--db", db, d.ID, "flaky", "--json", "--quiet"}, &out, &errOut); code != 0 {
		t.Fatalf("skip: exit %d\n%s\n%s", code, &out, &errOut)
	}
	if err := json.Unmarshal(out.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tk := range d.Tasks {
		names = append(names, tk.Name+":"+tk.State)
	}
	if got := strings.Join(names, " "); d.State != "SUCCESS" || d.Output["got"] != "skipped" || got != "flaky:SKIPPED after:SUCCESS" {
		t.Fatalf("skip: %s %v %s, want SUCCESS, got=skipped, flaky:SKIPPED after:SUCCESS", d.State, d.Output, got)
	}
}
