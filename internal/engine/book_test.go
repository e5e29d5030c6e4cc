package engine

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// TestDoneSet sets items of a set in random orders and checks it against
// a plain map: membership, counts below every bound, and a JSON round
// trip after each set; items set in order keep it a few bytes long.
func TestDoneSet(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		n := 1 + rng.IntN(300)
		order := rng.Perm(n)
		if round%2 == 0 {
			// Mostly in order, as items end: swap a few neighbours.
			for i := range order {
				order[i] = i
			}
			for range n / 10 {
				i := rng.IntN(n - 1)
				order[i], order[i+1] = order[i+1], order[i]
			}
		}
		var d doneSet
		want := map[int]bool{}
		for _, i := range order {
			d.set(i)
			want[i] = true
			raw, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			var back doneSet
			if err := json.Unmarshal(raw, &back); err != nil {
				t.Fatalf("decode %s: %v", raw, err)
			}
			c := 0
			for k := 0; k <= n; k++ {
				if back.has(k) != want[k] {
					t.Fatalf("round %d: has(%d) = %v after %s, want %v", round, k, back.has(k), raw, want[k])
				}
				if got := back.below(k); got != c {
					t.Fatalf("round %d: below(%d) = %d after %s, want %d", round, k, got, raw, c)
				}
				if want[k] {
					c++
				}
			}
		}
		if raw, _ := json.Marshal(d); round%2 == 0 && len(raw) > 16 {
			t.Errorf("round %d: a set of %d items ended in order is %s", round, n, raw)
		}
	}
	// A bitmap alone, as earlier versions wrote it, is a set from 0.
	var old doneSet
	if err := json.Unmarshal([]byte(`"BQ"`), &old); err != nil || !old.has(0) || old.has(1) || !old.has(2) || old.below(8) != 2 {
		t.Errorf("old bitmap decoded as %+v, %v", old, err)
	}
}
