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

// TestCostPerTask runs a linear and a with-items workflow with Bora's
// engine, worker and reconciler in this process over the DynamoDB store and
// the SQS queues on the endpoint, with an SDK middleware counting every
// request and the write units DynamoDB reports, and prints the figures per
// task. Polling (ReceiveMessage) is counted apart: on AWS the Lambda event
// source mapping polls instead, whatever the workload.
func TestCostPerTask(t *testing.T) {
	cfg := awsx.TestConfig(t)
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
		t.Fatal(err)
	}
	qs, err := sqs.CreateQueues(ctx, q, prefix,
		sqs.Spec{Name: "engine", FIFO: true, MaxReceives: 10},
		sqs.Spec{Name: "tasks", MaxReceives: 10},
		sqs.Spec{Name: "timers", MaxReceives: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table})
		for _, c := range qs {
			for _, u := range []string{c.URL, c.DLQURL} {
				if u != "" {
					_, _ = q.DeleteQueue(context.Background(), &awssqs.DeleteQueueInput{QueueUrl: &u})
				}
			}
		}
	})
	b, err := embedded.New(embedded.Parts{
		Store:  dynamo.New(db, table),
		Events: sqs.New(q, qs[0].URL, sqs.Options{}),
		Tasks:  sqs.New(q, qs[1].URL, sqs.Options{}),
		Timers: sqs.New(q, qs[2].URL, sqs.Options{}),
	}, embedded.Options{Workers: 4, MaxReceives: 10, Lease: worker.DefaultLease}) // the lease of the Lambda worker
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Start(ctx))

	for _, c := range []struct {
		name  string
		yaml  string
		tasks int
	}{
		{"linear-20", linearChain(20), 20},
		{"with-items-50", fmt.Sprintf("version: '2.0'\nitems:\n  tasks:\n    each:\n      with-items: x in <%% range(%d) %%>\n      concurrency: 5\n      action: std.echo output=<%% $.x %%>\n", 50), 50},
	} {
		before := counter.Snapshot()
		head, err := b.Runtime.Submit(ctx, runtime.Submission{File: c.name + ".yaml", Source: []byte(c.yaml)})
		if err != nil {
			t.Fatal(err)
		}
		e, err := waitFinal(ctx, dynamo.New(plain, table), head.ID)
		if err != nil || e.State != record.ExecSuccess {
			t.Fatalf("%s: %v, %v", c.name, stateOrNil(e), err)
		}
		d := counter.Snapshot().Sub(before)
		var sqsAll, receives, ddb int64
		for op, n := range d.Requests {
			switch {
			case op.Service == "SQS" && op.Operation == "ReceiveMessage":
				receives += n
			case op.Service == "SQS":
				sqsAll += n
			case op.Service == "DynamoDB":
				ddb += n
			}
		}
		n := float64(c.tasks)
		t.Logf("%s: per task: %.2f SQS requests (+%.2f receives by the pollers), %.2f DynamoDB requests, %.2f DynamoDB write units",
			c.name, float64(sqsAll)/n, float64(receives)/n, float64(ddb)/n, d.WriteUnits/n)
		fmt.Printf("cost %s: %.2f SQS requests/task, %.2f DynamoDB requests/task, %.2f write units/task\n%s\n",
			c.name, float64(sqsAll)/n, float64(ddb)/n, d.WriteUnits/n, indent(d.String()))
		if d.WriteUnits <= 0 {
			t.Errorf("%s: no write units counted: the endpoint did not report consumed capacity", c.name)
		}
	}
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
