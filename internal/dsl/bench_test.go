package dsl

import (
	"fmt"
	"strings"
	"testing"
)

// workflow200 generates a direct workflow of n tasks: a chain with fan-out
// every tenth task, joins, publishes, retries, with-items and inline input.
func workflow200(n int) []byte {
	var b strings.Builder
	b.WriteString("version: '2.0'\nbig:\n  input:\n    - items: [1, 2, 3]\n    - greeting: hello\n")
	b.WriteString("  task-defaults:\n    retry: {count: 2, delay: 1}\n  output:\n    last: <% $.v199 %>\n  tasks:\n")
	for i := range n {
		fmt.Fprintf(&b, "    t%d:\n", i)
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "      action: std.echo output=\"<%% $.greeting %%> %d\" n=%d\n", i, i)
		case 1:
			b.WriteString("      action: std.echo\n      input:\n        output: <% $.items.len() %>\n")
		case 2:
			b.WriteString("      with-items: x in <% $.items %>\n      concurrency: 2\n      action: std.echo output=<% $.x * 2 %>\n")
		case 3:
			b.WriteString("      action: std.noop\n      timeout: 30\n")
		}
		fmt.Fprintf(&b, "      publish:\n        v%d: <%% task().result %%>\n", i)
		if i%10 == 9 && i+2 < n {
			b.WriteString("      join: all\n")
		}
		if i+1 < n {
			if i%10 == 7 && i+2 < n {
				fmt.Fprintf(&b, "      on-success:\n        - t%d\n        - t%d: <%% $.v%d != null %%>\n", i+1, i+2, i)
			} else {
				fmt.Fprintf(&b, "      on-success: t%d\n", i+1)
			}
			b.WriteString("      on-error:\n        - 'fail msg=\"task failed: <% task().state_info %>\"'\n")
		}
	}
	return []byte(b.String())
}

func TestWorkflow200Loads(t *testing.T) {
	t.Parallel()
	b, diags := Load("big.yaml", workflow200(200))
	if b == nil || len(diags) != 0 {
		t.Fatalf("Load: %s", diags)
	}
	w := b.Workflows["big"]
	if len(w.Tasks) != 200 || len(w.Start) != 1 || w.Start[0] != "t0" {
		t.Fatalf("got %d tasks, start %v", len(w.Tasks), w.Start)
	}
	if got := w.Tasks["t9"].Inbound; len(got) != 2 || w.Tasks["t9"].Join != JoinAll {
		t.Errorf("t9 inbound %v join %d, want two inbound and join all", got, w.Tasks["t9"].Join)
	}
}

// BenchmarkLoad200 parses, validates and compiles a 200-task workflow.
func BenchmarkLoad200(b *testing.B) {
	src := workflow200(200)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if bundle, diags := Load("big.yaml", src); bundle == nil {
			b.Fatal(diags)
		}
	}
}
