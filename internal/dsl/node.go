package dsl

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// This file turns yaml.v3 nodes into JSON-like values (nil, bool, int64,
// float64, string, []any, map[string]any) while keeping positions, and
// reports what YAML allows but a workflow document does not.

// maxNodes bounds the values one document may expand to through aliases
// and merge keys, so that a few aliases cannot make a small file decode
// into gigabytes.
const maxNodes = 100_000

// pair is one key and value of a mapping, with merges and aliases resolved.
type pair struct {
	Key   string
	KeyN  *yaml.Node
	Value *yaml.Node
}

func posOf(n *yaml.Node) Pos {
	if n == nil {
		return Pos{Line: 1, Col: 1}
	}
	return Pos{Line: n.Line, Col: n.Column}
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// kindName names a node's kind for messages ("a mapping", "a list", ...).
func kindName(n *yaml.Node) string {
	n = resolve(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		}
		return "a string"
	}
	return "a document"
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// isString reports whether n is a scalar that YAML reads as a string.
func isString(n *yaml.Node) bool {
	n = resolve(n)
	return n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str"
}

// scalarText is the text of a scalar key or value; other nodes give "".
func scalarText(n *yaml.Node) string {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// pairs lists the entries of a mapping in document order. Merge keys (`<<`)
// bring in the entries of the merged mappings that are not set explicitly.
// A key given twice is an error named after what (e.g. "task").
func (l *loader) pairs(n *yaml.Node, what string) []pair {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	if l.enter(l.merging(), n) {
		return nil
	}
	defer delete(l.merging(), n)
	if l.inMerge > 0 || l.viaAlias > 0 {
		if l.nodes += len(n.Content) / 2; l.nodes > maxNodes {
			l.budgetExceeded(n)
			return nil
		}
	}
	out := make([]pair, 0, len(n.Content)/2)
	seen := make(map[string]*yaml.Node, len(n.Content)/2)
	var merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, l.mergePairs(v, what)...)
			continue
		}
		rk := resolve(k)
		if rk == nil || rk.Kind != yaml.ScalarNode {
			l.errorf(k, "a %s name must be a plain string, not %s", what, kindName(k))
			continue
		}
		key := rk.Value
		if first, dup := seen[key]; dup {
			// YAML parsers Mistral uses keep the last value of a key
			// given twice, silently: so does Bora, saying so.
			l.warnf(k, "duplicate %s `%s`; the first is at line %d, and this later one is used, as Mistral uses it", what, key, first.Line)
			for i := range out {
				if out[i].Key == key {
					out[i].KeyN, out[i].Value = k, v
				}
			}
			seen[key] = k
			continue
		}
		seen[key] = k
		out = append(out, pair{Key: key, KeyN: k, Value: v})
	}
	for _, p := range merged {
		if _, set := seen[p.Key]; !set {
			seen[p.Key] = p.KeyN
			out = append(out, p)
		}
	}
	return out
}

func (l *loader) mergePairs(v *yaml.Node, what string) []pair {
	if l.tooBig {
		return nil
	}
	l.inMerge++
	defer func() { l.inMerge-- }()
	v = resolve(v)
	switch {
	case v == nil:
		return nil
	case v.Kind == yaml.MappingNode:
		return l.pairs(v, what)
	case v.Kind == yaml.SequenceNode:
		var out []pair
		seen := map[string]bool{}
		for _, m := range v.Content {
			for _, p := range l.mergePairs(m, what) {
				if !seen[p.Key] { // earlier mappings win
					seen[p.Key] = true
					out = append(out, p)
				}
			}
		}
		return out
	}
	l.errorf(v, "`<<` merges a mapping or a list of mappings, not %s", kindName(v))
	return nil
}

func (l *loader) budgetExceeded(n *yaml.Node) {
	if !l.tooBig {
		l.tooBig = true
		l.errorf(n, "the document expands to more than %d values through its aliases", maxNodes)
	}
}

// enter marks a collection as being read in set and reports whether it
// already was: an alias inside a node that leads back to the node itself,
// which YAML allows but a workflow document cannot hold.
func (l *loader) enter(set map[*yaml.Node]bool, n *yaml.Node) bool {
	if set[n] {
		if !l.cyclic {
			l.cyclic = true
			l.errorf(n, "an alias (`*name`) inside this value leads back to the value itself")
		}
		return true
	}
	set[n] = true
	return false
}

// merging is the set of mappings whose entries are being listed.
func (l *loader) merging() map[*yaml.Node]bool {
	if l.inPairs == nil {
		l.inPairs = map[*yaml.Node]bool{}
	}
	return l.inPairs
}

// site is a string in the document that holds an expression: where it is
// and, for a string cut out of a scalar (an inline parameter), how far into
// the scalar's value it starts.
type site struct {
	S    string
	Node *yaml.Node
	Base int
}

