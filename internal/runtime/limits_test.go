package runtime_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/engine"
	"github.com/borawf/bora/internal/runtime"
)

func TestLimitsFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		want    engine.Limits
		wantErr []string
	}{
		{name: "unset is the defaults", env: nil, want: engine.Limits{}},
		{
			name: "every limit",
			env: map[string]string{
				runtime.EnvExprMaxSteps: "5000", runtime.EnvExprMaxBytes: "1MiB", runtime.EnvMaxValueBytes: "64KiB",
				runtime.EnvMaxInfoBytes: "4096", runtime.EnvMaxDepth: "3",
			},
			want: engine.Limits{ExprSteps: 5000, ExprBytes: 1 << 20, ValueBytes: 64 << 10, InfoBytes: 4096, Depth: 3},
		},
		{
			name:    "values over the record's room",
			env:     map[string]string{runtime.EnvMaxValueBytes: "200KiB"},
			wantErr: []string{"ValueBytes is 200 KiB, more than 160 KiB"},
		},
		{
			name:    "bad values are all reported",
			env:     map[string]string{runtime.EnvExprMaxSteps: "-1", runtime.EnvMaxValueBytes: "lots", runtime.EnvMaxDepth: "2KiB"},
			wantErr: []string{"BORA_EXPR_MAX_STEPS=\"-1\"", "BORA_MAX_VALUE_BYTES=\"lots\"", "BORA_MAX_DEPTH=\"2KiB\"", "KiB or MiB"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := runtime.LimitsFromEnv(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if tt.wantErr != nil {
				for _, w := range tt.wantErr {
					if err == nil || !strings.Contains(err.Error(), w) {
						t.Errorf("error %v does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("limits (-want +got):\n%s", diff)
			}
		})
	}
}
