package dsl

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// This file parses the inline form of actions, workflows, engine commands
// and one-line retry policies: `std.echo output="Hi" n=<% $.n %>`.

// InlineError is a problem in an inline call, at a byte offset of the
// string given to ParseInline.
type InlineError struct {
	Offset int
	Msg    string
	// unquoted marks a value that is an unquoted word.
	unquoted bool
}

func (e *InlineError) Error() string {
	return fmt.Sprintf("offset %d: %s", e.Offset, e.Msg)
}

// ParseInline splits an inline call such as `std.echo output="Hi" n=2` into
// the name of the action (or workflow, or engine command) and its
// parameters. A name may itself be an expression (`<% $.action %> x=1`);
// the function form `fail(msg="x")` is accepted too.
//
// A parameter's value is a string in double or single quotes (taken as
// written, with no escapes), an expression `<% ... %>` or `{{ ... }}` (kept
// as a string, expression included), a number, true, false, null, or a JSON
// (or YAML flow) list or object. Anything else must be quoted.
func ParseInline(s string) (action string, params map[string]any, err error) {
	c, e := parseInline(s)
	if e != nil {
		return "", nil, e
	}
	return c.Name, c.paramMap(), nil
}

// inlineCall is a parsed inline call, with offsets into the parsed string.
type inlineCall struct {
	Name    string
	NameOff int
	Params  []inlineParam
	// Dropped are the parameters whose value is an unquoted word, which
	// Mistral's parser does not see: they are left out, as Mistral leaves
	// them out, and the loader warns.
	Dropped []inlineParam
}

type inlineParam struct {
	Key    string
	KeyOff int
	Value  any
	ValOff int // where the value's text starts (after an opening quote)
}

func (c *inlineCall) paramMap() map[string]any {
	if len(c.Params) == 0 {
		return nil
	}
	m := make(map[string]any, len(c.Params))
	for _, p := range c.Params {
		m[p.Key] = p.Value
	}
	return m
}

func parseInline(s string) (*inlineCall, *InlineError) {
	i := skipSpace(s, 0)
	if i == len(s) {
		return nil, &InlineError{Offset: i, Msg: "empty name"}
	}
	c := &inlineCall{NameOff: i}
	switch {
	case strings.HasPrefix(s[i:], "<%") || strings.HasPrefix(s[i:], "{{"):
		end, e := exprEnd(s, i)
		if e != nil {
			return nil, e
		}
		c.Name, i = s[c.NameOff:end], end
	default:
		for i < len(s) && !isSpaceByte(s[i]) && s[i] != '(' {
			if s[i] == '=' || s[i] == '"' || s[i] == '\'' {
				return nil, &InlineError{Offset: c.NameOff, Msg: "expected a name before the parameters"}
			}
			i++
		}
		c.Name = s[c.NameOff:i]
		if c.Name == "" {
			return nil, &InlineError{Offset: i, Msg: "expected a name before `(`"}
		}
	}
	if i < len(s) && s[i] == '(' {
		j := len(strings.TrimRightFunc(s, unicode.IsSpace))
		if s[j-1] != ')' {
			return nil, &InlineError{Offset: i, Msg: "`(` is not closed by a `)` at the end"}
		}
		ps, dropped, e := parseParams(s[:j-1], i+1, true, true)
		if e != nil {
			return nil, e
		}
		c.Params, c.Dropped = ps, dropped
		return c, nil
	}
	if i < len(s) && !isSpaceByte(s[i]) {
		return nil, &InlineError{Offset: i, Msg: "expected a space after the name"}
	}
	ps, dropped, e := parseParams(s, i, false, true)
	if e != nil {
		return nil, e
	}
	c.Params, c.Dropped = ps, dropped
	return c, nil
}

// parseParams parses `k=v k2=v2` from s[i:]. With commas, parameters may
// also be separated by commas (the function form). With lenient, a value
// that is an unquoted word leaves its parameter out (in dropped) rather
// than failing, as Mistral's parser leaves it out.
func parseParams(s string, i int, commas, lenient bool) (out, dropped []inlineParam, _ *InlineError) {
	seen := map[string]bool{}
	for {
		i = skipSep(s, i, commas)
		if i >= len(s) {
			return out, dropped, nil
		}
		keyOff := i
		for i < len(s) && isKeyByte(s[i]) {
			i++
		}
		if i == keyOff || i >= len(s) || s[i] != '=' {
			tok := s[keyOff:tokenEnd(s, keyOff, commas)]
			return nil, nil, &InlineError{Offset: keyOff, Msg: fmt.Sprintf("expected name=value, found `%s`", tok)}
		}
		key := s[keyOff:i]
		if seen[key] {
			return nil, nil, &InlineError{Offset: keyOff, Msg: fmt.Sprintf("parameter `%s` is given twice", key)}
		}
		seen[key] = true
		i++ // '='
		v, valOff, end, e := parseValue(s, i, key, commas)
		if e != nil && e.unquoted && lenient {
			end = tokenEnd(s, i, commas)
			dropped = append(dropped, inlineParam{Key: key, KeyOff: keyOff, Value: s[i:end], ValOff: i})
			i = end
			continue
		}
		if e != nil {
			return nil, nil, e
		}
		out = append(out, inlineParam{Key: key, KeyOff: keyOff, Value: v, ValOff: valOff})
		i = end
		if i < len(s) && !isSpaceByte(s[i]) && !(commas && s[i] == ',') {
			return nil, nil, &InlineError{Offset: i, Msg: fmt.Sprintf("unexpected `%c` after the value of `%s`; quote the whole value", s[i], key)}
		}
	}
}

