package dsl

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestOffsetPos maps offsets inside scalars of every style back to the
// source: the position of the marker `!` in each value must be where the
// `!` is in the file.
func TestOffsetPos(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
	}{
		{name: "plain", src: "k: abc !def\n"},
		{name: "double quoted", src: "k: \"a \\\"b\\\" !c\"\n"},
		{name: "single quoted", src: "k: 'it''s !'\n"},
		{name: "literal block", src: "k: |\n  line one\n  line !two\n"},
		{name: "folded block", src: "k: >\n  folded\n  text !here\n"},
		{name: "multi-line plain", src: "k: first\n  second !third\n"},
		{name: "multi-line double quoted", src: "k: \"first\n  second !third\"\n"},
		{name: "flow sequence", src: "k: [a, 'b !c']\n"},
		{name: "after non-ASCII", src: "k: \"été !x\"\n"},
		{name: "indented", src: "a:\n  b:\n    - c: x !y\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tc.src), &doc); err != nil {
				t.Fatal(err)
			}
			n := findScalar(&doc, "!")
			if n == nil {
				t.Fatal("no scalar holds the marker")
			}
			l := &loader{src: []byte(tc.src)}
			got := l.offsetPos(n, strings.Index(n.Value, "!"))
			line, col := l.lineCol(strings.Index(tc.src, "!"))
			if want := (Pos{line, col}); got != want {
				t.Errorf("offsetPos = %v, want %v (value %q)", got, want, n.Value)
			}
		})
	}
}

func findScalar(n *yaml.Node, marker string) *yaml.Node {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, marker) {
		return n
	}
	for _, c := range n.Content {
		if f := findScalar(c, marker); f != nil {
			return f
		}
	}
	return nil
}
