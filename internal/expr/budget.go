package expr

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// The budget of one evaluation.
//
// Steps bound the work: every node evaluated, every element a function
// visits, costs one. Bytes bound what an evaluation builds: every string,
// list or dict it makes costs its size as JSON, counting in full whatever
// it holds (so `[$.s] * 1000` costs a thousand times $.s, which is what
// encoding it would cost). Referring to data (`$.x`, task results, the
// input) costs nothing: only what the evaluation builds is counted.
//
// The counting is central, so that a function needs to do nothing for its
// result to be counted:
//
//   - call charges the result of every function (unless it is one of its
//     arguments, returned as it is); eval charges every list, dict and
//     string an operator or literal builds; a template charges the strings
//     it interpolates. A function that builds something large before its
//     result exists must ask for room first: x.room(n, bytes) for a size it
//     can compute (repeat, padding), x.render/x.renderJSON/x.renderYAML to
//     turn a value into text, which measure the value before writing it.
//   - a number that is not finite (infinity, NaN) or an integer that
//     overflows is an error (ErrNumber): every function result and every
//     value built is checked, so a new numeric function is covered too.

// DefaultMaxBytes bounds what one evaluation builds when Context.MaxBytes
// is zero.
const DefaultMaxBytes = 4 << 20

// ErrByteLimit is wrapped by the EvalError of an evaluation that built more
// than Context.MaxBytes.
var ErrByteLimit = errors.New("evaluation byte limit exceeded")

// ErrNumber is wrapped by the EvalError of an evaluation whose result would
// be a number JSON cannot hold exactly: an integer outside 64 bits, an
// infinity or NaN.
var ErrNumber = errors.New("number out of range")

// FormatBytes writes a byte count the way Bora's limits are stated: whole
// KiB or MiB when exact, else bytes.
func FormatBytes(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func (x *evaluator) byteLimit(n *node) *failure {
	return &failure{pos: n.pos, msg: fmt.Sprintf("evaluation built more than %s, the limit of one expression", FormatBytes(x.maxBytes)), err: ErrByteLimit}
}

func (x *evaluator) stepLimit(n *node) *failure {
	return &failure{pos: n.pos, msg: fmt.Sprintf("evaluation exceeded %d steps", x.max), err: ErrStepLimit}
}

// left is what remains of the byte budget.
func (x *evaluator) left() int { return x.maxBytes - x.bytes }

// alloc counts k bytes built.
func (x *evaluator) alloc(n *node, k int) error {
	if k > x.left() {
		x.bytes = x.maxBytes + 1
		return x.byteLimit(n)
	}
	x.bytes += k
	return nil
}

// room checks that k bytes more could be built, without counting them:
// for a value about to be built whose size is known before it exists.
func (x *evaluator) room(n *node, k int) error {
	if k < 0 || k > x.left() {
		return x.byteLimit(n)
	}
	return nil
}

// roomFor checks that k copies of size bytes could be built.
func (x *evaluator) roomFor(n *node, size, k int64) error {
	if size > 0 && k > int64(x.left())/size {
		return x.byteLimit(n)
	}
	return nil
}

// built counts a value the evaluation made and returns it. Scalars cost
// nothing, but a float must be finite.
func (x *evaluator) built(n *node, v any) (any, error) {
	switch v.(type) {
	case string, []any, map[string]any:
		k, err := Size(v, x.left())
		if err != nil {
			return nil, &failure{pos: n.pos, msg: err.Error(), err: ErrNumber}
		}
		return v, x.alloc(n, k)
	case float64:
		return x.finite(n, v.(float64))
	}
	return v, nil
}

// result counts the result of a function call: a value the function
// built, unless it is one of its arguments returned as it is.
func (x *evaluator) result(n *node, v any, args []any) (any, error) {
	for _, a := range args {
		if same(v, a) {
			return v, nil
		}
	}
	return x.built(n, v)
}

// same reports whether v is a (whole or part of a) string, or the very
// list or dict, that a holds.
func same(v, a any) bool {
	switch vv := v.(type) {
	case string:
		as, ok := a.(string)
		if !ok || len(vv) == 0 || len(as) == 0 {
			return ok && len(vv) == 0
		}
		p, lo := uintptr(unsafe.Pointer(unsafe.StringData(vv))), uintptr(unsafe.Pointer(unsafe.StringData(as)))
		return p >= lo && p+uintptr(len(vv)) <= lo+uintptr(len(as))
	case []any:
		al, ok := a.([]any)
		return ok && len(vv) == len(al) && (len(vv) == 0 || &vv[0] == &al[0])
	case map[string]any:
		am, ok := a.(map[string]any)
		return ok && reflect.ValueOf(vv).UnsafePointer() == reflect.ValueOf(am).UnsafePointer()
	}
	return false
}

// finite returns f, or ErrNumber when it is an infinity or NaN.
func (x *evaluator) finite(n *node, f float64) (any, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, &failure{pos: n.pos, msg: fmt.Sprintf("the result is %s, not a finite number", pyFloat(f)), err: ErrNumber}
	}
	return f, nil
}

