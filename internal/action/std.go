package action

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// stdAction is a standard action: it checks its parameters against its
// signature, then runs. A parameter error is final (NonRetryable): the
// same input fails the same way on every attempt.
type stdAction struct {
	name string
	sig  Signature
	run  func(ctx context.Context, p params) (any, error)
}

func (s *stdAction) Signature() Signature {
	return Signature{Required: append([]string(nil), s.sig.Required...), Optional: append([]string(nil), s.sig.Optional...)}
}

func (s *stdAction) Run(ctx context.Context, in Input) (any, error) {
	if err := checkParams(s.name, s.sig, in.Params); err != nil {
		return nil, NonRetryable(err)
	}
	out, err := s.run(ctx, params{action: s.name, m: in.Params, in: in})
	var pe *paramError
	if errors.As(err, &pe) {
		return nil, NonRetryable(pe.err)
	}
	return out, err
}

// paramError marks a parameter error found while running.
type paramError struct{ err error }

func (e *paramError) Error() string { return e.err.Error() }
func (e *paramError) Unwrap() error { return e.err }

func badParam(err error) error {
	if err == nil {
		return nil
	}
	return &paramError{err: err}
}

// FailMessage is std.fail's error when it has no error_data, as in Mistral.
const FailMessage = "Fail action expected exception."

func standard(pol Policy) map[string]Action {
	h := newHTTPAction(pol)
	all := []*stdAction{
		{name: "std.noop", run: runNoop},
		{name: "std.async_noop", run: runAsyncNoop},
		{name: "std.mistral_http", sig: httpSignature, run: h.runAsync},
		{name: "std.echo", sig: Signature{Required: []string{"output"}, Optional: []string{"delay"}}, run: runEcho},
		{name: "std.fail", sig: Signature{Optional: []string{"error_data"}}, run: runFail},
		{name: "std.sleep", sig: Signature{Optional: []string{"seconds"}}, run: runSleep},
		{name: "std.test_dict", sig: Signature{Optional: []string{"size", "key_prefix", "val"}}, run: runTestDict},
		{name: "std.http", sig: httpSignature, run: h.run},
		{name: "std.email", sig: emailSignature, run: func(ctx context.Context, p params) (any, error) { return runEmail(ctx, p, pol) }},
		{name: "std.javascript", sig: jsSignature, run: runJavaScript},
		{name: "std.js", sig: jsSignature, run: runJavaScript},
		{name: "std.ssh", sig: sshSignature, run: func(ctx context.Context, p params) (any, error) { return runSSH(ctx, p, pol, false) }},
		{name: "std.ssh_proxied", sig: sshProxiedSignature, run: func(ctx context.Context, p params) (any, error) { return runSSH(ctx, p, pol, true) }},
	}
	m := make(map[string]Action, len(all))
	for _, a := range all {
		m[a.name] = a
	}
	return m
}

// std.noop does nothing; its result is null.
func runNoop(context.Context, params) (any, error) { return nil, nil }

// std.async_noop does nothing and leaves its attempt waiting for a
// completion (ErrPending).
func runAsyncNoop(context.Context, params) (any, error) { return nil, ErrPending }

// std.echo returns `output`, after `delay` seconds when given.
func runEcho(ctx context.Context, p params) (any, error) {
	delay, err := p.seconds("delay", 0)
	if err != nil {
		return nil, badParam(err)
	}
	if err := sleep(ctx, delay); err != nil {
		return nil, err
	}
	return p.m["output"], nil
}

// std.fail fails: with `error_data` as the task's error when it is given
// and not empty, else with FailMessage.
func runFail(_ context.Context, p params) (any, error) {
	if data := p.m["error_data"]; truthy(data) {
		return nil, &Failure{Data: data}
	}
	return nil, errors.New(FailMessage)
}

// std.sleep waits `seconds` (default 1); its result is null.
func runSleep(ctx context.Context, p params) (any, error) {
	d, err := p.seconds("seconds", 1)
	if err != nil {
		return nil, badParam(err)
	}
	return nil, sleep(ctx, d)
}

// std.test_dict returns an object of `size` keys `<key_prefix><i>`, each
// holding `val`.
func runTestDict(_ context.Context, p params) (any, error) {
	size, err := p.integer("size", 0)
	if err != nil {
		return nil, badParam(err)
	}
	prefix, err := p.str("key_prefix", "")
	if err != nil {
		return nil, badParam(err)
	}
	val, ok := p.m["val"]
	if !ok {
		val = ""
	}
	res := make(map[string]any, max(size, 0))
	for i := range size {
		res[fmt.Sprintf("%s%d", prefix, i)] = val
	}
	return res, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