// value decodes n into a JSON-like value. When sites is not nil, every
// string holding an expression is recorded in it with its node.
func (l *loader) value(n *yaml.Node, sites *[]site) any {
	if l.tooBig {
		return nil
	}
	if n != nil && n.Kind == yaml.AliasNode {
		l.viaAlias++
		defer func() { l.viaAlias-- }()
	}
	n = resolve(n)
	if n == nil {
		return nil
	}
	if l.viaAlias > 0 {
		if l.nodes++; l.nodes > maxNodes {
			l.budgetExceeded(n)
			return nil
		}
	}
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		if l.active == nil {
			l.active = map[*yaml.Node]bool{}
		}
		if l.enter(l.active, n) {
			return nil
		}
		defer delete(l.active, n)
	}
	switch n.Kind {
	case yaml.MappingNode:
		ps := l.pairs(n, "key")
		m := make(map[string]any, len(ps))
		for _, p := range ps {
			if sites != nil && hasExpr(p.Key) {
				*sites = append(*sites, site{S: p.Key, Node: p.KeyN})
			}
			m[p.Key] = l.value(p.Value, sites)
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			s[i] = l.value(c, sites)
		}
		return s
	case yaml.ScalarNode:
		v := l.scalar(n)
		if s, ok := v.(string); ok && sites != nil && hasExpr(s) {
			*sites = append(*sites, site{S: s, Node: n})
		}
		return v
	}
	return nil
}

// scalar decodes one scalar node as YAML 1.2's core schema reads it.
func (l *loader) scalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return n.Value
		}
		return b
	case "!!int":
		if i, err := strconv.ParseInt(n.Value, 10, 64); err == nil {
			return i
		}
		var i int64
		if err := n.Decode(&i); err == nil {
			return i
		}
		var f float64
		if err := n.Decode(&f); err == nil {
			return f
		}
		return n.Value
	case "!!float":
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			if err := n.Decode(&f); err != nil {
				return n.Value
			}
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			l.errorf(n, "`%s` is not a number JSON can hold; quote it if it is a string", n.Value)
			return nil
		}
		return f
	}
	return n.Value
}

// hasExpr reports whether s may hold a `<% %>` or `{{ }}` expression.
func hasExpr(s string) bool {
	return strings.Contains(s, "<%") || strings.Contains(s, "{{") || strings.Contains(s, "{%")
}

// isExpr reports whether s, trimmed, is exactly one expression.
func isExpr(s string) bool {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "<%") && strings.HasSuffix(s, "%>") && len(s) >= 4:
		return !strings.Contains(s[2:len(s)-2], "%>")
	case strings.HasPrefix(s, "{{") && strings.HasSuffix(s, "}}") && len(s) >= 4:
		return !strings.Contains(s[2:len(s)-2], "}}")
	}
	return false
}

// offsetPos maps a byte offset within the value of scalar n to a position
// in the source. The value and the source text are walked side by side;
// characters of the source that the value lacks (quotes, escapes,
// indentation, folded line breaks) are skipped.
func (l *loader) offsetPos(n *yaml.Node, off int) Pos {
	p := posOf(n)
	if off <= 0 || n == nil {
		if n != nil && (n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle)) != 0 {
			p.Col++
		}
		return p
	}
	start := l.lineStart(n.Line)
	if start < 0 {
		return p
	}
	// Column is counted in characters; find the byte where the node starts.
	i := start
	for c := 1; c < n.Column && i < len(l.src); c++ {
		_, size := utf8.DecodeRune(l.src[i:])
		i += size
	}
	switch {
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		// Skip the indicator line; the value starts on the next line.
		for i < len(l.src) && l.src[i] != '\n' {
			i++
		}
	case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
		i++
	}
	val := n.Value
	line, col := l.lineCol(i)
	v := 0
	for i < len(l.src) && v < off && v < len(val) {
		sc := l.src[i]
		switch {
		case sc == val[v]:
			v++
		case val[v] == ' ' && sc == '\n':
			// A folded line break reads as a space.
			v++
		}
		if sc == '\n' {
			line, col = line+1, 1
		} else if sc&0xC0 != 0x80 {
			col++
		}
		i++
	}
	// Skip indentation so the position lands on a character.
	for i < len(l.src) && (l.src[i] == ' ' || l.src[i] == '\n') && v < len(val) && val[v] != ' ' && val[v] != '\n' {
		if l.src[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i++
	}
	return Pos{Line: line, Col: col}
}

// lineStart returns the byte offset of 1-based line n, or -1.
func (l *loader) lineStart(n int) int {
	if l.lines == nil {
		l.lines = []int{0}
		for i, c := range l.src {
			if c == '\n' {
				l.lines = append(l.lines, i+1)
			}
		}
	}
	if n < 1 || n > len(l.lines) {
		return -1
	}
	return l.lines[n-1]
}

// lineCol returns the 1-based line and column of byte offset i.
func (l *loader) lineCol(i int) (int, int) {
	l.lineStart(1)
	lo, hi := 0, len(l.lines)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if l.lines[mid] <= i {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	col := 1
	for j := l.lines[lo]; j < i && j < len(l.src); j++ {
		if l.src[j]&0xC0 != 0x80 {
			col++
		}
	}
	return lo + 1, col
}

func (l *loader) errorf(n *yaml.Node, format string, args ...any) {
	l.report(posOf(n), Error, fmt.Sprintf(format, args...))
}

func (l *loader) warnf(n *yaml.Node, format string, args ...any) {
	l.report(posOf(n), Warning, fmt.Sprintf(format, args...))
}

func (l *loader) report(p Pos, s Severity, msg string) {
	l.diags = append(l.diags, Diagnostic{File: l.file, Pos: p, Severity: s, Msg: msg})
}
