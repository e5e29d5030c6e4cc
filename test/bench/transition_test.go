package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/borawf/bora/internal/awsx"
	"github.com/borawf/bora/internal/dsl"
	"github.com/borawf/bora/internal/embedded"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
	"github.com/borawf/bora/internal/store"
	"github.com/borawf/bora/internal/store/dynamo"
	ssqlite "github.com/borawf/bora/internal/store/sqlite"
)

// chain is a workflow of n tasks, each starting the next, or "" when its
// document would be over what a workflow document or a stored definition
// may be.
func chain(n int) string {
	var b strings.Builder
	b.WriteString("version: '2.0'\nchain:\n  tasks:\n")
	for i := range n {
		fmt.Fprintf(&b, "    t%d: {action: std.echo output=%d", i, i)
		if i+1 < n {
			fmt.Fprintf(&b, ", on-success: t%d", i+1)
		}
		b.WriteString("}\n")
	}
	if b.Len() > min(dsl.MaxSourceBytes, store.MaxItemBytes-1024) {
		return ""
	}
	return b.String()
}

// loop is a workflow whose task runs n-1 times after a first one: a
// chain of n task executions whatever n, in a document of a few lines.
func loop(n int) string {
	return fmt.Sprintf(`version: '2.0'
loop:
  tasks:
    first:
      action: std.noop
      publish: {i: 1}
      on-success: step
    step:
      action: std.echo output=<%% $.i %%>
      publish: {i: <%% $.i + 1 %%>}
      on-success:
        - step: <%% $.i < %d %%>
`, n-1)
}

// items is a workflow of one task over n items.
func items(n int) string {
	return fmt.Sprintf("version: '2.0'\nitems:\n  tasks:\n    each:\n      with-items: x in <%% range(%d) %%>\n      action: std.echo output=<%% $.x %%>\n", n)
}

var shapes = []struct {
	name string
	yaml func(n int) string
}{{"chain", chain}, {"loop", loop}, {"with-items", items}}

// sizes are the executions' sizes; BORA_BENCH_SIZES overrides them (a
// comma-separated list).
func sizes() []int {
	out := []int{10, 100, 1000, 10000}
	if s := os.Getenv("BORA_BENCH_SIZES"); s != "" {
		out = nil
		for _, f := range strings.Split(s, ",") {
			var n int
			if _, err := fmt.Sscan(f, &n); err == nil && n >= 4 {
				out = append(out, n)
			}
		}
	}
	return out
}

// window is the transitions a size is measured over: every one but the
// first (the start, which plans a with-items task's units) and the last
// (the end), from the commit of version 1 to that of version n. The work
// of the workers in between counts with them: a with-items task's workers
// run apart from the engine's steps, so only a whole run holds the work of
// every item.
func window(n int) (from, to int64) { return 1, int64(n) }

// run starts one execution of src on b and waits for its success, polling
// through quiet, a store whose calls are not counted.
func run(tb testing.TB, bora *embedded.Bora, quiet store.Store, m *meter, name, src string) {
	tb.Helper()
	ctx := context.Background()
	id := runtime.NewID()
	m.mu.Lock()
	m.execID = id
	m.mu.Unlock()
	head, err := bora.Runtime.Submit(ctx, runtime.Submission{ID: id, File: name + ".yaml", Source: []byte(src)})
	if err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Minute)
	var e *record.Execution
	for {
		if e, err = quiet.GetExecution(ctx, head.ID); err != nil {
			tb.Fatal(err)
		}
		if e.State.Terminal() || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if e.State != record.ExecSuccess {
		tb.Fatalf("%s ended %s: %s", name, e.State, e.StateInfo)
	}
}

// perTransition is what the transitions of the window cost, each.
func perTransition(tb testing.TB, m *meter, n int) (counts, float64, int) {
	tb.Helper()
	from, to := window(n)
	a, okA := m.at[from]
	z, okZ := m.at[to]
	if !okA || !okZ {
		tb.Fatalf("no commit of version %d or %d", from, to)
	}
	d := z.sub(a)
	heads := 0
	for v := from; v <= to; v++ {
		heads = max(heads, m.head[v])
	}
	return d, float64(to - from), heads
}

