package dynamo_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/borawf/bora/internal/awsx"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store/dynamo"
)

// TestWriteCost measures, through the request counter, what the store's
// writes cost in DynamoDB requests and write units (index writes
// included), and checks the figures that the design depends on: a head
// commit that changes neither state nor size class costs one unit and no
// index write, and a unit's whole life (create, claim, outcome) stays
// within its budget. The emulator computes capacity as DynamoDB documents
// it; run with -v to see the figures.
func TestWriteCost(t *testing.T) {
	t.Parallel()
	cfg := awsx.TestConfig(t)
	if awsx.Emulator() == awsx.LocalStack {
		// moto reports fixed figures (1 unit a put, 0.5 an update, no
		// index writes), under every budget whatever the store does.
		t.Skip("LocalStack's DynamoDB (moto) does not compute consumed capacity as DynamoDB does; MiniStack does")
	}
	counter := awsx.NewCounter()
	counter.Attach(&cfg)
	client := dynamodb.NewFromConfig(cfg)
	table := "bora-cost-" + fmt.Sprint(time.Now().UnixNano())
	if err := dynamo.CreateTable(t.Context(), client, table); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = client.DeleteTable(t.Context(), &dynamodb.DeleteTableInput{TableName: &table}) })
	s := dynamo.New(client, table)
	ctx := t.Context()
	at := time.Now().UTC()

	measure := func(name string, maxWrites float64, f func() error) {
		t.Helper()
		before := counter.Snapshot()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d := counter.Snapshot().Sub(before)
		t.Logf("%-28s %d requests, %.1f write units, %.1f read units", name, d.Total(""), d.WriteUnits, d.ReadUnits)
		if d.WriteUnits > maxWrites {
			t.Errorf("%s cost %.1f write units, budget %.1f", name, d.WriteUnits, maxWrites)
		}
	}

	e := &record.Execution{ID: "cost-1", Workflow: "wf", DefName: "wf", DefVer: 1, State: record.ExecRunning,
		Input: []byte(`{"n":1}`), Engine: []byte(`{"active":{}}`), CreatedAt: at, UpdatedAt: at}
	measure("create execution", 2, func() error { return s.CreateExecution(ctx, e) })
	e.Version, e.Engine = 1, []byte(`{"active":{"a#1":1},"applied":["start/cost-1"]}`)
	measure("commit (same state)", 1, func() error { return s.CommitExecution(ctx, e) })

	task := &record.Task{ExecID: e.ID, Key: "a#1", Name: "a", Seq: 1, State: record.Running, Items: 1,
		Inbound: []byte(`{"n":1}`), CreatedAt: at}
	measure("create task", 1, func() error { return s.CreateTask(ctx, task) })

	u := &record.Unit{UnitKey: record.UnitKey{ExecID: e.ID, Task: "a#1"}, State: record.Scheduled, Attempt: 1,
		Fence: "f1", Action: "std.echo", Input: []byte(`{"output":"` + strings.Repeat("x", 100) + `"}`),
		Timeout: time.Minute, Due: at.Add(time.Minute)}
	measure("create unit", 2, func() error { return s.CreateUnit(ctx, u) })
	measure("claim unit", 1, func() error {
		_, err := s.UpdateUnit(ctx, u.UnitKey, record.Expect{States: []record.State{record.Scheduled}, Attempt: 1, Fence: "f1"},
			record.UnitChange{State: record.Running, Started: at, Due: at.Add(2 * time.Minute)})
		return err
	})
	measure("record outcome", 2, func() error {
		_, err := s.UpdateUnit(ctx, u.UnitKey, record.Expect{States: []record.State{record.Running}, Attempt: 1, Fence: "f1"},
			record.UnitChange{State: record.Success, Finished: at, Result: []byte(`"done"`)})
		return err
	})
	task.State, task.Result, task.FinishedAt = record.Success, []byte(`"done"`), at
	measure("finish task", 1, func() error { return s.FinishTask(ctx, task) })
	e.Version, e.State, e.Output = 2, record.ExecSuccess, []byte(`{"r":"done"}`)
	measure("final commit (state change)", 3, func() error { return s.CommitExecution(ctx, e) })
}
