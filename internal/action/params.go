package action

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DecodeParams decodes an action input, a JSON object or null, into
// JSON-like values: integers as int64, other numbers as float64, and
// objects, arrays, strings, booleans and null as encoding/json decodes them.
func DecodeParams(raw []byte) (map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode action input: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("decode action input: want an object, got %s", typeName(v))
	}
	return normalizeNumbers(m).(map[string]any), nil
}

func normalizeNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	case map[string]any:
		for k, e := range v {
			v[k] = normalizeNumbers(e)
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = normalizeNumbers(e)
		}
		return v
	}
	return v
}

// Check refuses missing required and unknown parameters in p, naming the
// action and what it accepts. Actions outside this package that declare
// their parameters check them with it, as the standard actions do.
func (sig Signature) Check(action string, p map[string]any) error {
	return checkParams(action, sig, p)
}

// checkParams refuses missing required and unknown parameters, naming the
// action and what it accepts.
func checkParams(action string, sig Signature, p map[string]any) error {
	for _, name := range sig.Required {
		if _, ok := p[name]; !ok {
			return fmt.Errorf("%s: missing required parameter %q; %s", action, name, sig.describe())
		}
	}
	var unknown []string
	for name := range p {
		if !slices.Contains(sig.Required, name) && !slices.Contains(sig.Optional, name) {
			unknown = append(unknown, strconv.Quote(name))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		word := "parameter"
		if len(unknown) > 1 {
			word = "parameters"
		}
		return fmt.Errorf("%s: unknown %s %s; %s", action, word, strings.Join(unknown, ", "), sig.describe())
	}
	return nil
}

func (s Signature) describe() string {
	var parts []string
	if len(s.Required) > 0 {
		parts = append(parts, "required: "+strings.Join(s.Required, ", "))
	}
	if len(s.Optional) > 0 {
		parts = append(parts, "optional: "+strings.Join(s.Optional, ", "))
	}
	if len(parts) == 0 {
		return "it takes no parameters"
	}
	return "valid parameters are " + strings.Join(parts, "; ")
}

// params reads typed parameters of one standard action.
type params struct {
	action string
	m      map[string]any
	in     Input // the attempt the action runs for
}

func (p params) typeErr(name, want string, v any) error {
	return fmt.Errorf("%s: parameter %q must be %s, got %s", p.action, name, want, describeValue(v))
}

// present reports whether name was given with a non-null value.
func (p params) present(name string) bool {
	v, ok := p.m[name]
	return ok && v != nil
}

func (p params) str(name, def string) (string, error) {
	v, ok := p.m[name]
	if !ok || v == nil {
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", p.typeErr(name, "a string", v)
	}
	return s, nil
}

func (p params) boolean(name string, def bool) (bool, error) {
	v, ok := p.m[name]
	if !ok || v == nil {
		return def, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, p.typeErr(name, "true or false", v)
	}
	return b, nil
}

// number reads a number, also accepting a string that holds one.
func (p params) number(name string, def float64) (float64, error) {
	v, ok := p.m[name]
	if !ok || v == nil {
		return def, nil
	}
	f, ok := toFloat(v)
	if !ok {
		return 0, p.typeErr(name, "a number", v)
	}
	return f, nil
}

func (p params) integer(name string, def int) (int, error) {
	f, err := p.number(name, float64(def))
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<31 {
		return 0, p.typeErr(name, "a whole number", p.m[name])
	}
	return int(f), nil
}

// seconds reads a duration given in seconds; negative values count as 0.
func (p params) seconds(name string, def float64) (time.Duration, error) {
	f, err := p.number(name, def)
	if err != nil {
		return 0, err
	}
	if f < 0 {
		f = 0
	}
	if f > float64(math.MaxInt64)/float64(time.Second) {
		return 0, p.typeErr(name, "a number of seconds that fits a duration", p.m[name])
	}
	return time.Duration(f * float64(time.Second)), nil
}

func (p params) object(name string) (map[string]any, error) {
	v, ok := p.m[name]
	if !ok || v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, p.typeErr(name, "an object", v)
	}
	return m, nil
}

// Number reads a parameter's number as the std actions do: a JSON or YAML
// number, or a string that holds one.
func Number(v any) (float64, bool) { return toFloat(v) }

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

// scalarString renders a scalar parameter value (a header value, a query
// value) as text, the way Python's str() would for JSON scalars.
func scalarString(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case bool:
		if s {
			return "True", true
		}
		return "False", true
	case int64:
		return strconv.FormatInt(s, 10), true
	case int:
		return strconv.Itoa(s), true
	case float64:
		return strconv.FormatFloat(s, 'f', -1, 64), true
	case json.Number:
		return s.String(), true
	}
	return "", false
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case int, int32, int64, float32, float64, json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

func describeValue(v any) string {
	switch s := v.(type) {
	case string:
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		return "the string " + strconv.Quote(s)
	case nil, []any, map[string]any:
		return typeName(v)
	}
	if str, ok := scalarString(v); ok {
		return typeName(v) + " " + str
	}
	return typeName(v)
}

// truthy reports Python truthiness of a JSON-like value, as Mistral's
// actions test their parameters.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	if f, ok := toFloat(v); ok {
		return f != 0
	}
	return true
}
