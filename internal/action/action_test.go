package action

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestErrorValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want any
	}{
		{name: "nil", err: nil, want: nil},
		{name: "plain", err: errors.New("boom"), want: "boom"},
		{name: "failure", err: &Failure{Data: map[string]any{"code": int64(7)}}, want: map[string]any{"code": int64(7)}},
		{name: "wrapped failure", err: fmt.Errorf("ctx: %w", &Failure{Data: []any{"a"}}), want: []any{"a"}},
		{name: "non-retryable failure", err: NonRetryable(&Failure{Data: "x"}), want: "x"},
		{name: "non-retryable plain", err: NonRetryable(errors.New("bad input")), want: "bad input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, ErrorValue(tt.err)); diff != "" {
				t.Errorf("ErrorValue (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNonRetryable(t *testing.T) {
	t.Parallel()
	base := errors.New("base")
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "nil", err: nil, want: false},
		{name: "plain", err: base, want: false},
		{name: "marked", err: NonRetryable(base), want: true},
		{name: "wrapped mark", err: fmt.Errorf("outer: %w", NonRetryable(base)), want: true},
		{name: "failure", err: &Failure{Data: 1}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := IsNonRetryable(tt.err); got != tt.want {
				t.Errorf("IsNonRetryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	if NonRetryable(nil) != nil {
		t.Error("NonRetryable(nil) != nil")
	}
	if !errors.Is(NonRetryable(base), base) {
		t.Error("NonRetryable does not unwrap to its error")
	}
	if got := NonRetryable(base).Error(); got != "base" {
		t.Errorf("message = %q, want %q", got, "base")
	}
}

func TestFailureError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data any
		want string
	}{
		{name: "string", data: "oops", want: "oops"},
		{name: "object", data: map[string]any{"a": int64(1)}, want: `{"a":1}`},
		{name: "null", data: nil, want: "null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := (&Failure{Data: tt.data}).Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	noop := Func(func(context.Context, Input) (any, error) { return nil, nil })
	r := NewRegistry()
	wantStd := []string{"std.async_noop", "std.echo", "std.email", "std.fail", "std.http", "std.javascript", "std.js", "std.mistral_http", "std.noop",
		"std.sleep", "std.ssh", "std.ssh_proxied", "std.test_dict"}
	if diff := cmp.Diff(wantStd, r.Names()); diff != "" {
		t.Errorf("Names of a new registry (-want +got):\n%s", diff)
	}

	tests := []struct {
		name    string
		action  string
		a       Action
		wantErr error  // errors.Is target, when set
		wantMsg string // substring of the error, when set
	}{
		{name: "user action", action: "billing.charge", a: noop},
		{name: "duplicate", action: "billing.charge", a: noop, wantErr: ErrDuplicate},
		{name: "std prefix", action: "std.mine", a: noop, wantErr: ErrReserved},
		{name: "std override", action: "std.echo", a: noop, wantErr: ErrReserved},
		{name: "empty", action: "", a: noop, wantMsg: "non-empty"},
		{name: "space", action: "a b", a: noop, wantMsg: "white space"},
		{name: "nil", action: "x.nil", a: nil, wantMsg: "nil"},
	}
	// Sequential: each case depends on the registry as the earlier ones left it.
	for _, tt := range tests {
		err := r.Register(tt.action, tt.a)
		switch {
		case tt.wantErr == nil && tt.wantMsg == "":
			if err != nil {
				t.Errorf("%s: Register: %v", tt.name, err)
			}
		case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
			t.Errorf("%s: Register error = %v, want %v", tt.name, err, tt.wantErr)
		case tt.wantMsg != "" && (err == nil || !strings.Contains(err.Error(), tt.wantMsg)):
			t.Errorf("%s: Register error = %v, want one mentioning %q", tt.name, err, tt.wantMsg)
		}
	}
	if _, ok := r.Lookup("billing.charge"); !ok {
		t.Error("Lookup of a registered action failed")
	}
	if _, ok := r.Lookup("nope"); ok {
		t.Error("Lookup of an unknown action succeeded")
	}
	if diff := cmp.Diff(append([]string{"billing.charge"}, wantStd...), r.Names()); diff != "" {
		t.Errorf("Names (-want +got):\n%s", diff)
	}
	sig, ok := r.Signature("std.echo")
	if diff := cmp.Diff(Signature{Required: []string{"output"}, Optional: []string{"delay"}}, sig); !ok || diff != "" {
		t.Errorf("Signature(std.echo) ok=%v (-want +got):\n%s", ok, diff)
	}
	if _, ok := r.Signature("billing.charge"); ok {
		t.Error("Signature of an action that declares none reported ok")
	}
}

func TestDecodeParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     string
		want    map[string]any
		wantErr string
	}{
		{name: "empty", raw: "", want: map[string]any{}},
		{name: "null", raw: "null", want: map[string]any{}},
		{name: "numbers", raw: `{"i": 3, "f": 1.5, "big": 1e300, "neg": -2}`, want: map[string]any{"i": int64(3), "f": 1.5, "big": 1e300, "neg": int64(-2)}},
		{name: "nested", raw: `{"l": [1, {"x": 2.5}], "s": "t", "b": true, "n": null}`, want: map[string]any{"l": []any{int64(1), map[string]any{"x": 2.5}}, "s": "t", "b": true, "n": nil}},
		{name: "not an object", raw: `[1]`, wantErr: "want an object, got a list"},
		{name: "bad json", raw: `{`, wantErr: "decode action input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeParams([]byte(tt.raw))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("DecodeParams error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeParams: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeParams (-want +got):\n%s", diff)
			}
		})
	}
}

