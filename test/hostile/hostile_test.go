// Package hostile runs the corpus of hostile workflows (cases/): workflows
// written to crash, wedge or fool the engine, or to reach what an action
// should not. Each case is a directory holding workflow.yaml and
// expect.json, the outcome it must have; each runs through `bora run
// --json`, in a process of its own, so that one that exhausted memory or
// never ended would show as such and spare the others.
//
// expect.json:
//
//	{
//	  "workflow": "name",          // --workflow, when the file holds several
//	  "input": {...},              // --input
//	  "env": {"BORA_X": "v"},      // settings of the process
//	  "exit": 1,                   // bora run's exit status
//	  "state": "ERROR",            // the execution's state
//	  "state_info": ["…"],         // substrings of its state_info
//	  "max_state_info": 16384,     // the most bytes its state_info may have
//	  "output": ["…"],             // substrings of its output (JSON)
//	  "stderr": ["…"],             // substrings of bora run's stderr
//	  "absent": ["…"]              // strings found nowhere in the outputs
//	}
package hostile

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

type expect struct {
	Workflow     string            `json:"workflow"`
	Input        json.RawMessage   `json:"input"`
	Env          map[string]string `json:"env"`
	Exit         int               `json:"exit"`
	State        string            `json:"state"`
	StateInfo    []string          `json:"state_info"`
	MaxStateInfo int               `json:"max_state_info"`
	Output       []string          `json:"output"`
	Stderr       []string          `json:"stderr"`
	Absent       []string          `json:"absent"`
}

// Bounds of one case's process: a case that takes longer has wedged, one
// that holds more memory has escaped the budgets.
const (
	caseTimeout = 2 * time.Minute
	maxRSS      = 1 << 30
)

func TestHostileCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the bora binary")
	}
	dirs, err := filepath.Glob("cases/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases under cases/: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "bora")
	build := exec.Command("go", "build", "-o", bin, "../../functions/bora")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			runCase(t, bin, dir)
		})
	}
}

func runCase(t *testing.T, bin, dir string) {
	raw, err := os.ReadFile(filepath.Join(dir, "expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want expect
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatalf("expect.json: %v", err)
	}
	args := []string{"run", filepath.Join(dir, "workflow.yaml"), "--json", "--quiet"}
	if want.Workflow != "" {
		args = append(args, "--workflow", want.Workflow)
	}
	if len(want.Input) > 0 {
		args = append(args, "--input", string(want.Input))
	}
	ctx, cancel := context.WithTimeout(t.Context(), caseTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = os.Environ()
	for k, v := range want.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("bora run did not end within %v: the workflow wedged it\nstderr: %s", caseTimeout, tail(stderr.String()))
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss*1024 > maxRSS {
		t.Errorf("bora run held %d MiB, over %d MiB: the workflow escaped the budgets", ru.Maxrss>>10, maxRSS>>20)
	}
	if code := cmd.ProcessState.ExitCode(); code != want.Exit {
		t.Fatalf("exit %d (%v), want %d\nstderr: %s", code, err, want.Exit, tail(stderr.String()))
	}
	for _, s := range want.Stderr {
		if !strings.Contains(stderr.String(), s) {
			t.Errorf("stderr does not say %q:\n%s", s, tail(stderr.String()))
		}
	}
	for _, s := range want.Absent {
		if strings.Contains(stdout.String(), s) || strings.Contains(stderr.String(), s) {
			t.Errorf("the outputs show %q", s)
		}
	}
	if want.State == "" {
		return
	}
	var doc struct {
		State     string          `json:"state"`
		StateInfo string          `json:"state_info"`
		Output    json.RawMessage `json:"output"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatalf("bora run --json printed no document: %v\n%s", err, tail(stdout.String()))
	}
	if doc.State != want.State {
		t.Errorf("state %s, want %s (state_info %q)", doc.State, want.State, tail(doc.StateInfo))
	}
	for _, s := range want.StateInfo {
		if !strings.Contains(doc.StateInfo, s) {
			t.Errorf("state_info does not say %q:\n%s", s, tail(doc.StateInfo))
		}
	}
	if want.MaxStateInfo > 0 && len(doc.StateInfo) > want.MaxStateInfo {
		t.Errorf("state_info has %d bytes, over %d", len(doc.StateInfo), want.MaxStateInfo)
	}
	var compact bytes.Buffer
	if len(doc.Output) > 0 {
		if err := json.Compact(&compact, doc.Output); err != nil {
			t.Fatalf("output: %v", err)
		}
	}
	for _, s := range want.Output {
		if !strings.Contains(compact.String(), s) {
			t.Errorf("output does not hold %q: %s", s, tail(compact.String()))
		}
	}
}

// tail keeps the end of a long text for a message.
func tail(s string) string {
	if len(s) > 2000 {
		return "…" + s[len(s)-2000:]
	}
	return s
}
