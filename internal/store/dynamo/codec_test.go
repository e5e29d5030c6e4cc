package dynamo

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/borawf/bora/internal/record"
)

func TestUnitCodec(t *testing.T) {
	t.Parallel()
	s := New(nil, "t")
	at := time.Unix(1700000000, 123456789).UTC()
	tests := []struct {
		name   string
		unit   record.Unit
		binary string
	}{
		{"scheduled with due", record.Unit{UnitKey: record.UnitKey{ExecID: "e", Task: "a#1", Item: 7}, State: record.Scheduled, Attempt: 1, Fence: "f", Due: at,
			Input: json.RawMessage(`{"x": "ü"}`), Timeout: time.Second}, ""},
		{"waiting with due", record.Unit{UnitKey: record.UnitKey{ExecID: "e", Task: "a#1", Item: 1}, State: record.Waiting, Attempt: 1, Due: at}, ""},
		{"task key with hashes", record.Unit{UnitKey: record.UnitKey{ExecID: "e#x", Task: "a#b#12", Item: 123456789}, State: record.Success, Attempt: 2,
			Result: json.RawMessage(`"ok"`), NoRetry: true, Started: at, Finished: at.Add(time.Second)}, ""},
		{"invalid UTF-8 stored as binary", record.Unit{UnitKey: record.UnitKey{ExecID: "e", Task: "a#1", Item: 2}, State: record.Error, Attempt: 1,
			Error: json.RawMessage("\"\xff\"")}, aError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			it := s.encodeUnit(&tt.unit)
			got, err := decodeUnit(it)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(&tt.unit, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("round trip (-want +got):\n%s", d)
			}
			if _, ok := it[aDueSK]; ok {
				t.Errorf("unit in the due index: only heads are")
			}
			if tt.binary != "" {
				if _, ok := it[tt.binary].(*types.AttributeValueMemberB); !ok {
					t.Errorf("%s stored as %T, want binary", tt.binary, it[tt.binary])
				}
			}
		})
	}
}

// TestTaskCodec round-trips tasks with and without their unit of item 0,
// whose attributes share the task's item under names of their own.
func TestTaskCodec(t *testing.T) {
	t.Parallel()
	s := New(nil, "t")
	at := time.Unix(1700000000, 123456789).UTC()
	unit := &record.Unit{UnitKey: record.UnitKey{ExecID: "e", Task: "a#1"}, State: record.Error, Attempt: 2, Fence: "f",
		Action: "std.echo", Input: json.RawMessage(`{"x":1}`), Due: at, Result: json.RawMessage(`"r"`), Error: json.RawMessage(`"e"`),
		NoRetry: true, Started: at, Finished: at.Add(time.Second)}
	for _, tk := range []*record.Task{
		{ExecID: "e", Key: "a#1", Name: "a", Seq: 1, State: record.Running, Items: 1, Inbound: json.RawMessage(`{}`), CreatedAt: at},
		{ExecID: "e", Key: "a#1", Name: "a", Seq: 1, State: record.Success, StateInfo: "i", Items: 1, UnitEnds: true,
			Inbound: json.RawMessage(`{}`), Published: json.RawMessage(`{"p":1}`), Result: json.RawMessage(`"t"`), Error: json.RawMessage(`"te"`),
			ChildID: "c", CreatedAt: at, FinishedAt: at.Add(2 * time.Second), Unit: unit},
	} {
		it := s.encodeTask(tk)
		got, err := decodeTask(it)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(tk, got, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("round trip (-want +got):\n%s", d)
		}
		if tk.Unit != nil {
			u, err := decodeUnit(it)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tk.Unit, u, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("unit read from the task's item (-want +got):\n%s", d)
			}
		}
	}
	e := s.encodeExec(&record.Execution{ID: "e", State: record.ExecRunning, Due: at})
	if _, ok := e[aDueSK]; !ok {
		t.Errorf("head with a Due not in the due index")
	}
}

func TestUnitSortKeyOrdersItems(t *testing.T) {
	t.Parallel()
	keys := []string{unitSK("a#1", 2), unitSK("a#1", 10), unitSK("a#1", 100)}
	for i := 1; i < len(keys); i++ {
		if keys[i-1] >= keys[i] {
			t.Errorf("%q sorts after %q", keys[i-1], keys[i])
		}
	}
}

func TestItemSize(t *testing.T) {
	t.Parallel()
	it := item{
		"pk": str("EX#1"),                                          // 2 + 4
		"n":  num(12345),                                           // 1 + 4
		"b":  &types.AttributeValueMemberB{Value: []byte{1, 2, 3}}, // 1 + 3
		"ok": &types.AttributeValueMemberBOOL{Value: true},         // 2 + 1
	}
	if got, want := itemSize(it), 6+5+4+3; got != want {
		t.Errorf("itemSize = %d, want %d", got, want)
	}
}
