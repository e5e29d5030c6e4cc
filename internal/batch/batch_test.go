package batch

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestProcess(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	tests := []struct {
		name        string
		msgs        []Message
		fail        map[string]bool // ids whose handler fails
		wantHandled []string
		wantFailed  []Failure
	}{
		{
			name:        "all succeed",
			msgs:        []Message{{ID: "1", Group: "a"}, {ID: "2", Group: "b"}},
			wantHandled: []string{"1", "2"},
		},
		{
			name:        "a failure skips the rest of its group only",
			msgs:        []Message{{ID: "1", Group: "a"}, {ID: "2", Group: "b"}, {ID: "3", Group: "a"}, {ID: "4", Group: "b"}},
			fail:        map[string]bool{"1": true},
			wantHandled: []string{"1", "2", "4"},
			wantFailed:  []Failure{{ID: "1", Err: boom}, {ID: "3", Skipped: true}},
		},
		{
			name:        "standard queue messages fail alone",
			msgs:        []Message{{ID: "1"}, {ID: "2"}, {ID: "3"}},
			fail:        map[string]bool{"2": true},
			wantHandled: []string{"1", "2", "3"},
			wantFailed:  []Failure{{ID: "2", Err: boom}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var handled []string
			got := Process(context.Background(), tt.msgs, func(_ context.Context, m Message) error {
				handled = append(handled, m.ID)
				if tt.fail[m.ID] {
					return boom
				}
				return nil
			})
			if diff := cmp.Diff(tt.wantHandled, handled); diff != "" {
				t.Errorf("handled (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFailed, got, cmp.Comparer(func(a, b error) bool { return errors.Is(a, b) })); diff != "" {
				t.Errorf("failures (-want +got):\n%s", diff)
			}
		})
	}
}

// TestProcessStopsBeforeTheDeadline: with less than Reserve left before
// the context's deadline, no further message is started; those left are
// reported for delivery again, not cut short mid-step.
func TestProcessStopsBeforeTheDeadline(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), Reserve/2)
	defer cancel()
	var handled int
	got := Process(ctx, []Message{{ID: "1"}, {ID: "2"}}, func(context.Context, Message) error {
		handled++
		return nil
	})
	if handled != 0 || len(got) != 2 || !errors.Is(got[0].Err, ErrNoTime) {
		t.Errorf("handled %d, failures %+v; want none handled, both failed with ErrNoTime", handled, got)
	}
}