// BenchmarkTransitionCost runs executions of 10, 100, 1,000 and 10,000
// tasks (a chain, and a with-items task) on the embedded engine and
// reports what a transition costs in each (window): store reads and
// writes, queue calls (sends, receives that delivered, deletes) and
// messages, and the most bytes of the engine's part of the head. Flat from
// 10 to 10,000 tasks is invariant 6 of docs/protocol.md.
func BenchmarkTransitionCost(b *testing.B) {
	for _, sh := range shapes {
		for _, n := range sizes() {
			src := sh.yaml(n)
			if src == "" {
				continue // no such document can be stored
			}
			b.Run(fmt.Sprintf("embedded/%s-%d", sh.name, n), func(b *testing.B) {
				for range b.N {
					db, err := ssqlite.Open(filepath.Join(b.TempDir(), "bora.db"))
					if err != nil {
						b.Fatal(err)
					}
					o := embedded.Options{Workers: 8}
					p, err := embedded.SQLiteParts(db, o)
					if err != nil {
						b.Fatal(err)
					}
					m := newMeter(nil)
					quiet := p.Store
					p.Store = meteredStore{Store: p.Store, m: m}
					p.Events, p.Tasks, p.Timers = meteredQueue{p.Events, m}, meteredQueue{p.Tasks, m}, meteredQueue{p.Timers, m}
					bora, err := embedded.New(p, o)
					if err != nil {
						b.Fatal(err)
					}
					stop := bora.Start(context.Background())
					run(b, bora, quiet, m, sh.name, src)
					stop()
					db.Close()
					d, tr, head := perTransition(b, m, n)
					b.ReportMetric(float64(d.reads)/tr, "reads/tr")
					b.ReportMetric(float64(d.writes)/tr, "writes/tr")
					b.ReportMetric(float64(d.queue)/tr, "queue-calls/tr")
					b.ReportMetric(float64(d.messages)/tr, "msgs/tr")
					b.ReportMetric(float64(head), "head-B")
				}
			})
		}
	}
}

// BenchmarkTransitionCostAWS is BenchmarkTransitionCost with the DynamoDB
// store on the endpoint in AWS_ENDPOINT_URL (the queues stay embedded: a
// transition's messages are the same, and the emulator's queues would only
// make the run slower), reporting DynamoDB requests, write units and read
// units per transition, index writes included. It skips without an
// endpoint.
func BenchmarkTransitionCostAWS(b *testing.B) {
	cfg := awsx.TestConfig(b)
	plain := dynamodb.NewFromConfig(cfg) // for the benchmark's own polling
	counter := awsx.NewCounter()
	counter.Attach(&cfg)
	client := dynamodb.NewFromConfig(cfg)
	for _, sh := range shapes {
		for _, n := range sizes() {
			src := sh.yaml(n)
			if src == "" {
				continue // no such document can be stored
			}
			b.Run(fmt.Sprintf("aws/%s-%d", sh.name, n), func(b *testing.B) {
				for range b.N {
					table := fmt.Sprintf("bora-bench-%d", time.Now().UnixNano())
					if err := dynamo.CreateTable(b.Context(), client, table); err != nil {
						b.Fatal(err)
					}
					db, err := ssqlite.Open(filepath.Join(b.TempDir(), "bora.db"))
					if err != nil {
						b.Fatal(err)
					}
					o := embedded.Options{Workers: 8, Reconcile: time.Hour}
					p, err := embedded.SQLiteParts(db, o)
					if err != nil {
						b.Fatal(err)
					}
					m := newMeter(func() any { return counter.Snapshot() })
					p.Store, p.Atomic = meteredStore{Store: dynamo.New(client, table), m: m}, nil
					p.Events, p.Tasks, p.Timers = meteredQueue{p.Events, m}, meteredQueue{p.Tasks, m}, meteredQueue{p.Timers, m}
					bora, err := embedded.New(p, o)
					if err != nil {
						b.Fatal(err)
					}
					stop := bora.Start(context.Background())
					run(b, bora, dynamo.New(plain, table), m, sh.name, src)
					stop()
					db.Close()
					_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table})
					d, tr, head := perTransition(b, m, n)
					from, to := window(n)
					aws := m.extra[to].(awsx.Snapshot).Sub(m.extra[from].(awsx.Snapshot))
					b.ReportMetric(float64(aws.Total("DynamoDB"))/tr, "ddb-req/tr")
					b.ReportMetric(aws.WriteUnits/tr, "wu/tr")
					b.ReportMetric(aws.ReadUnits/tr, "ru/tr")
					b.ReportMetric(float64(d.queue)/tr, "queue-calls/tr")
					b.ReportMetric(float64(head), "head-B")
				}
			})
		}
	}
}