// overflow is the error of an integer operation whose result does not fit
// in 64 bits.
func (x *evaluator) overflow(n *node, what string) *failure {
	return &failure{pos: n.pos, msg: fmt.Sprintf("integer overflow: %s is outside the 64-bit range", what), err: ErrNumber}
}

// render is Render(v) within the budget: v is measured before it is
// written. The text is not counted: whoever keeps it does (the call that
// returns it, the template that interpolates it).
func (x *evaluator) render(n *node, v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	if err := x.measure(n, v); err != nil {
		return "", err
	}
	return Render(v), nil
}

// renderJSON is pyJSON within the budget.
func (x *evaluator) renderJSON(n *node, v any, indent string, htmlSafe bool) (string, error) {
	if err := x.measure(n, v); err != nil {
		return "", err
	}
	return pyJSON(v, indent, htmlSafe), nil
}

// renderYAML is yamlDump within the budget.
func (x *evaluator) renderYAML(n *node, v any) (string, error) {
	if err := x.measure(n, v); err != nil {
		return "", err
	}
	return yamlDump(v), nil
}

// measure checks that v, written as text, fits what is left of the budget.
// Indentation and quoting may make the text larger than v's JSON size by a
// bounded factor; the text itself is counted when it is returned.
func (x *evaluator) measure(n *node, v any) error {
	k, err := Size(v, x.left())
	if err != nil {
		return &failure{pos: n.pos, msg: err.Error(), err: ErrNumber}
	}
	return x.room(n, k)
}

// Size returns the length of v's JSON encoding by encoding/json (HTML
// escaping included), v being one of the values expressions work on. It
// stops as soon as the length passes limit and then returns a length over
// limit, so that measuring a value costs at most limit bytes of walking
// however large the value is. A non-finite float, which JSON cannot hold,
// is an error.
func Size(v any, limit int) (int, error) {
	s := sizer{limit: limit}
	s.add(v)
	return s.n, s.err
}

type sizer struct {
	n, limit int
	err      error
}

func (s *sizer) over() bool { return s.n > s.limit || s.err != nil }

func (s *sizer) add(v any) {
	if s.over() {
		return
	}
	switch x := v.(type) {
	case nil:
		s.n += 4
	case bool:
		if x {
			s.n += 4
		} else {
			s.n += 5
		}
	case int64:
		var buf [24]byte
		s.n += len(strconv.AppendInt(buf[:0], x, 10))
	case int:
		var buf [24]byte
		s.n += len(strconv.AppendInt(buf[:0], int64(x), 10))
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			s.err = fmt.Errorf("%s is not a finite number", pyFloat(x))
			return
		}
		s.n += floatLen(x)
	case string:
		s.str(x)
	case []any:
		s.n += 2 + max(len(x)-1, 0)
		for _, e := range x {
			if s.over() {
				return
			}
			s.add(e)
		}
	case map[string]any:
		s.n += 2 + max(len(x)-1, 0) + len(x)
		for k, e := range x {
			if s.over() {
				return
			}
			s.str(k)
			s.add(e)
		}
	default:
		s.add(Normalize(v))
	}
}

// str adds a JSON string as encoding/json writes it.
func (s *sizer) str(x string) {
	s.n += 2
	if len(x) > s.limit-s.n {
		// Escapes only make it longer: no need to look at every byte.
		s.n += len(x)
		return
	}
	for i := 0; i < len(x); {
		c := x[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f':
				s.n += 2
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				s.n += 6
			default:
				s.n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(x[i:])
		switch {
		case r == utf8.RuneError && size == 1, r == '\u2028', r == '\u2029':
			s.n += 6
		default:
			s.n += size
		}
		i += size
	}
}

// floatLen is the length of f as encoding/json writes it: like ES6, plain
// notation from 1e-6 to 1e21, exponent notation without a leading zero in
// the exponent outside it.
func floatLen(f float64) int {
	var buf [32]byte
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b := strconv.AppendFloat(buf[:0], f, format, -1, 64)
	if n := len(b); format == 'e' && n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
		return n - 1
	}
	return len(b)
}
