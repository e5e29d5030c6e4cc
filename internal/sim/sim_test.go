package sim

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/borawf/bora/internal/engine"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
)

var (
	seeds    = flag.Int("seeds", 1000, "number of seeds, spread across the workflow shapes")
	onlySeed = flag.Uint64("seed", 0, "replay this one seed (its shape is seed % number of shapes, or -shape)")
	shape    = flag.String("shape", "", "with -seed: the shape to run it on, by name")
)

// hardSeeds are seeds that once found a violation, with the shape they
// found it on: TestSimulation runs them besides its sweep. A change to the
// simulation's draws sends a seed down another path, so each fix also has
// a focused test of the interleaving its seed found.
var hardSeeds = []struct {
	seed  uint64
	shape string
}{
	// A dead-lettered event's fail step taken beside its execution's
	// group: a task finished CANCELLED in an execution that then
	// succeeded (runtime TestDeadLetterFailsThroughTheGroup).
	{6369, "linear"},
	// A child's last step committed its end, its send to the parent
	// failed, and the event was then dead-lettered: the parent waited for
	// ever (runtime TestDeadLetterOfAnEndCarriesOutItsEffects).
	{88039, "subworkflow"},
}

// TestSimulation runs the seeds under every fault at once and checks the
// rules of docs/protocol.md and that each run ends as the fault-free run
// of its workflow does. A failing seed is printed with the command that
// replays it.
func TestSimulation(t *testing.T) {
	ctx := context.Background()
	baseline := map[string]*runtime.Document{}
	for _, sh := range Shapes {
		r, err := Run(ctx, sh, 0, Faults{})
		if err != nil {
			t.Fatalf("fault-free run of %s: %v", sh.Name, err)
		}
		if len(r.Violations) > 0 {
			t.Fatalf("fault-free run of %s: %s", sh.Name, strings.Join(r.Violations, "; "))
		}
		if want := cmp.Or(sh.Want, "SUCCESS"); string(r.Doc.State) != want {
			t.Fatalf("fault-free run of %s ended %s, want %s: %s", sh.Name, r.Doc.State, want, r.Doc.StateInfo)
		}
		baseline[sh.Name] = r.Doc
	}

	type run struct {
		seed  uint64
		shape Shape
	}
	byName := map[string]Shape{}
	for _, sh := range Shapes {
		byName[sh.Name] = sh
	}
	list := make([]run, 0, *seeds+len(hardSeeds))
	if *onlySeed != 0 {
		sh := Shapes[*onlySeed%uint64(len(Shapes))]
		if *shape != "" {
			var ok bool
			if sh, ok = byName[*shape]; !ok {
				t.Fatalf("no shape %q", *shape)
			}
		}
		list = append(list, run{*onlySeed, sh})
	} else {
		for i := 1; i <= *seeds; i++ {
			list = append(list, run{uint64(i), Shapes[uint64(i)%uint64(len(Shapes))]})
		}
		for _, h := range hardSeeds {
			sh, ok := byName[h.shape]
			if !ok {
				t.Fatalf("hard seed %d: no shape %q", h.seed, h.shape)
			}
			if !slices.Contains(list, run{h.seed, sh}) {
				list = append(list, run{h.seed, sh})
			}
		}
	}
	var (
		mu         sync.Mutex
		violations int
		faults     = map[string]int{}
	)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for _, rn := range list {
		seed, sh := rn.seed, rn.shape
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r, err := Run(ctx, sh, seed, All)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				violations++
				t.Errorf("seed %d (%s): %v\n  replay: go test ./internal/sim -run 'TestSimulation$' -seed=%d -shape=%s", seed, sh.Name, err, seed, sh.Name)
				return
			}
			problems := r.Violations
			switch {
			case r.Poisoned && r.Doc.State == "ERROR" && strings.Contains(r.Doc.StateInfo, "dead-lettered after"):
				// An event killed its process at every delivery: the
				// dead-letter handler failed its execution, saying so.
			case r.Doc.State == "ERROR" && lostTooOften(r.Doc):
				// A task's worker was lost more often than safe-rerun
				// runs an item again: the last loss is an ordinary
				// error, as designed (engine.MaxLostReruns).
			case r.Cancelled && r.Doc.State == "CANCELLED":
				// Cancelled mid-flight: the invariants above are the check.
			case r.Cancelled && r.Doc.State != baseline[sh.Name].State:
				problems = append(problems, fmt.Sprintf("cancelled run ended %s, want CANCELLED, or %s (as the fault-free run) when the cancel came after the end", r.Doc.State, baseline[sh.Name].State))
			default:
				problems = append(problems, Compare(baseline[sh.Name], r.Doc)...)
			}
			for k, n := range r.Faults {
				faults[k] += n
			}
			if r.Cancelled {
				faults["cancelled runs ending "+r.Doc.State]++
			}
			if r.Poisoned {
				faults["poisoned runs ending "+r.Doc.State]++
			}
			if len(problems) > 0 {
				violations += len(problems)
				t.Errorf("seed %d (%s), %d steps: %s\n  replay: go test ./internal/sim -run 'TestSimulation$' -seed=%d -shape=%s", seed, sh.Name, r.Steps, strings.Join(problems, "\n    "), seed, sh.Name)
			}
		})
	}
	wg.Wait()
	t.Logf("faults injected: %v", faults)
	fmt.Println(Summary(len(list), violations))
}

// lostTooOften reports whether an execution failed on a task whose worker
// was lost on more attempts than safe-rerun runs again.
func lostTooOften(d *runtime.Document) bool {
	for _, t := range d.Tasks {
		if t.State == "ERROR" && record.IsLost(t.Error) && t.Attempts > engine.MaxLostReruns {
			return true
		}
	}
	return false
}
