package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
)

// Every scenario runs its executions on the shared stack, in parallel with
// the others; a wait is bounded and reports the execution's state, the
// queues and the functions' logs when it runs out.
const settle = 60 * time.Second

// output decodes an execution's output.
func output(t *testing.T, d *runtime.Document) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal(d.Output, &out); err != nil {
		t.Fatalf("output of %s: %v: %s", d.ID, err, d.Output)
	}
	return out
}

// items returns [0, 1, ..., n-1].
func items(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// once returns keys 0..n-1 (as the counter names them) each hit once.
func once(n int, extra ...string) map[string]int {
	m := map[string]int{}
	for i := range n {
		m[strconv.Itoa(i)] = 1
	}
	for _, k := range extra {
		m[k] = 1
	}
	return m
}

func TestShowcase(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	id := c.submitFile(t, "events/examples/showcase.yaml", "", nil)
	d := c.succeed(t, id, settle)
	want := map[string]any{
		"greetings": []any{"Hello, ada!", "Hello, grace!", "Hello, linus!"},
		"size":      "big",
		"summary":   "3 greetings after polling (not yet)",
	}
	if diff := cmp.Diff(want, output(t, d)); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestSubWorkflow(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	id := c.submitFile(t, "events/examples/subworkflow.yaml", "greet_everyone", nil)
	d := c.succeed(t, id, settle)
	want := map[string]any{"cards": []any{"Hello, ada!", "Hello, grace!"}}
	if diff := cmp.Diff(want, output(t, d)); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

// fanOut runs one std.http call per item, concurrency at a time; each
// call holds ms milliseconds at the counter.
func fanOut(concurrency int) []byte {
	return []byte(fmt.Sprintf(`
version: '2.0'
fan:
  input: [base, run, items, ms]
  output:
    keys: <%% $.keys %%>
  tasks:
    hit:
      with-items: i in <%% $.items %%>
      concurrency: %d
      action: std.http
      input:
        url: <%% $.base %%>/hit/<%% $.run %%>/<%% $.i %%>?ms=<%% $.ms %%>
      publish:
        keys: <%% task().result.select($.content.key) %%>
`, concurrency))
}

func TestWithItemsConcurrency(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	srv := newCounter(t)
	run := newRun()
	const n = 50
	id := c.submit(t, "fan.yaml", fanOut(5), "", map[string]any{"base": srv.srv.URL, "run": run, "items": items(n), "ms": 100})
	d := c.succeed(t, id, 2*settle)

	var want []any
	for i := range n {
		want = append(want, strconv.Itoa(i))
	}
	if diff := cmp.Diff(map[string]any{"keys": want}, output(t, d)); diff != "" {
		t.Errorf("output, in item order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(once(n), srv.Hits(run)); diff != "" {
		t.Errorf("actions run (-want +got):\n%s", diff)
	}
	if p := srv.Peak(run); p > 5 {
		t.Errorf("%d actions ran at once, want at most 5 (concurrency: 5)", p)
	} else {
		t.Logf("at most %d actions ran at once", p)
	}
}

// joinWorkflow forks into n branches that a join: all task waits for.
func joinWorkflow(n int) string {
	var b strings.Builder
	b.WriteString("version: '2.0'\njoin:\n  input: [base, run]\n  output:\n    joined: <% $.joined %>\n  tasks:\n")
	b.WriteString("    fork:\n      action: std.noop\n      on-success:\n")
	for i := range n {
		fmt.Fprintf(&b, "        - b%d\n", i)
	}
	for i := range n {
		fmt.Fprintf(&b, "    b%d:\n      action: std.http\n      input:\n        url: <%% $.base %%>/hit/<%% $.run %%>/%d\n      on-success: [done]\n", i, i)
	}
	b.WriteString("    done:\n      join: all\n      action: std.http\n      input:\n        url: <% $.base %>/hit/<% $.run %>/done\n      publish:\n        joined: <% task().result.content.n %>\n")
	return b.String()
}

func TestJoinOfTenBranches(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	srv := newCounter(t)
	run := newRun()
	id := c.submit(t, "join.yaml", []byte(joinWorkflow(10)), "", map[string]any{"base": srv.srv.URL, "run": run})
	d := c.succeed(t, id, settle)
	if diff := cmp.Diff(map[string]any{"joined": 1.0}, output(t, d)); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(once(10, "done"), srv.Hits(run)); diff != "" {
		t.Errorf("actions run (-want +got):\n%s", diff)
	}
	runs := 0
	for _, tk := range d.Tasks {
		if tk.Name == "done" {
			runs++
		}
	}
	if runs != 1 {
		t.Errorf("the join task ran %d times, want 1", runs)
	}
}

const retrying = `
version: '2.0'
flaky:
  input: [base, run, fail]
  output:
    n: <% $.n %>
  tasks:
    call:
      action: std.http
      input:
        url: <% $.base %>/hit/<% $.run %>/call?fail=<% $.fail %>
      retry:
        count: 3
        delay: 1
      publish:
        n: <% task().result.content.n %>
`

func TestRetries(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	srv := newCounter(t)
	tests := []struct {
		name  string
		fail  int // the first fail calls answer 500
		state record.ExecState
		calls int
	}{
		{name: "success on the third attempt", fail: 2, state: record.ExecSuccess, calls: 3},
		{name: "error after the last retry", fail: 10, state: record.ExecError, calls: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			run := newRun()
			id := c.submit(t, "flaky.yaml", []byte(retrying), "", map[string]any{"base": srv.srv.URL, "run": run, "fail": tt.fail})
			d := c.wait(t, id, settle, record.ExecSuccess, record.ExecError, record.ExecCancelled)
			if d.State != string(tt.state) {
				t.Fatalf("execution ended %s (%s), want %s\n%s", d.State, d.StateInfo, tt.state, c.diagnose(id))
			}
			if got := srv.Hits(run)["call"]; got != tt.calls {
				t.Errorf("the action ran %d times, want %d (1 + retries)", got, tt.calls)
			}
			if tt.state == record.ExecSuccess {
				if diff := cmp.Diff(map[string]any{"n": float64(tt.calls)}, output(t, d)); diff != "" {
					t.Errorf("output (-want +got):\n%s", diff)
				}
			}
		})
	}
}

const chain = `
version: '2.0'
chain:
  input: [base, run, n]
  output:
    total: <% $.total %>
  tasks:
    first:
      action: std.echo output=<% $.n %>
      publish:
        a: <% task().result %>
      on-success: [second]
    second:
      action: std.http
      input:
        url: <% $.base %>/hit/<% $.run %>/second
      on-success: [third]
    third:
      action: std.echo output=<% $.a * 2 %>
      publish:
        total: <% task().result %>
`

func TestTwentyAtOnce(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	srv := newCounter(t)
	const n = 20
	runs := make([]string, n)
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		runs[i] = newRun()
		wg.Go(func() {
			ids[i], errs[i] = c.trySubmit("chain.yaml", []byte(chain), "", map[string]any{"base": srv.srv.URL, "run": runs[i], "n": i})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		d := c.succeed(t, id, 2*settle)
		if diff := cmp.Diff(map[string]any{"total": float64(2 * i)}, output(t, d)); diff != "" {
			t.Errorf("execution %d: output (-want +got):\n%s", i, diff)
		}
		if diff := cmp.Diff(map[string]int{"second": 1}, srv.Hits(runs[i])); diff != "" {
			t.Errorf("execution %d: actions run (-want +got):\n%s", i, diff)
		}
	}
}

// TestReconcilerSweep invokes the reconciler as its schedule would, while
// the other scenarios run: a sweep over live executions must succeed.
func TestReconcilerSweep(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	if _, ok := c.s.Funcs[fnReconciler]; !ok {
		t.Skip("functions/reconciler has no Go code yet")
	}
	out, err := c.s.invoke(t.Context(), fnReconciler, map[string]any{"source": "aws.events", "detail-type": "Scheduled Event"})
	if err != nil {
		t.Fatalf("sweep: %v\n%s", err, c.s.logTail(t.Context(), 20))
	}
	t.Logf("sweep: %s", out)
}
