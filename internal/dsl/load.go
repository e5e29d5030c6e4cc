// Package dsl reads workflows written in the Mistral workflow language
// (version 2.0, YAML): it loads a document, reports every problem with its
// line and column, and compiles each workflow into the graph the engine
// walks (see graph.go).
package dsl

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// loader holds the state of one Load.
type loader struct {
	file  string
	src   []byte
	diags Diagnostics
	lines []int // byte offset of each line's start, built on demand

	nodes    int // values reached through aliases so far, bounded by maxNodes
	viaAlias int // > 0 while decoding the target of an alias
	inMerge  int // > 0 while listing merged mappings
	tooBig   bool
	active   map[*yaml.Node]bool // collections being decoded, to stop at cycles
	inPairs  map[*yaml.Node]bool // mappings being listed (merge keys)
	cyclic   bool

	wf *wfState // the workflow being read
	// subflows are the workflows tasks run by a fixed name.
	subflows []subflow
}

type subflow struct {
	name string
	pos  Pos
	from string // the workflow the task is in
	task string
}

// loc is a place in the document: a node, and a byte offset into the
// node's value when the place lies inside a scalar (an inline parameter).
type loc struct {
	N   *yaml.Node
	Off int
}

func (l *loader) pos(at loc) Pos {
	if at.Off > 0 {
		return l.offsetPos(at.N, at.Off)
	}
	return posOf(at.N)
}

func (l *loader) errorAt(at loc, format string, args ...any) {
	l.report(l.pos(at), Error, fmt.Sprintf(format, args...))
}

func (l *loader) warnAt(at loc, format string, args ...any) {
	l.report(l.pos(at), Warning, fmt.Sprintf(format, args...))
}

var (
	workbookKeys = []string{"version", "name", "description", "tags", "workflows", "actions"}
	workflowKeys = []string{"type", "description", "tags", "input", "output", "output-on-error", "vars", "task-defaults", "tasks"}
	actionKeys   = []string{"base", "base-input", "input", "output", "description", "tags"}
)

// MaxSourceBytes is the largest workflow document Load reads: room for the
// largest real workbooks (half a megabyte), which the stores keep
// compressed, in parts when they must (store.EncodeDefinition); a parser
// given many megabytes of YAML would spend seconds and gigabytes before
// anything could refuse it.
const MaxSourceBytes = 1 << 20

// Load reads a document holding workflows: either `version: '2.0'` and
// workflows by name, or a workbook (`version`, `name`, `description`,
// `tags`, `workflows`, `actions`). It reports every problem it finds; the
// Bundle is nil only when the diagnostics hold an error.
//
// A document over MaxSourceBytes is refused before it is parsed.
func Load(file string, src []byte) (*Bundle, Diagnostics) {
	if len(src) > MaxSourceBytes {
		return nil, Diagnostics{{File: file, Pos: Pos{1, 1}, Severity: Error,
			Msg: fmt.Sprintf("the document is %d bytes, over the %d-byte limit of a workflow document", len(src), MaxSourceBytes)}}
	}
	l := &loader{file: file, src: src}
	b := l.load()
	l.diags.sort()
	if l.diags.HasErrors() {
		return nil, l.diags
	}
	return b, l.diags
}

func (l *loader) load() *Bundle {
	root, ok := l.parseYAML()
	if !ok {
		return nil
	}
	if root == nil || isNull(root) {
		l.report(Pos{1, 1}, Error, "the document is empty; it needs `version: '2.0'` and at least one workflow")
		return nil
	}
	if root.Kind != yaml.MappingNode {
		l.errorf(root, "the document must be a mapping with `version: '2.0'` and workflows by name, not %s", kindName(root))
		return nil
	}
	ps := l.pairs(root, "top-level key")
	b := &Bundle{File: l.file, Source: l.src, Workflows: map[string]*Workflow{}}
	l.checkVersion(root, ps)
	if isWorkbook(ps) {
		l.loadWorkbook(b, root, ps)
	} else {
		for _, p := range ps {
			if p.Key == "version" {
				continue
			}
			l.loadEntry(b, p, "")
		}
	}
	l.checkAdhoc(b)
	for _, wf := range b.Workflows {
		wf.Actions = b.Actions
	}
	l.checkSubworkflows(b)
	if len(b.Order) == 0 && len(b.Actions) == 0 && !l.diags.HasErrors() {
		l.errorf(root, "the document defines no workflow")
	}
	return b
}

