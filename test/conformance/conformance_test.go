// Package conformance runs the Mistral conformance corpus (cases/, see
// README.md) through the same code path as `bora run --json`: submit on the
// embedded engine, wait for the end, describe the execution, and compare it
// with expected.json by the README's matching rules.
package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/borawf/bora/internal/embedded"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
)

var only = flag.String("case", "", "run only the cases whose directory name contains this")

func TestConformance(t *testing.T) {
	dirs, err := filepath.Glob("cases/*")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(dirs)
	if len(dirs) == 0 {
		t.Fatal("no cases under cases/")
	}
	b, err := embedded.Open(embedded.Options{Path: filepath.Join(t.TempDir(), "bora.db"), Workers: 16})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stop := b.Start(ctx)
	t.Cleanup(func() { stop(); b.Close() })

	t.Run("cases", func(t *testing.T) {
		for _, dir := range dirs {
			name := filepath.Base(dir)
			if *only != "" && !strings.Contains(name, *only) {
				continue
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				c := load(t, dir)
				doc, err := run(ctx, b, c)
				if err != nil {
					t.Fatal(err)
				}
				if diffs := match(c.expected, doc); len(diffs) > 0 {
					got, _ := json.MarshalIndent(doc, "", "  ")
					t.Errorf("%s:\n  %s\ngot:\n%s", c.comment, strings.Join(diffs, "\n  "), got)
				}
			})
		}
	})
}

type testCase struct {
	dir      string
	comment  string
	source   []byte
	input    json.RawMessage
	env      json.RawMessage
	params   struct{ Workflow, TaskName string }
	expected map[string]any
}

func load(t *testing.T, dir string) *testCase {
	t.Helper()
	c := &testCase{dir: dir, input: json.RawMessage("{}"), env: json.RawMessage("null")}
	var err error
	if c.source, err = os.ReadFile(filepath.Join(dir, "workflow.yaml")); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(c.source), "\n") {
		if !strings.HasPrefix(line, "#") {
			break
		}
		c.comment += strings.TrimSpace(strings.TrimPrefix(line, "#")) + " "
	}
	c.comment = strings.TrimSpace(c.comment)
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if b := read("input.json"); b != nil {
		c.input = b
	}
	if b := read("env.json"); b != nil {
		c.env = b
	}
	if b := read("params.json"); b != nil {
		var p struct {
			Workflow string `json:"workflow"`
			TaskName string `json:"task_name"`
		}
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("params.json: %v", err)
		}
		c.params.Workflow, c.params.TaskName = p.Workflow, p.TaskName
	}
	if err := decode(read("expected.json"), &c.expected); err != nil {
		t.Fatalf("expected.json: %v", err)
	}
	return c
}

// run submits a case and waits for it, exactly as `bora run --json` does.
func run(ctx context.Context, b *embedded.Bora, c *testCase) (map[string]any, error) {
	var params json.RawMessage
	if c.params.TaskName != "" {
		params, _ = json.Marshal(map[string]string{"task_name": c.params.TaskName})
	}
	head, err := b.Runtime.Submit(ctx, runtime.Submission{
		File: filepath.Join(c.dir, "workflow.yaml"), Source: c.source, Workflow: c.params.Workflow,
		Input: c.input, Env: c.env, Params: params,
		DefName: filepath.Base(c.dir), // cases reuse workflow names; keep their definitions apart
	})
	if err != nil {
		return nil, fmt.Errorf("submit: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	e, err := b.Wait(wctx, head.ID, 0)
	if err != nil {
		return nil, fmt.Errorf("wait for execution %s (state %v): %w", head.ID, stateOf(e), err)
	}
	doc, err := runtime.Describe(ctx, b.Store, head.ID)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, decode(raw, &out)
}

func stateOf(e *record.Execution) any {
	if e == nil {
		return nil
	}
	return e.State
}

func decode(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// match applies the README's matching rules and returns every difference.
func match(want, got map[string]any) []string {
	var diffs []string
	for _, k := range sortedKeys(want) {
		w, g := want[k], got[k]
		switch k {
		case "state_info":
			if !substring(w, g) {
				diffs = append(diffs, fmt.Sprintf("state_info %q does not contain %q", g, w))
			}
		case "output":
			if !outputEqual(w, g, got["state"] == "ERROR") {
				diffs = append(diffs, fmt.Sprintf("output = %s, want %s", js(g), js(w)))
			}
		case "tasks":
			diffs = append(diffs, matchTasks(w, g)...)
		default:
			if !jsonEqual(w, g) {
				diffs = append(diffs, fmt.Sprintf("%s = %s, want %s", k, js(g), js(w)))
			}
		}
	}
	return diffs
}

func matchTasks(w, g any) []string {
	byName := func(v any) map[string][]map[string]any {
		m := map[string][]map[string]any{}
		list, _ := v.([]any)
		for _, e := range list {
			t, _ := e.(map[string]any)
			name, _ := t["name"].(string)
			m[name] = append(m[name], t)
		}
		return m
	}
	want, got := byName(w), byName(g)
	var diffs []string
	names := map[string]bool{}
	for n := range want {
		names[n] = true
	}
	for n := range got {
		names[n] = true
	}
	for _, n := range sortedKeys(names) {
		if len(want[n]) != len(got[n]) {
			diffs = append(diffs, fmt.Sprintf("task %s ran %d times, want %d", n, len(got[n]), len(want[n])))
			continue
		}
		for i, we := range want[n] {
			ge := got[n][i]
			for _, k := range sortedKeys(we) {
				if k == "state_info" {
					if !substring(we[k], ge[k]) {
						diffs = append(diffs, fmt.Sprintf("task %s #%d state_info %q does not contain %q", n, i+1, ge[k], we[k]))
					}
					continue
				}
				if !jsonEqual(we[k], ge[k]) {
					diffs = append(diffs, fmt.Sprintf("task %s #%d %s = %s, want %s", n, i+1, k, js(ge[k]), js(we[k])))
				}
			}
		}
	}
	return diffs
}

// outputEqual is JSON equality, except that a failed execution's expected
// output.result string is matched as a substring.
func outputEqual(w, g any, failed bool) bool {
	wm, wok := w.(map[string]any)
	gm, gok := g.(map[string]any)
	if failed && wok && gok {
		if ws, ok := wm["result"].(string); ok {
			if !substring(ws, gm["result"]) {
				return false
			}
			wm, gm = without(wm, "result"), without(gm, "result")
			return jsonEqual(wm, gm)
		}
	}
	return jsonEqual(w, g)
}

func without(m map[string]any, key string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

func substring(w, g any) bool {
	ws, ok := w.(string)
	if !ok {
		return jsonEqual(w, g) || (w == nil && g == "")
	}
	gs, _ := g.(string)
	return strings.Contains(gs, ws)
}

// jsonEqual compares decoded JSON values; numbers by value.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		fx, err1 := x.Float64()
		fy, err2 := y.Float64()
		return err1 == nil && err2 == nil && fx == fy
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	default:
		return a == b
	}
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
