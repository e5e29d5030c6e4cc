package dynamo

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/borawf/bora/internal/record"
)

// AWS's published limits the model checks against (docs/scale.md).
const (
	partitionWriteUnits = 1000 // per second, one partition of a table or index
	partitionReadUnits  = 3000
	// headroom is the share of a partition's limit the model allows: hash
	// spreading is not perfect and load comes in bursts.
	headroom = 0.8
)

// indexModel is a DynamoDB client that keeps items in memory and counts
// the write units DynamoDB would consume per partition key: of the table,
// and of each global secondary index as TableDefinition declares it. An
// index is written when an item enters one of its partitions (a put of
// the projected entry), leaves one (a delete), or stays while a projected
// attribute changes; a write that touches neither an index key nor a
// projected attribute costs that index nothing. Conditions are not
// evaluated: the model follows writes that succeed.
type indexModel struct {
	DynamoDBAPI // nil: a call the model does not know panics
	items       map[string]item
	indexes     []modelIndex
	writes      map[string]map[string]float64 // "table" or index name → partition key → units
}

type modelIndex struct {
	name, pk, sk string
	projected    []string // beyond the table's and the index's keys
}

func newIndexModel() *indexModel {
	m := &indexModel{items: map[string]item{}, writes: map[string]map[string]float64{"table": {}}}
	for _, g := range TableDefinition("model").GlobalSecondaryIndexes {
		ix := modelIndex{name: *g.IndexName, pk: *g.KeySchema[0].AttributeName, sk: *g.KeySchema[1].AttributeName}
		if g.Projection.ProjectionType == types.ProjectionTypeInclude {
			ix.projected = g.Projection.NonKeyAttributes
		}
		m.indexes = append(m.indexes, ix)
		m.writes[ix.name] = map[string]float64{}
	}
	return m
}

// units is what writing an item of n bytes costs: one unit per KB begun.
func units(n int) float64 { return float64((n + 1023) / 1024) }

func (m *indexModel) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	pk := in.Item[aPK].(*types.AttributeValueMemberS).Value
	k := pk + "\x00" + in.Item[aSK].(*types.AttributeValueMemberS).Value
	old := m.items[k]
	m.items[k] = in.Item
	m.writes["table"][pk] += units(max(itemSize(in.Item), itemSize(old)))
	for _, ix := range m.indexes {
		m.indexWrite(ix, old, in.Item)
	}
	return &dynamodb.PutItemOutput{}, nil
}

// entry is an item's entry in an index: its partition key ("" when the
// item is not in the index) and the entry's attributes.
func (ix modelIndex) entry(it item) (string, item) {
	p, ok := it[ix.pk].(*types.AttributeValueMemberS)
	if !ok || it[ix.sk] == nil {
		return "", nil
	}
	e := item{}
	for _, a := range append([]string{aPK, aSK, ix.pk, ix.sk}, ix.projected...) {
		if v, ok := it[a]; ok {
			e[a] = v
		}
	}
	return p.Value, e
}

func (m *indexModel) indexWrite(ix modelIndex, old, new item) {
	op, oe := ix.entry(old)
	np, ne := ix.entry(new)
	w := m.writes[ix.name]
	switch {
	case op == "" && np == "":
	case op == np && sameEntry(oe, ne):
		// Neither key nor projected attribute changed: no index write.
	case op == np:
		w[np] += units(itemSize(ne))
	default:
		if op != "" {
			w[op] += units(itemSize(oe))
		}
		if np != "" {
			w[np] += units(itemSize(ne))
		}
	}
}

// sameEntry tells whether two index entries hold the same attributes.
func sameEntry(a, b item) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok {
			return false
		}
		switch x := va.(type) {
		case *types.AttributeValueMemberS:
			y, ok := vb.(*types.AttributeValueMemberS)
			if !ok || x.Value != y.Value {
				return false
			}
		case *types.AttributeValueMemberN:
			y, ok := vb.(*types.AttributeValueMemberN)
			if !ok || x.Value != y.Value {
				return false
			}
		default:
			return false // not in Bora's index entries: count it as changed
		}
	}
	return true
}

// load is the write units per second each partition of the table and of
// the indexes takes.
type load map[string]map[string]float64

// hottest returns a store's hottest partition of one index (or "table"):
// its key and units per second.
func (l load) hottest(index string) (string, float64) {
	var key string
	var most float64
	for _, k := range slices.Sorted(maps.Keys(l[index])) {
		if v := l[index][k]; v > most {
			key, most = k, v
		}
	}
	return key, most
}

