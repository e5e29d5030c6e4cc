package dynamo_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"slices"
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

// TestDueIndexFollowsDue moves units' due times later and earlier and
// checks that DueUnits lists each unit exactly when it is due: the index
// keeps a lower bound of the due time, which writes only lower and
// DueUnits raises.
func TestDueIndexFollowsDue(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	s := dynamo.New(client, table, dynamo.WithDueShards(2))
	ctx := t.Context()
	base := time.Now().UTC().Truncate(time.Millisecond)
	ex := "due-" + table
	key := func(task string) record.UnitKey { return record.UnitKey{ExecID: ex, Task: task} }
	for _, task := range []string{"later#1", "earlier#1", "heartbeat#1"} {
		u := &record.Unit{UnitKey: key(task), State: record.Scheduled, Attempt: 1, Fence: "f", Due: base.Add(10 * time.Second)}
		if err := s.CreateUnit(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	update := func(task string, from, to record.State, due time.Time) {
		t.Helper()
		u, err := s.UpdateUnit(ctx, key(task), record.Expect{States: []record.State{from}, Attempt: 1, Fence: "f"},
			record.UnitChange{State: to, Due: due})
		if err != nil {
			t.Fatalf("UpdateUnit(%s): %v", task, err)
		}
		if !u.Due.Equal(due) {
			t.Fatalf("UpdateUnit(%s) Due = %v, want %v", task, u.Due, due)
		}
	}
	// Claimed with a lease ending later than the message's due time.
	update("later#1", record.Scheduled, record.Running, base.Add(30*time.Second))
	// Delayed to an earlier time than the index held.
	update("earlier#1", record.Scheduled, record.Delayed, base.Add(5*time.Second))
	// Claimed, then two heartbeats.
	update("heartbeat#1", record.Scheduled, record.Running, base.Add(20*time.Second))
	update("heartbeat#1", record.Running, record.Running, base.Add(40*time.Second))

	listed := func(at time.Duration) []string {
		t.Helper()
		units, err := s.DueUnits(ctx, base.Add(at), 100)
		if err != nil {
			t.Fatalf("DueUnits(+%v): %v", at, err)
		}
		var tasks []string
		for _, u := range units {
			if u.ExecID == ex {
				tasks = append(tasks, u.Task)
			}
		}
		slices.Sort(tasks)
		return tasks
	}
	for _, tc := range []struct {
		at   time.Duration
		want []string
	}{
		{4 * time.Second, nil},
		{5 * time.Second, []string{"earlier#1"}},
		{15 * time.Second, []string{"earlier#1"}}, // past the first due time: the others have moved on
		{15 * time.Second, []string{"earlier#1"}}, // again, after the index entries were raised
		{30 * time.Second, []string{"earlier#1", "later#1"}},
		{45 * time.Second, []string{"earlier#1", "heartbeat#1", "later#1"}},
	} {
		if d := cmp.Diff(tc.want, listed(tc.at)); d != "" {
			t.Errorf("DueUnits(+%v) of this execution (-want +got):\n%s", tc.at, d)
		}
	}
	// A heartbeat that moves the lease earlier than the raised index entry.
	update("heartbeat#1", record.Running, record.Running, base.Add(25*time.Second))
	if d := cmp.Diff([]string{"earlier#1", "heartbeat#1"}, listed(26*time.Second)); d != "" {
		t.Errorf("DueUnits after an earlier heartbeat (-want +got):\n%s", d)
	}
}

var seedFlag = flag.Uint64("seed", 0, "seed for TestUnitsAgreeWithMemory (0: a new one)")
