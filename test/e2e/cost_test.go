package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/borawf/bora/internal/awsx"
	"github.com/borawf/bora/internal/embedded"
	"github.com/borawf/bora/internal/queue/sqs"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
	"github.com/borawf/bora/internal/store/dynamo"
	"github.com/borawf/bora/internal/worker"
)

// TestCostPerTask runs a 100-task chain, a 100-item with-items and a
// 10-way fork with a join with Bora's engine, worker and reconciler in this
// process over the DynamoDB store and the SQS queues on the endpoint, with
// an SDK middleware counting every request and the write units DynamoDB
// reports, and prints the figures per task. It fails when a figure rises
// above what the write path reaches (docs/aws.md): a guard on counts, with
// room for the SDK's retries of responses the emulator now and then cuts
// off, not on time.
//
// Polling (ReceiveMessage) is counted apart: on AWS the Lambda event source
// mapping polls instead, and its idle polls (receives that return nothing)
// cost by the hour the queues are polled, whatever the workload.
func TestCostPerTask(t *testing.T) {
	r := newCostRig(t, nil)
	for _, c := range costShapes {
		d, _ := r.run(t, c)
		f := costFigures(d, c.tasks)
		t.Logf("%s: per task: %s", c.name, f)
		fmt.Printf("cost %s: %s\n", c.name, f)
		if f.writeUnits <= 0 {
			t.Errorf("%s: no write units counted: the endpoint did not report consumed capacity", c.name)
		}
		for _, g := range []struct {
			what       string
			got, limit float64
		}{
			{"DynamoDB write units", f.writeUnits, c.limit.writeUnits},
			{"DynamoDB requests", f.dynamo, c.limit.dynamo},
			{"SQS sends", f.sends, c.limit.sends},
		} {
			if g.got > g.limit {
				t.Errorf("%s: %.2f %s per task, over the %.2f this shape reaches", c.name, g.got, g.what, g.limit)
			}
		}
	}
}

// costRig is Bora's engine, worker and reconciler in this process over a
// table and queues of its own on the endpoint, with an SDK middleware
// counting every request its clients make.
type costRig struct {
	counter *awsx.Counter
	bora    *embedded.Bora
	store   *dynamo.Store // counted: the runtime's
	quiet   *dynamo.Store // not counted: for the test's own polling
	client  *dynamodb.Client
	table   string
}

