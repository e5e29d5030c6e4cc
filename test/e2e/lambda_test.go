package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/record"
)

// lambdaWorkflow invokes the user function (test/lambda) from each kind of
// task: a plain call, a function error that on-error handles, a call that
// succeeds on its third attempt, and one call per item.
const lambdaWorkflow = `version: '2.0'
lambda:
  input: [fn]
  output:
    echo: <% $.echo %>
    declined: <% $.declined %>
    flaky: <% $.flaky %>
    items: <% $.items %>
  tasks:
    echo:
      action: aws.lambda
      input:
        function: <% $.fn %>
        payload: {do: echo, value: hello}
      publish:
        echo: <% task().result.value %>
      on-success: [decline]
    decline:
      action: aws.lambda
      input:
        function: <% $.fn %>
        payload: {do: fail, value: card 42}
      publish-on-error:
        declined: <% task().result %>
      on-error: [flaky]
    flaky:
      action: aws.lambda
      input:
        function: <% $.fn %>
        payload: {do: flaky, until: 3}
      retry: {count: 4, delay: 1}
      publish:
        flaky: <% task().result.attempt %>
      on-success: [each]
    each:
      with-items: i in <% [1, 2, 3] %>
      action: aws.lambda
      input:
        function: <% $.fn %>
        payload: {do: echo, value: <% $.i * 10 %>}
      publish:
        items: <% task().result.select([$.value, $.bora.item]) %>
`

func TestLambdaAction(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	fn := deployUserFunction(t, c.s)
	id := c.submit(t, "lambda.yaml", []byte(lambdaWorkflow), "", map[string]any{"fn": fn})
	d := c.succeed(t, id, settle)
	want := map[string]any{
		"echo": "hello",
		"declined": map[string]any{
			"function": fn, "function_error": "Unhandled", "error_type": "Declined", "error_message": "card 42 declined",
		},
		"flaky": float64(3),
		"items": []any{[]any{float64(10), float64(0)}, []any{float64(20), float64(1)}, []any{float64(30), float64(2)}},
	}
	if diff := cmp.Diff(want, output(t, d)); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

// A function error that nothing handles fails the workflow with the
// function's error.
func TestLambdaActionFails(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	fn := deployUserFunction(t, c.s)
	id := c.submit(t, "lambda-fails.yaml", []byte(`version: '2.0'
fails:
  input: [fn]
  tasks:
    decline:
      action: aws.lambda
      input:
        function: <% $.fn %>
        payload: {do: fail, value: order 7}
`), "", map[string]any{"fn": fn})
	d := c.wait(t, id, settle, record.ExecSuccess, record.ExecError)
	if d.State != string(record.ExecError) || !strings.Contains(d.StateInfo, "order 7 declined") {
		t.Errorf("execution ended %s (%s), want ERROR with the function's error", d.State, d.StateInfo)
	}
}

// Embedded, bora run invokes functions through the SDK's default
// configuration: here AWS_ENDPOINT_URL, the emulator's.
func TestLambdaActionEmbedded(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	fn := deployUserFunction(t, c.s)
	dir := t.TempDir()
	bin := filepath.Join(dir, "bora")
	build := exec.Command("go", "build", "-o", bin, "./functions/bora")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	wf := filepath.Join(dir, "lambda.yaml")
	if err := os.WriteFile(wf, []byte(lambdaWorkflow), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*settle)
	defer cancel()
	run := exec.CommandContext(ctx, bin, "run", wf, "--quiet", "--json", "--input", `{"fn": "`+fn+`"}`)
	run.Env = os.Environ() // AWS_ENDPOINT_URL and the emulator's credentials
	var stdout, stderr bytes.Buffer
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Run(); err != nil {
		t.Fatalf("bora run: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	var doc struct {
		Output struct {
			Echo     string         `json:"echo"`
			Declined map[string]any `json:"declined"`
			Flaky    int            `json:"flaky"`
			Items    [][]int        `json:"items"`
		} `json:"output"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatalf("bora run --json: %v\n%s", err, stdout.String())
	}
	o := doc.Output
	if o.Echo != "hello" || o.Declined["error_type"] != "Declined" || o.Flaky != 3 || !cmp.Equal(o.Items, [][]int{{10, 0}, {20, 1}, {30, 2}}) {
		t.Errorf("output = %+v", o)
	}
}
