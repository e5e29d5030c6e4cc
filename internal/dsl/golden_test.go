package dsl

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestDiagnosticsGolden loads each testdata/errors/*.yaml and compares its
// diagnostics with the .golden file next to it. Run with -update to rewrite
// them after a deliberate change of wording.
func TestDiagnosticsGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/errors/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no test files under testdata/errors")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			b, diags := Load(filepath.ToSlash(file), src)
			// warn-*.yaml hold valid documents with warnings.
			wantErr := !strings.HasPrefix(name, "warn-")
			if diags.HasErrors() != wantErr {
				t.Errorf("Load of %s: HasErrors() = %v, want %v", file, diags.HasErrors(), wantErr)
			}
			if (b == nil) != wantErr {
				t.Errorf("Load of %s: bundle = %v, want one only when valid", file, b)
			}
			got := diags.String() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("diagnostics differ from %s (-want +got):\n%s", golden, diff)
			}
		})
	}
}
