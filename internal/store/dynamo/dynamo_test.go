package dynamo_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/awsx"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
	"github.com/borawf/bora/internal/store/dynamo"
	"github.com/borawf/bora/internal/store/storetest"
)

// newTable creates a table with a unique name on the endpoint in
// AWS_ENDPOINT_URL (or skips) and deletes it when the test ends.
func newTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	cfg := awsx.TestConfig(t)
	client := dynamodb.NewFromConfig(cfg)
	var b [6]byte
	_, _ = rand.Read(b[:])
	table := "bora-test-" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := dynamo.CreateTable(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table})
	})
	return client, table
}

func TestContract(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	s := dynamo.New(client, table)
	storetest.Run(t, func(t *testing.T) store.Store { return s })
}

func TestCreateTableTwice(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	if err := dynamo.CreateTable(t.Context(), client, table); err != nil {
		t.Fatalf("second CreateTable: %v", err)
	}
}

// TestDueIndexShards lists due heads spread over several due shards, and
// follows a head whose Due a commit keeps and SetDue moves.
func TestDueIndexShards(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	s := dynamo.New(client, table, dynamo.WithDueShards(3))
	ctx := t.Context()
	base := time.Now().UTC().Truncate(time.Millisecond)
	var ids []string
	for i := range 12 {
		e := &record.Execution{ID: fmt.Sprintf("due-%02d", i), State: record.ExecRunning, Due: base.Add(time.Duration(i) * time.Second),
			CreatedAt: base, UpdatedAt: base}
		if err := s.CreateExecution(ctx, e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	listed := func(at time.Duration) []string {
		t.Helper()
		heads, err := s.DueExecutions(ctx, base.Add(at), 100)
		if err != nil {
			t.Fatalf("DueExecutions(+%v): %v", at, err)
		}
		var got []string
		for _, e := range heads {
			got = append(got, e.ID)
		}
		return got
	}
	if d := cmp.Diff(ids[:6], listed(5*time.Second)); d != "" {
		t.Errorf("DueExecutions(+5s) (-want +got):\n%s", d)
	}
	if err := s.SetDue(ctx, "due-00", 0, base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	e, err := s.GetExecution(ctx, "due-01")
	if err != nil {
		t.Fatal(err)
	}
	e.Version, e.Engine = 1, []byte(`{"step":1}`)
	if err := s.CommitExecution(ctx, e); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(append(ids[1:], "due-00"), listed(time.Hour)); d != "" {
		t.Errorf("DueExecutions(+1h) after SetDue and a commit (-want +got):\n%s", d)
	}
}

var seedFlag = flag.Uint64("seed", 0, "seed for TestUnitsAgreeWithMemory (0: a new one)")

// TestStateShardsListOlderHeads lists heads filed in the by-state index
// before it was sharded (a store of one shard files every head under
// ST#<state>, as earlier versions did) beside heads filed by a sharded
// store, and follows an older head when a commit ends it.
func TestStateShardsListOlderHeads(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	older, s := dynamo.New(client, table, dynamo.WithStateShards(1)), dynamo.New(client, table)
	ctx := t.Context()
	base := time.Now().Add(-time.Hour)
	var want []string // newest first
	for i := range 12 {
		w := s
		if i%2 == 0 {
			w = older
		}
		e := &record.Execution{ID: fmt.Sprintf("%s-%02d", table, i), Workflow: "main", DefName: "d", DefVer: 1,
			State: record.ExecRunning, CreatedAt: base.Add(time.Duration(i) * time.Second), UpdatedAt: base}
		if err := w.CreateExecution(ctx, e); err != nil {
			t.Fatal(err)
		}
		want = append([]string{e.ID}, want...)
	}
	list := func(st record.ExecState) []string {
		t.Helper()
		var ids []string
		q := store.ListQuery{State: st, Limit: 5}
		for {
			page, next, err := s.ListExecutions(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page {
				ids = append(ids, e.ID)
			}
			if next == "" {
				return ids
			}
			q.Cursor = next
		}
	}
	if d := cmp.Diff(want, list(record.ExecRunning)); d != "" {
		t.Errorf("running heads (-want +got):\n%s", d)
	}
	// An older head that ends moves to its state's shard of the sharded
	// layout, and is listed there.
	e, err := s.GetExecution(ctx, want[len(want)-1])
	if err != nil {
		t.Fatal(err)
	}
	e.Version++
	e.State = record.ExecSuccess
	if err := s.CommitExecution(ctx, e); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{e.ID}, list(record.ExecSuccess)); d != "" {
		t.Errorf("ended heads (-want +got):\n%s", d)
	}
	if d := cmp.Diff(want[:len(want)-1], list(record.ExecRunning)); d != "" {
		t.Errorf("running heads after one ended (-want +got):\n%s", d)
	}
}