// parseValue parses one parameter value starting at s[i].
func parseValue(s string, i int, key string, commas bool) (v any, valOff, end int, e *InlineError) {
	if i >= len(s) || isSpaceByte(s[i]) {
		return nil, i, i, &InlineError{Offset: i, Msg: fmt.Sprintf("`%s=` has no value; write `%s=\"\"` for an empty string", key, key)}
	}
	switch c := s[i]; {
	case c == '"' || c == '\'':
		j := strings.IndexByte(s[i+1:], c)
		if j < 0 {
			return nil, i, i, &InlineError{Offset: i, Msg: fmt.Sprintf("the value of `%s` has no closing %c", key, c)}
		}
		return s[i+1 : i+1+j], i + 1, i + 2 + j, nil
	case strings.HasPrefix(s[i:], "<%") || strings.HasPrefix(s[i:], "{{"):
		end, e := exprEnd(s, i)
		if e != nil {
			return nil, i, i, e
		}
		return s[i:end], i, end, nil
	case c == '[' || c == '{':
		end, ok := bracketEnd(s, i)
		if !ok {
			return nil, i, i, &InlineError{Offset: i, Msg: fmt.Sprintf("the value of `%s` has no closing %c", key, closer(c))}
		}
		return structured(s[i:end]), i, end, nil
	}
	end = tokenEnd(s, i, commas)
	tok := s[i:end]
	switch tok {
	case "true":
		return true, i, end, nil
	case "false":
		return false, i, end, nil
	case "null":
		return nil, i, end, nil
	}
	if n, ok := number(tok); ok {
		return n, i, end, nil
	}
	return nil, i, i, &InlineError{Offset: i, unquoted: true, Msg: fmt.Sprintf(
		"the value of `%s` must be quoted (`%s=\"%s\"`), or be a number, true, false, null, a list, an object or an expression",
		key, key, tok)}
}

// structured decodes a bracketed value as JSON, or failing that as a YAML
// flow collection; if neither reads it, it stays the string as written.
func structured(text string) any {
	var v any
	if err := json.Unmarshal([]byte(text), &v); err == nil {
		return jsonLike(v)
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(text), &n); err == nil && len(n.Content) == 1 {
		l := &loader{}
		v := l.value(n.Content[0], nil)
		if len(l.diags) == 0 {
			return v
		}
	}
	return text
}

// jsonLike turns encoding/json's float64 integers into int64.
func jsonLike(v any) any {
	switch x := v.(type) {
	case float64:
		if x == float64(int64(x)) && x >= -1<<53 && x <= 1<<53 {
			return int64(x)
		}
		return x
	case []any:
		for i := range x {
			x[i] = jsonLike(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = jsonLike(x[k])
		}
	}
	return v
}

func number(tok string) (any, bool) {
	if tok == "" {
		return nil, false
	}
	c := tok[0]
	if c != '-' && (c < '0' || c > '9') {
		return nil, false
	}
	if i, err := strconv.ParseInt(tok, 10, 64); err == nil {
		return i, true
	}
	if !json.Valid([]byte(tok)) {
		return nil, false
	}
	f, err := strconv.ParseFloat(tok, 64)
	if err != nil {
		return nil, false
	}
	return f, true
}

// exprEnd returns the offset just past the expression that starts at s[i].
func exprEnd(s string, i int) (int, *InlineError) {
	closeTok := "%>"
	if strings.HasPrefix(s[i:], "{{") {
		closeTok = "}}"
	}
	j := strings.Index(s[i+2:], closeTok)
	if j < 0 {
		return 0, &InlineError{Offset: i, Msg: fmt.Sprintf("expression `%s` is not closed by `%s`", s[i:i+2], closeTok)}
	}
	return i + 2 + j + 2, nil
}

// bracketEnd returns the offset just past the bracket that closes s[i],
// skipping quoted strings.
func bracketEnd(s string, i int) (int, bool) {
	depth := 0
	for j := i; j < len(s); j++ {
		switch c := s[j]; c {
		case '"', '\'':
			k := strings.IndexByte(s[j+1:], c)
			if c == '"' {
				k = closingQuote(s, j+1)
			}
			if k < 0 {
				return 0, false
			}
			j += k + 1
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return j + 1, true
			}
		}
	}
	return 0, false
}

// closingQuote finds the `"` that ends a JSON string starting at s[i],
// relative to i, honouring backslash escapes.
func closingQuote(s string, i int) int {
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j - i
		}
	}
	return -1
}

func closer(c byte) byte {
	if c == '[' {
		return ']'
	}
	return '}'
}

func tokenEnd(s string, i int, commas bool) int {
	for i < len(s) && !isSpaceByte(s[i]) && !(commas && s[i] == ',') {
		i++
	}
	return i
}

func skipSpace(s string, i int) int {
	for i < len(s) && isSpaceByte(s[i]) {
		i++
	}
	return i
}

func skipSep(s string, i int, commas bool) int {
	for i < len(s) && (isSpaceByte(s[i]) || (commas && s[i] == ',')) {
		i++
	}
	return i
}

func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// isKeyByte reports whether c may be part of a parameter name: letters,
// digits, `_` and `-` (non-ASCII letters included).
func isKeyByte(c byte) bool {
	return c == '_' || c == '-' || c >= utf8.RuneSelf ||
		(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}