// parseYAML parses the source into its one document node.
func (l *loader) parseYAML() (*yaml.Node, bool) {
	if l.checkNBSP() {
		return nil, false
	}
	dec := yaml.NewDecoder(bytes.NewReader(l.src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err.Error() == "EOF" {
			return nil, true
		}
		if i := tabIndent(l.src); i >= 0 {
			line, col := l.lineCol(i)
			l.report(Pos{line, col}, Error, "a tab indents this line; YAML indents with spaces only")
			return nil, false
		}
		l.report(l.yamlErrorPos(err), Error, yamlErrorMsg(err))
		return nil, false
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		l.report(Pos{Line: max(1, next.Line-1), Col: 1}, Error, "a file holds one YAML document; remove this `---` and what follows, or put it in its own file")
	} else if err.Error() != "EOF" {
		l.report(l.yamlErrorPos(err), Error, yamlErrorMsg(err))
		return nil, false
	}
	if len(doc.Content) == 0 {
		return nil, true
	}
	return doc.Content[0], true
}

// checkNBSP reports non-breaking spaces (U+00A0, often pasted from web
// pages) where YAML needs plain spaces: in indentation and after a `:` or
// `-` indicator. It reports whether it found any.
func (l *loader) checkNBSP() bool {
	const nbsp = "\u00a0"
	if !bytes.Contains(l.src, []byte(nbsp)) {
		return false
	}
	found := false
	for i := 0; i < len(l.src); {
		j := bytes.Index(l.src[i:], []byte(nbsp))
		if j < 0 {
			break
		}
		at := i + j
		i = at + len(nbsp)
		k := at
		for k > 0 && (l.src[k-1] == ' ' || l.src[k-1] == '\t' || (k >= 2 && string(l.src[k-2:k]) == nbsp)) {
			if l.src[k-1] == ' ' || l.src[k-1] == '\t' {
				k--
			} else {
				k -= 2
			}
		}
		if k == 0 || l.src[k-1] == '\n' || l.src[k-1] == ':' || l.src[k-1] == '-' {
			line, col := l.lineCol(at)
			l.report(Pos{line, col}, Error, "a non-breaking space (U+00A0), often pasted from a web page, stands where YAML needs a plain space")
			found = true
		}
	}
	return found
}

// tabIndent returns the offset of a tab in the leading whitespace of a
// line, or -1. Tabs inside block scalars' text are allowed.
func tabIndent(src []byte) int {
	lineStart := true
	for i, c := range src {
		switch {
		case c == '\n':
			lineStart = true
		case c == ' ' && lineStart:
		case c == '\t' && lineStart:
			// A tab after spaces deeper than a block scalar's indentation
			// is content; report only tabs that start the line.
			if i == 0 || src[i-1] == '\n' {
				if isTabIndentedContent(src, i) {
					lineStart = false
					continue
				}
				return i
			}
			lineStart = false
		default:
			lineStart = false
		}
	}
	return -1
}

// isTabIndentedContent reports whether a line starting with a tab at i is
// blank (YAML ignores it) rather than indentation.
func isTabIndentedContent(src []byte, i int) bool {
	for j := i; j < len(src) && src[j] != '\n'; j++ {
		if src[j] != '\t' && src[j] != ' ' && src[j] != '\r' {
			return false
		}
	}
	return true
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlErrorPos finds the line of a yaml.v3 error. Its message names the
// line where the enclosing construct starts (none for the first line), which
// may be far above the mistake; the line where the mistake is is found as
// the shortest prefix of the document that fails the same way. The column
// is that of the line's first character.
func (l *loader) yamlErrorPos(err error) Pos {
	msg := err.Error()
	line := 1
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
	}
	if k := l.failingPrefix(yamlErrorMsg(err)); k > line {
		line = k
	}
	if i := strings.Index(msg, "unknown anchor '"); i >= 0 {
		name := msg[i+len("unknown anchor '"):]
		name = name[:max(0, strings.IndexByte(name, '\''))]
		if j := strings.Index(string(l.src), "*"+name); j >= 0 {
			ln, col := l.lineCol(j)
			return Pos{ln, col}
		}
	}
	start := l.lineStart(line)
	if start < 0 {
		return Pos{Line: line, Col: 1}
	}
	col := 1
	for i := start; i < len(l.src) && l.src[i] == ' '; i++ {
		col++
	}
	return Pos{Line: line, Col: col}
}

// maxPrefixSearch bounds the documents whose syntax errors are located by
// parsing prefixes.
const maxPrefixSearch = 1 << 20

// failingPrefix returns the smallest number of lines whose prefix of the
// document fails to parse with message msg, or 0.
func (l *loader) failingPrefix(msg string) int {
	if len(l.src) > maxPrefixSearch {
		return 0
	}
	l.lineStart(1)
	n := len(l.lines)
	fails := func(k int) bool {
		end := len(l.src)
		if k < n {
			end = l.lines[k]
		}
		var doc yaml.Node
		err := yaml.Unmarshal(l.src[:end], &doc)
		return err != nil && yamlErrorMsg(err) == msg
	}
	if !fails(n) {
		return 0
	}
	lo, hi := 1, n
	for lo < hi {
		mid := (lo + hi) / 2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

func yamlErrorMsg(err error) string {
	msg := yamlLineRE.ReplaceAllString(err.Error(), "")
	msg = strings.TrimPrefix(msg, "yaml: ")
	switch {
	case strings.HasPrefix(msg, "mapping values are not allowed"):
		msg += " (a `: ` inside a value starts a mapping; quote the whole value)"
	case strings.HasPrefix(msg, "found character that cannot start any token"):
		msg += " (quote values that start with `@`, `%` or a backquote)"
	}
	return "YAML: " + msg
}

// checkVersion requires `version: '2.0'` (or 2.0, 2).
func (l *loader) checkVersion(root *yaml.Node, ps []pair) {
	for _, p := range ps {
		if p.Key != "version" {
			continue
		}
		v := resolve(p.Value)
		if v.Kind == yaml.ScalarNode {
			switch v.Value {
			case "2.0", "2":
				return
			case "v2.0", "v2":
				l.warnf(v, "write `version: '2.0'`; Mistral itself rejects `%s`", v.Value)
				return
			}
		}
		l.errorf(v, "unsupported version `%s`; Bora reads version '2.0' of the Mistral workflow language: write `version: '2.0'`", scalarText(v))
		return
	}
	l.errorf(root, "missing `version: '2.0'` at the top of the document")
}

// isWorkbook tells a workbook from a file of workflows: a workbook has a
// scalar `name` or a `workflows` or `actions` section.
func isWorkbook(ps []pair) bool {
	for _, p := range ps {
		switch p.Key {
		case "name":
			if resolve(p.Value).Kind == yaml.ScalarNode {
				return true
			}
		case "workflows", "actions":
			if isSection(p.Value) {
				return true
			}
		}
	}
	return false
}

// isSection reports whether n looks like a workbook's workflows or actions
// section rather than a workflow named "workflows": a mapping whose values
// are mappings, none of which is a `tasks` entry.
func isSection(n *yaml.Node) bool {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case "tasks", "type", "input", "output", "task-defaults", "base":
			return false
		}
	}
	return true
}

func (l *loader) loadWorkbook(b *Bundle, root *yaml.Node, ps []pair) {
	var nameSet bool
	for _, p := range ps {
		switch p.Key {
		case "version":
		case "name":
			if !isString(p.Value) || scalarText(p.Value) == "" {
				l.errorf(p.Value, "the workbook `name` must be a non-empty string, not %s", kindName(p.Value))
				continue
			}
			b.Name = scalarText(p.Value)
			nameSet = true
		case "description":
			l.str(p.Value, "description")
		case "tags":
			l.tags(p.Value)
		case "workflows", "actions":
			if resolve(p.Value).Kind != yaml.MappingNode {
				l.errorf(p.Value, "`%s` must be a mapping of names to definitions, not %s", p.Key, kindName(p.Value))
				continue
			}
			for _, e := range l.pairs(p.Value, strings.TrimSuffix(p.Key, "s")) {
				if e.Key == "version" {
					continue
				}
				l.loadEntry(b, e, p.Key)
			}
		default:
			l.errorf(p.KeyN, "unknown workbook key `%s`%s", p.Key, didYouMean(p.Key, workbookKeys, true))
		}
	}
	if !nameSet {
		l.errorf(root, "a workbook needs a `name`")
	}
	if b.Name != "" {
		for _, name := range b.Order {
			b.Workflows[b.Name+"."+name] = b.Workflows[name]
		}
		for name, a := range b.Actions {
			if !strings.Contains(name, ".") {
				b.Actions[b.Name+"."+name] = a
			}
		}
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`)

// loadEntry reads one named definition: a workflow, or an ad-hoc action
// (a mapping with `base`). section is "workflows", "actions" or "" for a
// plain file.
func (l *loader) loadEntry(b *Bundle, p pair, section string) {
	v := resolve(p.Value)
	if v.Kind != yaml.MappingNode {
		what := "workflow"
		if section == "actions" {
			what = "action"
		}
		hint := ""
		if section == "" {
			if c := closest(p.Key, []string{"version"}); c != "" {
				hint = "; did you mean `version`?"
			}
		}
		l.errorf(p.KeyN, "%s `%s` must be a mapping, not %s%s", what, p.Key, kindName(v), hint)
		return
	}
	if strings.TrimSpace(p.Key) == "" || strings.ContainsAny(p.Key, " \t") {
		l.errorf(p.KeyN, "name `%s` must not be empty or hold spaces", p.Key)
		return
	}
	if uuidRE.MatchString(p.Key) {
		l.errorf(p.KeyN, "name `%s` looks like an id; choose a name that is not a UUID", p.Key)
		return
	}
	isAction := section == "actions" || (section == "" && hasKey(v, "base") && !hasKey(v, "tasks"))
	if isAction {
		if a := l.loadAction(p); a != nil {
			if b.Actions == nil {
				b.Actions = map[string]*Action{}
			}
			b.Actions[p.Key] = a
		}
		return
	}
	if _, dup := b.Workflows[p.Key]; dup {
		return // reported by pairs as a duplicate key
	}
	if w := l.loadWorkflow(p); w != nil {
		b.Workflows[p.Key] = w
		b.Order = append(b.Order, p.Key)
	}
}

func hasKey(n *yaml.Node, key string) bool {
	n = resolve(n)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

// str requires a string (or nothing) and returns it.
func (l *loader) str(n *yaml.Node, key string) string {
	if isNull(n) {
		return ""
	}
	if resolve(n).Kind != yaml.ScalarNode {
		l.errorf(n, "`%s` must be a string, not %s", key, kindName(n))
		return ""
	}
	return scalarText(n)
}

// tags reads a list of unique non-empty strings.
func (l *loader) tags(n *yaml.Node) []string {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		l.errorf(n, "`tags` must be a list of strings, not %s", kindName(n))
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, c := range n.Content {
		c = resolve(c)
		if c.Kind != yaml.ScalarNode || c.Value == "" {
			l.errorf(c, "a tag must be a non-empty string, not %s", kindName(c))
			continue
		}
		if seen[c.Value] {
			l.errorf(c, "tag `%s` is given twice", c.Value)
			continue
		}
		seen[c.Value] = true
		out = append(out, c.Value)
	}
	return out
}

// params reads a workflow's or action's `input`: a list of names and
// one-key `name: default` mappings.
func (l *loader) params(n *yaml.Node, owner string) []Param {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		hint := ""
		if n.Kind == yaml.MappingNode {
			hint = "; write `- name` for each input, or `- name: default`"
		}
		l.errorf(n, "the %s `input` must be a list, not %s%s", owner, kindName(n), hint)
		return nil
	}
	var out []Param
	seen := map[string]int{}
	add := func(key *yaml.Node, p Param) {
		if line, dup := seen[p.Name]; dup {
			l.errorf(key, "duplicate input `%s`; the first is at line %d", p.Name, line)
			return
		}
		seen[p.Name] = key.Line
		out = append(out, p)
	}
	for _, c := range n.Content {
		c = resolve(c)
		switch c.Kind {
		case yaml.ScalarNode:
			if !isString(c) || c.Value == "" {
				l.errorf(c, "an input name must be a non-empty string, not %s", kindName(c))
				continue
			}
			add(c, Param{Name: c.Value})
		case yaml.MappingNode:
			ps := l.pairs(c, "input")
			if len(ps) != 1 {
				l.errorf(c, "an input with a default is a one-key mapping `name: default`; this one has %d keys", len(ps))
				continue
			}
			def := l.value(ps[0].Value, nil)
			def = normalize(def)
			add(ps[0].KeyN, Param{Name: ps[0].Key, Default: def, HasDefault: true})
		default:
			l.errorf(c, "an input is a name or `name: default`, not %s", kindName(c))
		}
	}
	return out
}

func (l *loader) loadAction(p pair) *Action {
	a := &Action{Name: p.Key, Pos: posOf(p.KeyN)}
	var baseN *yaml.Node
	var inline *inlineCall
	var baseInput map[string]any
	var sites []site
	for _, e := range l.pairs(p.Value, "action key") {
		switch e.Key {
		case "base":
			baseN = e.Value
			if !isString(e.Value) || scalarText(e.Value) == "" {
				l.errorf(e.Value, "`base` must name an action, not %s", kindName(e.Value))
				continue
			}
			c, err := parseInline(scalarText(e.Value))
			if err != nil {
				l.errorAt(loc{N: e.Value, Off: err.Offset}, "%s", err.Msg)
				continue
			}
			l.warnDropped(e.Value, c)
			inline = c
			a.Base = c.Name
			a.BasePos = l.pos(loc{N: e.Value, Off: c.NameOff})
		case "base-input":
			if resolve(e.Value).Kind != yaml.MappingNode {
				l.errorf(e.Value, "`base-input` must be a mapping, not %s", kindName(e.Value))
				continue
			}
			baseInput, _ = l.value(e.Value, &sites).(map[string]any)
		case "input":
			a.Input = l.params(e.Value, "action")
		case "output":
			var s []site
			v := l.value(e.Value, &s)
			a.Output = l.compile(v, s, loc{N: e.Value})
		case "description":
			a.Description = l.str(e.Value, "description")
		case "tags":
			a.Tags = l.tags(e.Value)
		case "name", "version":
		default:
			l.errorf(e.KeyN, "unknown action key `%s`%s", e.Key, didYouMean(e.Key, actionKeys, true))
		}
	}
	if baseN == nil {
		l.errorf(p.KeyN, "action `%s` needs a `base`: the action it calls", p.Key)
		return nil
	}
	if inline != nil && len(inline.Params) > 0 {
		if baseInput == nil {
			baseInput = map[string]any{}
		}
		for _, ip := range inline.Params {
			baseInput[ip.Key] = ip.Value
			if s, ok := ip.Value.(string); ok && hasExpr(s) {
				sites = append(sites, site{S: s, Node: baseN, Base: ip.ValOff})
			}
		}
	}
	if baseInput != nil {
		a.BaseInput = l.compile(baseInput, sites, loc{N: baseN})
	}
	return a
}

// checkSubworkflowInput warns about the input a task gives a workflow of
// the same document: a name the workflow does not declare (it becomes a
// parameter of the sub-workflow's execution, as in Mistral: usually a
// typo, but `task_name` names a reverse workflow's target), and a
// declared input without a default that it does not give.
func (l *loader) checkSubworkflowInput(b *Bundle, p subflow, wf *Workflow) {
	from := b.Workflows[p.from]
	if from == nil || from.Tasks[p.task] == nil {
		return
	}
	keys, ok := constKeys(from.Tasks[p.task].Input)
	if !ok {
		return
	}
	var names []string
	for _, in := range wf.Input {
		names = append(names, in.Name)
		if !in.HasDefault && !slices.Contains(keys, in.Name) {
			l.report(p.pos, Warning, fmt.Sprintf("task `%s`: workflow `%s` needs the input `%s`", p.task, p.name, in.Name))
		}
	}
	for _, k := range keys {
		if slices.Contains(names, k) || k == "task_name" && wf.Type == Reverse {
			continue
		}
		l.report(p.pos, Warning, fmt.Sprintf("task `%s`: workflow `%s` declares no input `%s`; it is passed as a parameter of the sub-workflow's execution%s",
			p.task, p.name, k, didYouMean(k, names, false)))
	}
}

// checkAdhoc refuses ad-hoc actions whose bases lead back to themselves.
func (l *loader) checkAdhoc(b *Bundle) {
	names := make([]string, 0, len(b.Actions))
	for n, a := range b.Actions {
		if n == a.Name { // each once, not also as "book.name"
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		chain, base := Chain(b.Actions, n)
		if base != "" || chain[len(chain)-1].Base == "" {
			continue
		}
		path := make([]string, 0, len(chain)+1)
		for _, a := range chain {
			path = append(path, a.Name)
		}
		path = append(path, chain[len(chain)-1].Base)
		l.report(b.Actions[n].BasePos, Error, "ad-hoc action `"+n+"` calls itself through its bases: "+strings.Join(path, " → "))
	}
}

// checkSubworkflows warns about tasks that run a workflow, named without an
// expression, that the document does not define: a typo, or a workflow that
// must be registered on its own before this one runs.
func (l *loader) checkSubworkflows(b *Bundle) {
	// A workflow the document lacks is reported once, at its first
	// call site, with the number of sites.
	missing := map[string][]subflow{}
	var order []string
	defer func() {
		for _, name := range order {
			sites := missing[name]
			more := ""
			if len(sites) > 1 {
				who := make([]string, len(sites))
				for i, s := range sites {
					who[i] = s.task
				}
				more = fmt.Sprintf(" (%d call sites: %s)", len(sites), listNames(who))
			}
			l.report(sites[0].pos, Warning, "workflow `"+name+"` is not defined in this document; it must be registered before this one runs"+
				didYouMean(name, b.Order, false)+more)
		}
	}()
	for _, p := range l.subflows {
		if wf, ok := b.Workflows[p.from]; ok && (p.name == p.from || b.Name != "" && p.name == b.Name+"."+p.from) && alwaysRuns(wf, p.task) {
			l.report(p.pos, Warning, "task `"+p.task+"` runs workflow `"+p.name+"`, the one it is in, on every run: "+
				"each run starts another until the sub-workflow nesting limit fails them all")
		}
		if wf, ok := b.Workflows[p.name]; ok {
			l.checkSubworkflowInput(b, p, wf)
			continue
		}
		if _, seen := missing[p.name]; !seen {
			order = append(order, p.name)
		}
		missing[p.name] = append(missing[p.name], p)
	}
}