// executionsPerSecond runs the heads of one second's executions at rate
// through a store on the model: each is created (RUNNING, with a Due),
// committed steps times (the engine's commits of a running execution) and
// ends (SUCCESS, its Due cleared). In a steady state the executions that
// end each second are as many as those that start, so one lifecycle each
// is one second's writes.
func executionsPerSecond(t *testing.T, rate, steps int, opts ...Option) load {
	t.Helper()
	m := newIndexModel()
	s := New(m, "model", opts...)
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(uint64(rate), 10))
	at := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	for i := range rate {
		// Ids drawn as the runtime draws them (random, UUID-shaped), from
		// a fixed seed so that the figures repeat.
		id := fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", rnd.Uint32(), rnd.Uint32()&0xffff, rnd.Uint32()&0xfff, rnd.Uint32()&0x3fff|0x8000, rnd.Uint64()&0xffffffffffff)
		created := at.Add(time.Duration(i) * time.Second / time.Duration(rate))
		e := &record.Execution{
			ID: id, Workflow: "main", DefName: "orders", DefVer: 1, State: record.ExecRunning,
			Input: json.RawMessage(`{"order":12345}`), Engine: json.RawMessage(`{"active":{"t#1":1}}`),
			Due: created.Add(10 * time.Minute), CreatedAt: created, UpdatedAt: created,
		}
		if err := s.CreateExecution(ctx, e); err != nil {
			t.Fatal(err)
		}
		for range steps {
			e.Version++
			e.UpdatedAt = e.UpdatedAt.Add(time.Millisecond)
			if err := s.CommitExecution(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		e.Version++
		e.State, e.Due, e.Output = record.ExecSuccess, time.Time{}, json.RawMessage(`{"ok":true}`)
		if err := s.CommitExecution(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	return load(m.writes)
}

// TestScaleModel is the model of docs/scale.md for the table: at 1, 100
// and 10,000 executions started a second, the write units a second that
// each partition key of the table and of its indexes takes, measured on
// the items the store writes. No partition may take more than its share
// (headroom) of DynamoDB's 1,000 units a second; the same model finds the
// indexes hot when they are not sharded.
func TestScaleModel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		rate int
		opts []Option
		hot  []string // indexes the model must find hot
	}{
		{name: "1 a second", rate: 1},
		{name: "100 a second", rate: 100},
		{name: "10,000 a second", rate: 10000},
		{name: "10,000 a second, indexes not sharded", rate: 10000,
			opts: []Option{WithStateShards(1), WithDueShards(1)}, hot: []string{indexByState, indexDue}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := executionsPerSecond(t, tc.rate, 3, tc.opts...)
			var lines []string
			for _, index := range []string{"table", indexByState, indexDue} {
				key, most := l.hottest(index)
				over := most > headroom*partitionWriteUnits
				lines = append(lines, fmt.Sprintf("%-8s %4d partitions written, hottest %-16s %7.0f WCU/s (%3.0f%% of %d)",
					index, len(l[index]), key, most, 100*most/partitionWriteUnits, partitionWriteUnits))
				if want := slices.Contains(tc.hot, index); over != want {
					t.Errorf("%s: hottest partition %s takes %.0f write units a second; over %.0f: %v, want %v",
						index, key, most, headroom*partitionWriteUnits, over, want)
				}
			}
			t.Logf("%d executions started a second:\n%s", tc.rate, strings.Join(lines, "\n"))
		})
	}
}

// TestScaleModelCountsIndexWrites checks the model on one execution
// against what docs/aws.md measures on the emulator: the start writes the
// table and both indexes, a commit that keeps the state and Due writes the
// table only, and the end moves the head in by-state and drops it from
// by-due.
func TestScaleModelCountsIndexWrites(t *testing.T) {
	t.Parallel()
	l := executionsPerSecond(t, 1, 1)
	sum := func(index string) float64 {
		var n float64
		for _, v := range l[index] {
			n += v
		}
		return n
	}
	for _, c := range []struct {
		index string
		want  float64
	}{{"table", 3}, {indexByState, 3}, {indexDue, 2}} {
		if got := sum(c.index); got != c.want {
			t.Errorf("%s: %v write units for one execution (created, committed once, ended), want %v", c.index, got, c.want)
		}
	}
	if n := len(l[indexByState]); n != 2 {
		t.Errorf("by-state: %d partitions written, want 2 (its RUNNING and SUCCESS shards)", n)
	}
}
