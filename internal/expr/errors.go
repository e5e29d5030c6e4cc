package expr

import (
	"errors"
	"fmt"
)

// SyntaxError is a problem found while compiling an expression.
type SyntaxError struct {
	// Expr is the whole string that holds the expression, as passed to
	// Compile (or the expression text when compiled on its own).
	Expr string
	// Offset is the byte offset within Expr where the problem is.
	Offset int
	// Msg says what is wrong.
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("syntax error at offset %d in %q: %s", e.Offset, e.Expr, e.Msg)
}

// ErrStepLimit is wrapped by the EvalError of an evaluation that exceeded
// Context.MaxSteps.
var ErrStepLimit = errors.New("evaluation step limit exceeded")

// EvalError is a failure while evaluating an expression: an unknown
// function, a type mismatch, a missing key, a host failure.
type EvalError struct {
	// Lang is "YAQL" or "Jinja".
	Lang string
	// Expr is the expression text (without its delimiters).
	Expr string
	// Offset is the byte offset, within the string the expression was
	// compiled from, of the part of the expression that failed.
	Offset int
	// Msg says what went wrong.
	Msg string
	// Err is the underlying error, if any (a Host error, ErrStepLimit).
	Err error
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("Can not evaluate %s expression [expression=%s, error=%s]", e.Lang, e.Expr, e.Msg)
}

func (e *EvalError) Unwrap() error { return e.Err }

// failure is the evaluator's internal error: a message and the node offset.
type failure struct {
	pos int
	msg string
	err error
}

func (f *failure) Error() string { return f.msg }

func (f *failure) Unwrap() error { return f.err }