// runStd runs a standard action by name with params.
func runStd(t *testing.T, ctx context.Context, name string, p map[string]any) (any, error) {
	t.Helper()
	a, ok := NewRegistry().Lookup(name)
	if !ok {
		t.Fatalf("no action %s", name)
	}
	return a.Run(ctx, Input{Params: p})
}

func TestStdActions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		action    string
		params    map[string]any
		want      any
		wantErr   any  // ErrorValue of the error, when an error is expected
		wantFinal bool // the error is NonRetryable
	}{
		{name: "noop", action: "std.noop", params: map[string]any{}, want: nil},
		{name: "noop refuses params", action: "std.noop", params: map[string]any{"x": int64(1)},
			wantErr: `std.noop: unknown parameter "x"; it takes no parameters`, wantFinal: true},
		{name: "echo", action: "std.echo", params: map[string]any{"output": map[string]any{"a": []any{int64(1)}}}, want: map[string]any{"a": []any{int64(1)}}},
		{name: "echo null", action: "std.echo", params: map[string]any{"output": nil}, want: nil},
		{name: "echo delay", action: "std.echo", params: map[string]any{"output": "x", "delay": 0.01}, want: "x"},
		{name: "echo missing output", action: "std.echo", params: map[string]any{},
			wantErr: `std.echo: missing required parameter "output"; valid parameters are required: output; optional: delay`, wantFinal: true},
		{name: "echo unknown params", action: "std.echo", params: map[string]any{"output": 1, "zz": 1, "aa": 2},
			wantErr: `std.echo: unknown parameters "aa", "zz"; valid parameters are required: output; optional: delay`, wantFinal: true},
		{name: "echo bad delay", action: "std.echo", params: map[string]any{"output": 1, "delay": "soon"},
			wantErr: `std.echo: parameter "delay" must be a number, got the string "soon"`, wantFinal: true},
		{name: "fail", action: "std.fail", params: map[string]any{}, wantErr: "Fail action expected exception."},
		{name: "fail with data", action: "std.fail", params: map[string]any{"error_data": map[string]any{"why": "x"}}, wantErr: map[string]any{"why": "x"}},
		{name: "fail with empty data", action: "std.fail", params: map[string]any{"error_data": ""}, wantErr: "Fail action expected exception."},
		{name: "sleep", action: "std.sleep", params: map[string]any{"seconds": 0}, want: nil},
		{name: "sleep string seconds", action: "std.sleep", params: map[string]any{"seconds": "0.001"}, want: nil},
		{name: "sleep negative", action: "std.sleep", params: map[string]any{"seconds": int64(-5)}, want: nil},
		{name: "sleep bad seconds", action: "std.sleep", params: map[string]any{"seconds": []any{}},
			wantErr: `std.sleep: parameter "seconds" must be a number, got a list`, wantFinal: true},
		{name: "test_dict", action: "std.test_dict", params: map[string]any{"size": int64(2), "key_prefix": "k", "val": true},
			want: map[string]any{"k0": true, "k1": true}},
		{name: "test_dict defaults", action: "std.test_dict", params: map[string]any{}, want: map[string]any{}},
		{name: "test_dict bad size", action: "std.test_dict", params: map[string]any{"size": 1.5},
			wantErr: `std.test_dict: parameter "size" must be a whole number, got a number 1.5`, wantFinal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := runStd(t, context.Background(), tt.action, tt.params)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("Run = %v, want an error", got)
				}
				if diff := cmp.Diff(tt.wantErr, ErrorValue(err)); diff != "" {
					t.Errorf("error value (-want +got):\n%s", diff)
				}
				if IsNonRetryable(err) != tt.wantFinal {
					t.Errorf("IsNonRetryable = %v, want %v", IsNonRetryable(err), tt.wantFinal)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSleepHonoursContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := runStd(t, ctx, "std.sleep", map[string]any{"seconds": int64(30)})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("std.sleep returned after %v, long after its context ended", d)
	}
}