// newCostRig creates the table and queues, and starts Bora over them;
// wrap, when not nil, may wrap the queues first. Everything is deleted
// when the test ends.
func newCostRig(tb testing.TB, wrap func(*embedded.Parts)) *costRig {
	tb.Helper()
	cfg := awsx.TestConfig(tb)
	// The test waits through a client of its own, so that its polling is
	// not counted as the workload's.
	plain := dynamodb.NewFromConfig(cfg)
	counter := awsx.NewCounter()
	counter.Attach(&cfg)
	ctx := context.Background()
	db := dynamodb.NewFromConfig(cfg)
	q := awssqs.NewFromConfig(cfg)
	prefix := fmt.Sprintf("bora-cost-%d-", time.Now().UnixNano())
	table := prefix + "table"
	if err := dynamo.CreateTable(ctx, db, table); err != nil {
		tb.Fatal(err)
	}
	qs, err := sqs.CreateQueues(ctx, q, prefix,
		sqs.Spec{Name: "engine", FIFO: true, MaxReceives: 10},
		sqs.Spec{Name: "tasks", MaxReceives: 10},
		sqs.Spec{Name: "timers", MaxReceives: 10})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table})
		for _, c := range qs {
			for _, u := range []string{c.URL, c.DLQURL} {
				if u != "" {
					_, _ = q.DeleteQueue(context.Background(), &awssqs.DeleteQueueInput{QueueUrl: &u})
				}
			}
		}
	})
	st := dynamo.New(db, table)
	parts := embedded.Parts{
		Store:  st,
		Events: sqs.New(q, qs[0].URL, sqs.Options{}),
		Tasks:  sqs.New(q, qs[1].URL, sqs.Options{}),
		Timers: sqs.New(q, qs[2].URL, sqs.Options{}),
	}
	if wrap != nil {
		wrap(&parts)
	}
	b, err := embedded.New(parts, embedded.Options{Workers: 4, MaxReceives: 10,
		Lease: worker.DefaultLease, // the lease of the Lambda worker
		// The reconciler's sweeps cost by the hour, whatever the work
		// (docs/aws.md); none falls in these runs.
		Reconcile: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(b.Start(ctx))
	return &costRig{counter: counter, bora: b, store: st, quiet: dynamo.New(plain, table), client: plain, table: table}
}

// run runs one execution of c to its success and returns the requests it
// made, and its id.
func (r *costRig) run(tb testing.TB, c costShape) (awsx.Snapshot, string) {
	tb.Helper()
	ctx := context.Background()
	// The definition is stored once and run many times: it is not part
	// of an execution's cost.
	if _, err := r.store.PutDefinition(ctx, c.name, []byte(c.yaml)); err != nil {
		tb.Fatal(err)
	}
	before := r.counter.Snapshot()
	head, err := r.bora.Runtime.Submit(ctx, runtime.Submission{File: c.name + ".yaml", DefName: c.name, Source: []byte(c.yaml)})
	if err != nil {
		tb.Fatal(err)
	}
	e, err := waitFinal(ctx, r.quiet, head.ID)
	if err != nil || e.State != record.ExecSuccess {
		tb.Fatalf("%s: %v, %v", c.name, stateOrNil(e), err)
	}
	return r.counter.Snapshot().Sub(before), head.ID
}

// costShape is a workflow TestCostPerTask runs, and the most each figure
// per task may be: what the write path reaches, with a little room for
// timing (a receive that takes fewer messages, a worker lease that runs
// out on a busy machine); SDK retries are not counted (costFigures). Deletes and receives are not guarded: how many messages one
// request takes depends on timing (a receive gets the messages that are
// there), so only what they cost is printed.
type costShape struct {
	name  string
	yaml  string
	tasks int
	limit figures
}

var costShapes = []costShape{
	// Reached: 4.07 write units, 6.04 DynamoDB requests, 2.00 SQS sends.
	{"linear-100", linearChain(100), 100, figures{writeUnits: 4.15, dynamo: 6.3, sends: 2.1}},
	// Reached: 4.08 write units, 6.11 DynamoDB requests, 1.11 SQS sends.
	{"with-items-100", withItems(100), 100, figures{writeUnits: 4.2, dynamo: 6.4, sends: 1.2}},
	// Reached: 5.00 write units, 7.18 DynamoDB requests, 1.18 SQS sends
	// (eleven tasks: one retried request is 0.09 per task).
	{"fork-10-join", forkJoin(10), 11, figures{writeUnits: 5.3, dynamo: 7.6, sends: 1.35}},
}

// figures are counts per task.
type figures struct {
	writeUnits, readUnits float64
	dynamo, sqs           float64 // requests; sqs without receives
	sends                 float64 // SQS requests that send messages
	receives, empty       float64 // receives that delivered messages; idle polls
	retries               float64 // requests the SDK sent again (receives aside)
}

func costFigures(d awsx.Snapshot, tasks int) figures {
	n := float64(tasks)
	var f figures
	// The guarded figures count the calls Bora's code makes, each once:
	// an SDK retry of a response the emulator cut off under load is the
	// network's doing, not the write path's, and is shown apart.
	for op, c := range d.Calls {
		switch {
		case op.Service == "SQS" && op.Operation == "ReceiveMessage":
		case op.Service == "SQS":
			f.sqs += float64(c)
			if strings.HasPrefix(op.Operation, "SendMessage") {
				f.sends += float64(c)
			}
		case op.Service == "DynamoDB":
			f.dynamo += float64(c)
		}
	}
	for op, c := range d.Requests {
		if op.Service == "SQS" && op.Operation == "ReceiveMessage" {
			f.receives += float64(c - d.EmptyReceives)
		} else {
			f.retries += float64(c - d.Calls[op])
		}
	}
	f.writeUnits, f.readUnits = d.WriteUnits/n, d.ReadUnits/n
	f.dynamo, f.sqs, f.sends, f.receives, f.empty, f.retries = f.dynamo/n, f.sqs/n, f.sends/n, f.receives/n, float64(d.EmptyReceives)/n, f.retries/n
	return f
}

func (f figures) String() string {
	return fmt.Sprintf("%.2f write units, %.2f read units, %.2f DynamoDB requests, %.2f SQS requests (%.2f sends) + %.2f receives (+%.2f empty polls), %.2f SDK retries",
		f.writeUnits, f.readUnits, f.dynamo, f.sqs, f.sends, f.receives, f.empty, f.retries)
}

func withItems(n int) string {
	return fmt.Sprintf("version: '2.0'\nitems:\n  tasks:\n    each:\n      with-items: x in <%% range(%d) %%>\n      action: std.echo output=<%% $.x %%>\n", n)
}

// forkJoin is n branches of one task each, and a task that joins them all.
func forkJoin(n int) string {
	var sb strings.Builder
	sb.WriteString("version: '2.0'\nfork:\n  tasks:\n")
	for i := range n {
		fmt.Fprintf(&sb, "    b%d:\n      action: std.echo output=%d\n      on-success: join\n", i, i)
	}
	sb.WriteString("    join:\n      join: all\n      action: std.noop\n")
	return sb.String()
}

// waitFinal polls an execution until it is final, for at most 3 minutes.
func waitFinal(ctx context.Context, s *dynamo.Store, id string) (*record.Execution, error) {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		e, err := s.GetExecution(ctx, id)
		if err == nil && e.State.Terminal() {
			return e, nil
		}
		if time.Now().After(deadline) {
			return e, fmt.Errorf("not final after 3 minutes (last error %v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func linearChain(n int) string {
	var sb strings.Builder
	sb.WriteString("version: '2.0'\nchain:\n  tasks:\n")
	for i := range n {
		fmt.Fprintf(&sb, "    t%d:\n      action: std.echo output=%d\n", i, i)
		if i+1 < n {
			fmt.Fprintf(&sb, "      on-success: t%d\n", i+1)
		}
	}
	return sb.String()
}

func stateOrNil(e *record.Execution) any {
	if e == nil {
		return nil
	}
	return fmt.Sprintf("%s %s", e.State, e.StateInfo)
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n  ")
}
