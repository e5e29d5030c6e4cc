package dsl

import (
	"os"
	"path/filepath"
	"testing"
)

// TestReferenceExamples loads every example of the Mistral language
// reference (testdata/reference; fragments wrapped into workflows, see each
// file's header) and the example workflows shipped with Bora.
func TestReferenceExamples(t *testing.T) {
	t.Parallel()
	var files []string
	for _, pattern := range []string{"testdata/reference/*.yaml", "../../events/examples/*.yaml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 30 {
		t.Fatalf("found only %d example files", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			b, diags := Load(file, src)
			if diags.HasErrors() || b == nil {
				t.Fatalf("Load failed:\n%s", diags)
			}
			for _, d := range diags {
				t.Log(d)
			}
			if len(b.Order) == 0 && len(b.Actions) == 0 {
				t.Error("no workflow or action loaded")
			}
		})
	}
}
