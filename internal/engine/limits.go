package engine

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/borawf/bora/internal/expr"
)

// Limits bound what one execution may make, so that no workflow and no
// data can exhaust the engine's memory or build a record the store cannot
// hold. Zero fields take the defaults below; docs/limits.md lists them all
// and what happens at each.
type Limits struct {
	// ExprSteps bounds the work of one expression evaluation
	// (expr.Context.MaxSteps); default expr.DefaultMaxSteps.
	ExprSteps int
	// ExprBytes bounds what one expression evaluation builds
	// (expr.Context.MaxBytes); default expr.DefaultMaxBytes.
	ExprBytes int
	// ValueBytes bounds each value the engine encodes and stores: an
	// execution's input, vars and output, a task's context, input,
	// published variables and with-items results. Default
	// DefaultValueBytes.
	ValueBytes int
	// InfoBytes bounds a state_info: a longer one is cut, and says so.
	// Default DefaultInfoBytes.
	InfoBytes int
	// Depth bounds the nesting of sub-workflows: an execution at depth
	// Depth starts no sub-workflow (a top-level execution is at depth 0).
	// Default DefaultDepth.
	Depth int
}

// Defaults of Limits.
const (
	// DefaultValueBytes keeps a value, with the record around it, well
	// inside a DynamoDB item (400 KB) and a sub-workflow's output inside
	// an SQS message (256 KiB).
	DefaultValueBytes = 128 << 10
	DefaultInfoBytes  = 16 << 10
	DefaultDepth      = 10

	// MaxValueBytes is the most ValueBytes may be: a task's record holds
	// its context and its input, each up to ValueBytes, and must keep room
	// for an outcome within the store's item limit (350 KB), so that an
	// attempt can always record at least the error that says its result
	// does not fit.
	MaxValueBytes = 160 << 10
)

// WithDefaults returns l with its zero fields set to the defaults.
func (l Limits) WithDefaults() Limits {
	l.ExprSteps = cmp.Or(l.ExprSteps, expr.DefaultMaxSteps)
	l.ExprBytes = cmp.Or(l.ExprBytes, expr.DefaultMaxBytes)
	l.ValueBytes = cmp.Or(l.ValueBytes, DefaultValueBytes)
	l.InfoBytes = cmp.Or(l.InfoBytes, DefaultInfoBytes)
	l.Depth = cmp.Or(l.Depth, DefaultDepth)
	return l
}

// Validate reports a negative limit.
func (l Limits) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{{"ExprSteps", l.ExprSteps}, {"ExprBytes", l.ExprBytes}, {"ValueBytes", l.ValueBytes}, {"InfoBytes", l.InfoBytes}, {"Depth", l.Depth}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("limit %s is %d, must not be negative", f.name, f.v))
		}
	}
	if l.ValueBytes > MaxValueBytes {
		errs = append(errs, fmt.Errorf("limit ValueBytes is %s, more than %s: two values and an outcome must fit in one record", expr.FormatBytes(l.ValueBytes), expr.FormatBytes(MaxValueBytes)))
	}
	return errors.Join(errs...)
}

// ValueError reports a value the engine cannot store: larger than
// Limits.ValueBytes, or not JSON (a number JSON cannot hold).
type ValueError struct {
	What  string // "the published variables", "the output", ...
	Size  int    // bytes, when over the limit (at least Limit+1)
	Limit int
	Err   error // the encoding error, when not a size
}

func (e *ValueError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s cannot be stored as JSON: %v", e.What, e.Err)
	}
	return fmt.Sprintf("%s is over %s, the limit of one value", e.What, expr.FormatBytes(e.Limit))
}

func (e *ValueError) Unwrap() error { return e.Err }

// encodeValue encodes a value the engine stores, what naming it in the
// error. It measures the value before encoding it, so that a value too
// large to store (one built of shared references, say) is never written
// out. Map keys are sorted, so equal values encode to equal bytes.
func encodeValue(what string, v any, limit int) (json.RawMessage, error) {
	n, err := expr.Size(v, limit)
	if err != nil {
		return nil, &ValueError{What: what, Err: err}
	}
	if n > limit {
		return nil, &ValueError{What: what, Size: n, Limit: limit}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &ValueError{What: what, Err: err}
	}
	return b, nil
}

// encodeText encodes a string (a message) as a JSON value; that cannot
// fail.
func encodeText(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// clip cuts a state_info to at most limit bytes, on a rune boundary, and
// says how much was cut.
func clip(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	note := fmt.Sprintf("… (%d bytes cut)", len(s)-limit)
	cut := max(limit-len(note), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + note
}

// brief shows a value in an error message: its JSON when short, else its
// type and that it is long. It never fails and never builds much.
func brief(v any) string {
	const most = 200
	n, err := expr.Size(v, most)
	switch {
	case err != nil:
		return fmt.Sprintf("a value JSON cannot hold (%v)", err)
	case n > most:
		return fmt.Sprintf("a %s of more than %d bytes", kind(v), most)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("a value JSON cannot hold (%v)", err)
	}
	return string(b)
}

func kind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	}
	return fmt.Sprintf("%T", v)
}

// limits returns the step's limits with the defaults filled in.
func (s *stepper) limits() Limits { return s.in.Limits.WithDefaults() }

// encode encodes a value the step stores, within Limits.ValueBytes.
func (s *stepper) encode(what string, v any) (json.RawMessage, error) {
	return encodeValue(what, v, s.limits().ValueBytes)
}
