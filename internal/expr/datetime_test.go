package expr

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestHostFunctions: now(), global() and executions() answer from the
// host, which the engine fills from its inputs.
func TestHostFunctions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src  string
		want any
	}{
		{"<% now() %>", "2026-01-02T03:04:05.600000"},
		{"<% now().year %>", int64(2026)},
		{"<% now(timespan(hours => 2)).hour %>", int64(5)},
		{"<% now() - timespan(days => 1) < now() %>", true},
		{"<% [now(), {t => now().date}] %>", []any{"2026-01-02T03:04:05.600000", map[string]any{"t": "2026-01-02T00:00:00.000000"}}},
		{"at <% now() %>", "at 2026-01-02 03:04:05.600000+00:00"},
		{"<% now().format('%H:%M:%S.%f') %>", "03:04:05.600000"},
		{"<% timespan(minutes => 2) %>", "0:02:00"},
		{"<% global('g') %>", "global value"},
		{"{{ global('missing') }}", nil},
		{"<% executions().id %>", []any{"e1", "e2"}},
		{"<% executions(state => 'RUNNING').id %>", []any{"e2"}},
		{"<% executions('e1').len() %>", int64(1)},
	}
	for _, tt := range tests {
		got, err := evalString(t, tt.src, map[string]any{})
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.src, diff)
		}
	}
}
