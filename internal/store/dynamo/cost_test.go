package dynamo_test

import (
	"context"
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
// included), and checks the figures the write path is built on: a plain
// task is one item written three times (created with its unit, claimed,
// its outcome recorded), each for one write unit, and a head commit that
// keeps its state and its Due costs one unit and no index write. The
// emulator computes capacity as DynamoDB documents it; run with -v to see
// the figures.
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
	t.Cleanup(func() { _, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table}) })
	s := dynamo.New(client, table)
	ctx := t.Context()
	at := time.Now().UTC()

	measure := func(name string, writes float64, f func() error) {
		t.Helper()
		before := counter.Snapshot()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d := counter.Snapshot().Sub(before)
		// The store's calls are counted, not the SDK's retries of them:
		// the emulator now and then cuts a response off under load, and
		// the SDK sends the request again.
		t.Logf("%-34s %d calls (%d requests), %.1f write units, %.1f read units", name, d.CallTotal(""), d.Total(""), d.WriteUnits, d.ReadUnits)
		if d.CallTotal("") != 1 {
			t.Errorf("%s took %d calls, want 1", name, d.CallTotal(""))
		}
		// When the SDK sent the request again, the units of the response
		// that was cut off are not known, and a conditional write's retry
		// is refused (the first one applied) with no units reported: the
		// write is checked by the other runs of this test.
		if d.Total("") > d.CallTotal("") {
			t.Logf("%s: retried by the SDK; its write units are not checked", name)
		} else if d.WriteUnits != writes {
			t.Errorf("%s cost %.1f write units, want %.1f", name, d.WriteUnits, writes)
		}
	}

	e := &record.Execution{ID: "cost-1", Workflow: "wf", DefName: "wf", DefVer: 1, State: record.ExecRunning,
		Input: []byte(`{"n":1}`), Engine: []byte(`{"active":{}}`), Due: at.Add(time.Minute), CreatedAt: at, UpdatedAt: at}
	measure("create execution", 3, func() error { return s.CreateExecution(ctx, e) })
	e.Version, e.Engine = 1, []byte(`{"active":{"a#1":1},"applied":["start/cost-1"]}`)
	measure("commit (same state, same due)", 1, func() error { return s.CommitExecution(ctx, e) })

	task := &record.Task{ExecID: e.ID, Key: "a#1", Name: "a", Seq: 1, State: record.Running, Items: 1, UnitEnds: true,
		Inbound: []byte(`{"n":1}`), CreatedAt: at,
		Unit: &record.Unit{UnitKey: record.UnitKey{ExecID: e.ID, Task: "a#1"}, State: record.Scheduled, Attempt: 1,
			Fence: "f1", Action: "std.echo", Input: []byte(`{"output":"` + strings.Repeat("x", 100) + `"}`),
			Timeout: time.Minute, Due: at.Add(time.Minute)}}
	measure("create task with its unit", 1, func() error { return s.CreateTask(ctx, task) })
	measure("claim", 1, func() error {
		_, err := s.UpdateUnit(ctx, task.Unit.UnitKey, record.Expect{States: []record.State{record.Scheduled}, Attempt: 1, Fence: "f1"},
			record.UnitChange{State: record.Running, Started: at, Due: at.Add(2 * time.Minute)})
		return err
	})
	measure("record outcome (ends the task)", 1, func() error {
		_, err := s.UpdateUnit(ctx, task.Unit.UnitKey, record.Expect{States: []record.State{record.Running}, Attempt: 1, Fence: "f1"},
			record.UnitChange{State: record.Success, Finished: at, Result: []byte(`"done"`)})
		return err
	})
	got, err := s.GetTask(ctx, e.ID, "a#1")
	if err != nil || got.State != record.Success {
		t.Fatalf("task after its outcome: %v, %v; want SUCCESS", got, err)
	}
	// A task that publishes is finished by the engine, which read the
	// task with its unit's outcome.
	fin := *got
	fin.State, fin.Published, fin.FinishedAt = record.Success, []byte(`{"p":1}`), at
	measure("finish task (publish)", 1, func() error { return s.FinishTask(ctx, &fin) })
	measure("move due (reconciler)", 3, func() error { return s.SetDue(ctx, e.ID, 1, at.Add(2*time.Minute)) })
	e.Version, e.State, e.Output, e.Due = 2, record.ExecSuccess, []byte(`{"r":"done"}`), time.Time{}
	measure("final commit (state change, no due)", 4, func() error { return s.CommitExecution(ctx, e) })
}
