package expr

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// YAQL's regex objects: regex(pattern, ignoreCase, multiLine, dotAll)
// compiles a pattern once, and its methods matches(), search(),
// searchAll(), split() and replace() use it; `=~` and `!~` take one too.
// Patterns are Go's RE2 syntax. Like a datetime, a regex lives only while
// an expression is evaluated: what an evaluation returns holds its
// pattern.

// Regex is a compiled YAQL regex.
type Regex struct {
	re      *regexp.Regexp
	pattern string
}

func (r Regex) String() string { return r.pattern }

// asRegex takes a regex object, or compiles a pattern.
func asRegex(name string, v any) (*regexp.Regexp, error) {
	switch r := v.(type) {
	case Regex:
		return r.re, nil
	case string:
		re, err := regexp.Compile(r)
		if err != nil {
			return nil, errorf("invalid regular expression %s: %v", pyQuote(r), err)
		}
		return re, nil
	}
	return nil, errorf("%s() needs a regex or a pattern, not %s", name, typeName(v))
}

// matchRecord is what a search selector sees of a match: its value and
// its start and end, in characters.
func matchRecord(s string, lo, hi int) any {
	if lo < 0 {
		return nil
	}
	return map[string]any{
		"value": s[lo:hi],
		"start": int64(utf8.RuneCountInString(s[:lo])),
		"end":   int64(utf8.RuneCountInString(s[:hi])),
	}
}

// selectMatch applies a search selector to a match: `$` (and `$1`) is the
// whole match's record, `$2`, `$3`… its groups'.
func (x *evaluator) selectMatch(body *node, s string, m []int) (any, error) {
	whole := matchRecord(s, m[0], m[1])
	if !body.numbered {
		return x.apply(body, whole)
	}
	outer := x.vars
	sc := &scope{parent: outer}
	for g := 1; 2*g+1 < len(m); g++ {
		sc.names = append(sc.names, strconv.Itoa(g+1))
		sc.vals = append(sc.vals, matchRecord(s, m[2*g], m[2*g+1]))
	}
	x.vars = sc
	v, err := x.apply(body, whole)
	x.vars = outer
	return v, err
}

// pyReplacement turns a Python replacement string (\1, \g<1>, \g<name>)
// into Go's ($1 written ${1}); a literal $ is doubled.
func pyReplacement(repl string) string {
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch {
		case c == '$':
			b.WriteString("$$")
		case c == '\\' && i+1 < len(repl) && repl[i+1] >= '0' && repl[i+1] <= '9':
			j := i + 1
			for j < len(repl) && j < i+3 && repl[j] >= '0' && repl[j] <= '9' {
				j++
			}
			b.WriteString("${" + repl[i+1:j] + "}")
			i = j - 1
		case c == '\\' && strings.HasPrefix(repl[i:], `\g<`) && strings.IndexByte(repl[i:], '>') > 0:
			end := i + strings.IndexByte(repl[i:], '>')
			b.WriteString("${" + repl[i+3:end] + "}")
			i = end
		case c == '\\' && i+1 < len(repl) && repl[i+1] == 'n':
			b.WriteByte('\n')
			i++
		case c == '\\' && i+1 < len(repl) && repl[i+1] == '\\':
			b.WriteByte('\\')
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// replaceRegex replaces the first count matches (all when count <= 0) of
// re in s.
func replaceRegex(re *regexp.Regexp, s, repl string, count int64) string {
	tmpl := pyReplacement(repl)
	if count <= 0 {
		return re.ReplaceAllString(s, tmpl)
	}
	var b strings.Builder
	last := 0
	for _, m := range re.FindAllStringSubmatchIndex(s, int(count)) {
		b.WriteString(s[last:m[0]])
		b.Write(re.ExpandString(nil, tmpl, s, m))
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

func init() {
	register(yaqlOnly,
		fn("regex", 1, 4, func(x *evaluator, n *node, a []any) (any, error) {
			pat, err := asString("regex", a[0])
			if err != nil {
				return nil, err
			}
			flags := ""
			for i, f := range []string{"i", "m", "s"} {
				if len(a) > i+1 && Truthy(a[i+1]) {
					flags += f
				}
			}
			src := pat
			if flags != "" {
				src = "(?" + flags + ")" + pat
			}
			re, err := regexp.Compile(src)
			if err != nil {
				return nil, errorf("invalid regular expression %s: %v", pyQuote(pat), err)
			}
			x.timed = true
			return Regex{re: re, pattern: pat}, nil
		}),
		fn("isRegex", 1, 1, func(x *evaluator, n *node, a []any) (any, error) { _, ok := a[0].(Regex); return ok, nil }),
		fn("escapeRegex", 1, 1, func(x *evaluator, n *node, a []any) (any, error) {
			s, err := asString("escapeRegex", a[0])
			return regexp.QuoteMeta(s), err
		}),
		&function{name: "search", min: 2, max: 3, lambda: 2, call: func(x *evaluator, n *node, a []any, _ map[string]any, _ any) (any, error) {
			re, s, err := regexAndString("search", a)
			if err != nil {
				return nil, err
			}
			m := re.FindStringSubmatchIndex(s)
			if m == nil {
				return nil, x.charge(n, len(s)/64)
			}
			if len(n.args) < 3 {
				return s[m[0]:m[1]], nil
			}
			return x.selectMatch(n.args[2], s, m)
		}},
		&function{name: "searchAll", min: 2, max: 3, lambda: 2, call: func(x *evaluator, n *node, a []any, _ map[string]any, _ any) (any, error) {
			re, s, err := regexAndString("searchAll", a)
			if err != nil {
				return nil, err
			}
			out := []any{}
			for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
				if err := x.charge(n, 1); err != nil {
					return nil, err
				}
				if len(n.args) < 3 {
					out = append(out, s[m[0]:m[1]])
					continue
				}
				v, err := x.selectMatch(n.args[2], s, m)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
			return out, nil
		}},
	)
}

// regexAndString reads a string and a regex or pattern: string.f(pattern)
// or string.f(regex), or regex.f(string).
func regexAndString(name string, a []any) (*regexp.Regexp, string, error) {
	s, r := a[0], a[1]
	if _, isRe := s.(Regex); isRe {
		s, r = r, s
	}
	re, err := asRegex(name, r)
	if err != nil {
		return nil, "", err
	}
	str, err := asString(name, s)
	return re, str, err
}

// regexCall recognises a call on a regex (regex.f(string, ...)) or on a
// string with a regex (string.f(regex, ...)); ok is false otherwise.
func regexCall(name string, a []any) (*regexp.Regexp, string, bool, error) {
	if len(a) < 2 {
		return nil, "", false, nil
	}
	_, first := a[0].(Regex)
	_, second := a[1].(Regex)
	if !first && !second {
		return nil, "", false, nil
	}
	re, s, err := regexAndString(name, a)
	return re, s, true, err
}

func cmpOr(err, other error) error {
	if err != nil {
		return err
	}
	return other
}
