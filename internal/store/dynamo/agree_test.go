package dynamo_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
	"github.com/borawf/bora/internal/store/dynamo"
	"github.com/borawf/bora/internal/store/memory"
)

// TestUnitsAgreeWithMemory applies the same random unit writes to this
// store and to the in-memory reference store and checks that they agree
// on every answer: what UpdateUnit returns or refuses, what GetUnit reads,
// and how the task that holds item 0 reads. It covers the condition
// expressions, in a unit's own item and in its task's, with more
// combinations than the contract suite spells out. The seed is logged; a
// failure replays with -seed.
func TestUnitsAgreeWithMemory(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	seed := uint64(time.Now().UnixNano())
	if *seedFlag != 0 {
		seed = *seedFlag
	}
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	ctx := t.Context()
	ddb, mem := dynamo.New(client, table, dynamo.WithDueShards(3)), memory.New()
	ex := fmt.Sprintf("agree-%d", seed)
	base := time.Now().UTC().Truncate(time.Millisecond)
	states := []record.State{record.Waiting, record.Delayed, record.Scheduled, record.Running,
		record.Paused, record.Success, record.Error, record.Cancelled}
	fences := []string{"", "f1", "f2"}
	pick := func(n int) int { return rng.IntN(n) }
	when := func() time.Time {
		if pick(4) == 0 {
			return time.Time{}
		}
		return base.Add(time.Duration(pick(60)) * time.Second)
	}
	task := &record.Task{ExecID: ex, Key: "t#1", Name: "t", Seq: 1, State: record.Running, Items: 6, WithItems: true,
		UnitEnds: rng.IntN(2) == 0, Inbound: []byte(`{"x":1}`), CreatedAt: base}
	for _, s := range []store.Store{ddb, mem} {
		if err := s.CreateTask(ctx, task); err != nil {
			t.Fatalf("CreateTask: %v", err)
		}
	}
	var keys []record.UnitKey
	for i := range 6 {
		u := &record.Unit{UnitKey: record.UnitKey{ExecID: ex, Task: "t#1", Item: i}, State: states[pick(len(states))],
			Attempt: 1 + pick(2), Fence: fences[1+pick(2)], Action: "std.noop", Input: []byte(`{"i":` + fmt.Sprint(i) + `}`), Due: when()}
		for _, s := range []store.Store{ddb, mem} {
			if err := s.CreateUnit(ctx, u); err != nil {
				t.Fatalf("CreateUnit: %v", err)
			}
		}
		keys = append(keys, u.UnitKey)
	}
	class := func(err error) string {
		switch {
		case err == nil:
			return "ok"
		case errors.Is(err, store.ErrConflict):
			return "conflict"
		case errors.Is(err, store.ErrNotFound):
			return "not found"
		}
		return err.Error()
	}
	opts := []cmp.Option{cmpopts.EquateEmpty()}
	outcomes := map[string]int{}
	t.Cleanup(func() { t.Logf("writes: %v", outcomes) })
	for step := range 150 {
		k := keys[pick(len(keys))]
		if pick(8) == 0 {
			var got [2]*record.Task
			for i, s := range []store.Store{ddb, mem} {
				tk, err := s.GetTask(ctx, ex, "t#1")
				if err != nil {
					t.Fatalf("step %d: GetTask: %v", step, err)
				}
				got[i] = tk
			}
			if d := cmp.Diff(got[1], got[0], opts...); d != "" {
				t.Fatalf("seed %d step %d: GetTask (-memory +dynamo):\n%s", seed, step, d)
			}
			continue
		}
		var x record.Expect
		for _, st := range states {
			if pick(3) == 0 {
				x.States = append(x.States, st)
			}
		}
		x.Attempt = pick(3)
		x.Fence = fences[pick(3)]
		x.Awaiting = pick(3) == 0
		if pick(2) == 0 {
			// Half the writes expect what is there, so that most succeed.
			cur, _ := mem.GetUnit(ctx, k)
			x.States = append(x.States, cur.State)
			x.Attempt = []int{0, cur.Attempt}[pick(2)]
			x.Fence = []string{"", cur.Fence}[pick(2)]
		}
		c := record.UnitChange{State: states[pick(len(states))], Due: when(), Attempt: pick(3), Fence: fences[pick(3)]}
		switch pick(5) {
		case 0:
			c.Result = []byte(fmt.Sprintf(`{"r":%d}`, step))
		case 1:
			c.Error, c.NoRetry = []byte(fmt.Sprintf(`"e%d"`, step)), pick(2) == 0
		case 2:
			c.ClearOutcome = true
		}
		if pick(3) == 0 {
			c.Started = base.Add(time.Duration(step) * time.Millisecond)
		}
		if pick(3) == 0 {
			c.Finished = base.Add(time.Duration(step) * time.Millisecond)
		}
		gotD, errD := ddb.UpdateUnit(ctx, k, x, c)
		gotM, errM := mem.UpdateUnit(ctx, k, x, c)
		outcomes[class(errM)]++
		if class(errD) != class(errM) {
			t.Fatalf("seed %d step %d: UpdateUnit(%s, %+v, %+v): dynamo %v, memory %v", seed, step, k, x, c, errD, errM)
		}
		if d := cmp.Diff(gotM, gotD, opts...); d != "" {
			t.Fatalf("seed %d step %d: UpdateUnit returned (-memory +dynamo):\n%s", seed, step, d)
		}
		readD, err := ddb.GetUnit(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		readM, _ := mem.GetUnit(ctx, k)
		if d := cmp.Diff(readM, readD, opts...); d != "" {
			t.Fatalf("seed %d step %d: GetUnit after UpdateUnit(%+v, %+v) (-memory +dynamo):\n%s", seed, step, x, c, d)
		}
	}
}
