package awslambda

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/action"
)

// fakeLambda is the hand-written Invoker of the tests.
type fakeLambda struct {
	invoke func(ctx context.Context, in *lambda.InvokeInput) (*lambda.InvokeOutput, error)
	calls  atomic.Int32
}

func (f *fakeLambda) Invoke(ctx context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	f.calls.Add(1)
	return f.invoke(ctx, in)
}

// answer returns a fake that answers every call with out and err.
func answer(out *lambda.InvokeOutput, err error) *fakeLambda {
	return &fakeLambda{invoke: func(context.Context, *lambda.InvokeInput) (*lambda.InvokeOutput, error) { return out, err }}
}

func input(params map[string]any) action.Input {
	return action.Input{
		Params: params, ExecutionID: "ex-1", Task: "charge#2", Item: 3, Attempt: 4,
		IdempotencyKey: "ex-1/charge#2/3/4", Fence: "f-abc",
	}
}

func newAction(t *testing.T, c Invoker, p action.Policy) *Action {
	t.Helper()
	a, err := New(Client(c), p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestInvokeRequest(t *testing.T) {
	t.Parallel()
	var got *lambda.InvokeInput
	fake := &fakeLambda{invoke: func(_ context.Context, in *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
		got = in
		return &lambda.InvokeOutput{StatusCode: 200, Payload: []byte(`{"charged": 1200}`)}, nil
	}}
	a := newAction(t, fake, action.Policy{})
	out, err := a.Run(context.Background(), input(map[string]any{
		"function": "billing-charge", "qualifier": "prod", "payload": map[string]any{"cents": int64(1200)},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(out); string(b) != `{"charged":1200}` {
		t.Errorf("result = %s, want the function's response", b)
	}
	if aws.ToString(got.FunctionName) != "billing-charge" || aws.ToString(got.Qualifier) != "prod" || got.InvocationType != types.InvocationTypeRequestResponse {
		t.Errorf("request = %s %s %s", aws.ToString(got.FunctionName), aws.ToString(got.Qualifier), got.InvocationType)
	}
	var ev map[string]any
	if err := json.Unmarshal(got.Payload, &ev); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"payload": map[string]any{"cents": float64(1200)},
		"bora": map[string]any{
			"execution_id": "ex-1", "task": "charge", "item": float64(3), "attempt": float64(4), "idempotency_key": "f-abc",
		},
	}
	if d := cmp.Diff(want, ev); d != "" {
		t.Errorf("event (-want +got):\n%s", d)
	}
}

// An asynchronous invocation queues the event with the attempt's callback
// id and leaves the attempt waiting for its completion.
func TestAsyncInvocation(t *testing.T) {
	t.Parallel()
	var got *lambda.InvokeInput
	fake := &fakeLambda{invoke: func(_ context.Context, in *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
		got = in
		return &lambda.InvokeOutput{StatusCode: 202}, nil
	}}
	a := newAction(t, fake, action.Policy{})
	in := input(map[string]any{"function": "long-job", "async": true, "payload": "x"})
	in.CallbackID, in.CallbackURL = "cb-123", "https://api.example.com/v1/completions/"
	out, err := a.Run(context.Background(), in)
	if !errors.Is(err, action.ErrPending) || out != nil {
		t.Fatalf("Run = %v, %v; want nil, ErrPending", out, err)
	}
	if got.InvocationType != types.InvocationTypeEvent {
		t.Errorf("invocation type %s, want Event", got.InvocationType)
	}
	var ev struct{ Bora map[string]any }
	if err := json.Unmarshal(got.Payload, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Bora["callback_id"] != "cb-123" || ev.Bora["callback_url"] != "https://api.example.com/v1/completions/cb-123" {
		t.Errorf("event's bora = %v, want the callback id and its completion URL", ev.Bora)
	}

	// With a heartbeat timeout, the event says it and the attempt's wait
	// carries it.
	in.Params["heartbeat_timeout"] = 45.5
	_, err = a.Run(context.Background(), in)
	if action.HeartbeatOf(err) != 45500*time.Millisecond || !errors.Is(err, action.ErrPending) {
		t.Errorf("Run with heartbeat_timeout 45.5 = %v, want ErrPending with a 45.5 s heartbeat", err)
	}
	if err := json.Unmarshal(got.Payload, &ev); err != nil || ev.Bora["heartbeat_seconds"] != 45.5 {
		t.Errorf("event's bora = %v (%v), want heartbeat_seconds 45.5", ev.Bora, err)
	}
	delete(in.Params, "heartbeat_timeout")

	// Without a callback id nothing could complete it: refused before
	// anything is invoked.
	fake.calls.Store(0)
	in.CallbackID = ""
	if _, err := a.Run(context.Background(), in); err == nil || !action.IsNonRetryable(err) || fake.calls.Load() != 0 {
		t.Errorf("Run without a callback id = %v after %d calls, want a final error and no call", err, fake.calls.Load())
	}

	// Lambda's refusal fails the attempt as a synchronous call's does.
	in.CallbackID = "cb-124"
	refused := answer(nil, &smithy.GenericAPIError{Code: "ResourceNotFoundException", Message: "Function not found"})
	if _, err := newAction(t, refused, action.Policy{}).Run(context.Background(), in); err == nil || errors.Is(err, action.ErrPending) || !action.IsNonRetryable(err) {
		t.Errorf("Run of a missing function = %v, want a final error", err)
	}
}

func TestResults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		out      *lambda.InvokeOutput
		err      error
		want     string // the result as JSON, when it succeeds
		wantErr  string // the task's error as JSON, when it fails
		noRetry  bool
		contains string // besides, in the error's text
	}{
		{name: "object", out: &lambda.InvokeOutput{Payload: []byte(` {"a": [1, 2.5, "x"]} `)}, want: `{"a":[1,2.5,"x"]}`},
		{name: "string", out: &lambda.InvokeOutput{Payload: []byte(`"done"`)}, want: `"done"`},
		{name: "empty", out: &lambda.InvokeOutput{}, want: `null`},
		{name: "not JSON", out: &lambda.InvokeOutput{Payload: []byte(`plain text`)}, want: `"plain text"`},
		{
			name: "unhandled function error",
			out: &lambda.InvokeOutput{FunctionError: aws.String("Unhandled"),
				Payload: []byte(`{"errorType": "CardDeclined", "errorMessage": "card 42 declined", "stackTrace": ["a", "b"]}`)},
			wantErr: `{"error_message":"card 42 declined","error_type":"CardDeclined","function":"billing-charge","function_error":"Unhandled"}`,
		},
		{
			name:    "handled function error of another shape",
			out:     &lambda.InvokeOutput{FunctionError: aws.String("Handled"), Payload: []byte(`{"code": 7}`)},
			wantErr: `{"error":{"code":7},"function":"billing-charge","function_error":"Handled"}`,
		},
		{
			name: "no such function", err: &types.ResourceNotFoundException{Message: aws.String("Function not found: billing-charge")},
			noRetry: true, contains: "ResourceNotFoundException: Function not found: billing-charge (no such function",
		},
		{
			name: "access denied", err: &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"},
			noRetry: true, contains: "InvokeFunctions",
		},
		{
			name: "payload too large", err: &types.RequestTooLargeException{Message: aws.String("too large")},
			noRetry: true, contains: "RequestTooLargeException",
		},
		{name: "throttled", err: &types.TooManyRequestsException{Message: aws.String("Rate exceeded")}, contains: "TooManyRequestsException: Rate exceeded"},
		{name: "service error", err: &types.ServiceException{Message: aws.String("oops")}, contains: "ServiceException: oops"},
		{name: "network", err: errors.New("connection reset by peer"), contains: "invoke billing-charge: connection reset by peer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAction(t, answer(tt.out, tt.err), action.Policy{})
			out, err := a.Run(context.Background(), input(map[string]any{"function": "billing-charge"}))
			if tt.want != "" {
				if err != nil {
					t.Fatalf("err = %v, want %s", err, tt.want)
				}
				if b, _ := json.Marshal(out); string(b) != tt.want {
					t.Errorf("result = %s, want %s", b, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("result = %v, want an error", out)
			}
			if action.IsNonRetryable(err) != tt.noRetry {
				t.Errorf("non-retryable = %v, want %v (%v)", !tt.noRetry, tt.noRetry, err)
			}
			if tt.wantErr != "" {
				if b, _ := json.Marshal(action.ErrorValue(err)); string(b) != tt.wantErr {
					t.Errorf("error = %s, want %s", b, tt.wantErr)
				}
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not contain %q", err, tt.contains)
			}
		})
	}
}

func TestBadParameters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		params map[string]any
		policy action.Policy
		want   string
	}{
		{name: "no function", params: map[string]any{"payload": 1}, want: `missing required parameter "function"`},
		{name: "unknown parameter", params: map[string]any{"function": "f", "fn": "g"}, want: `unknown parameter "fn"; valid parameters are required: function; optional: qualifier, payload, async, heartbeat_timeout`},
		{name: "async not a bool", params: map[string]any{"function": "f", "async": "yes"}, want: `parameter "async" must be true or false, got "yes"`},
		{name: "heartbeat without async", params: map[string]any{"function": "f", "heartbeat_timeout": int64(30)}, want: `parameter "heartbeat_timeout" is for an asynchronous invocation (async: true)`},
		{name: "heartbeat of 0", params: map[string]any{"function": "f", "async": true, "heartbeat_timeout": int64(0)}, want: `parameter "heartbeat_timeout" must be a number of seconds above 0 and at most 86400, got 0`},
		{name: "heartbeat not a number", params: map[string]any{"function": "f", "async": true, "heartbeat_timeout": "soon"}, want: `parameter "heartbeat_timeout" must be a number of seconds above 0 and at most 86400, got "soon"`},
		{name: "function not a string", params: map[string]any{"function": int64(3)}, want: `parameter "function" must be a string`},
		{name: "bad name", params: map[string]any{"function": "my function"}, want: `"my function" is not a Lambda function's name`},
		{name: "bad ARN", params: map[string]any{"function": "arn:aws:s3:us-east-1:123456789012:function:f"}, want: "is not a Lambda function's name"},
		{name: "bad qualifier", params: map[string]any{"function": "f", "qualifier": "a b"}, want: `parameter "qualifier" must be a version number, $LATEST or an alias name, got "a b"`},
		{name: "two qualifiers", params: map[string]any{"function": "f:prod", "qualifier": "test"}, want: `function "f:prod" names qualifier "prod" but parameter "qualifier" is "test"`},
		{name: "payload not JSON", params: map[string]any{"function": "f", "payload": func() {}}, want: `parameter "payload" is not JSON-encodable`},
		{
			name: "not allowed", params: map[string]any{"function": "refund"}, policy: action.Policy{LambdaFunctions: []string{"charge", "notify:prod"}},
			want: "function refund is not one the worker may invoke: the operator allows only charge, notify:prod (BORA_LAMBDA_FUNCTIONS)",
		},
		{
			name: "other alias not allowed", params: map[string]any{"function": "notify", "qualifier": "test"}, policy: action.Policy{LambdaFunctions: []string{"notify:prod"}},
			want: "function notify:test is not one the worker may invoke",
		},
		{
			name: "other account not allowed", params: map[string]any{"function": "arn:aws:lambda:us-east-1:210987654321:function:charge"},
			policy: action.Policy{LambdaFunctions: []string{"arn:aws:lambda:us-east-1:123456789012:function:charge"}},
			want:   "function arn:aws:lambda:us-east-1:210987654321:function:charge is not one the worker may invoke",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := answer(&lambda.InvokeOutput{}, nil)
			a := newAction(t, fake, tt.policy)
			_, err := a.Run(context.Background(), input(tt.params))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !action.IsNonRetryable(err) {
				t.Errorf("err = %v, want a final error containing %q", err, tt.want)
			}
			if n := fake.calls.Load(); n != 0 {
				t.Errorf("Lambda was called %d times for a refused input", n)
			}
		})
	}
}

func TestAllowed(t *testing.T) {
	t.Parallel()
	p := action.Policy{LambdaFunctions: []string{"charge", "notify:prod", "arn:aws:lambda:eu-west-1:123456789012:function:refund"}}
	for _, fn := range []string{
		"charge", "charge:7", "arn:aws:lambda:us-east-1:123456789012:function:charge:live",
		"notify:prod", "refund", "123456789012:function:refund", "arn:aws:lambda:eu-west-1:123456789012:function:refund:$LATEST",
	} {
		a := newAction(t, answer(&lambda.InvokeOutput{Payload: []byte(`1`)}, nil), p)
		if _, err := a.Run(context.Background(), input(map[string]any{"function": fn})); err != nil {
			t.Errorf("%s: %v, want it allowed", fn, err)
		}
	}
	if _, err := New(Client(answer(nil, nil)), action.Policy{LambdaFunctions: []string{"ok", "not ok", "arn:aws:lambda:x"}}); err == nil ||
		!strings.Contains(err.Error(), `"not ok"`) || !strings.Contains(err.Error(), `"arn:aws:lambda:x"`) || !strings.Contains(err.Error(), action.EnvLambdaFunctions) {
		t.Errorf("New with bad entries: %v, want both named", err)
	}
}

func TestParseRef(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want ref
		bad  bool
	}{
		{in: "f", want: ref{name: "f"}},
		{in: "my-function_2:$LATEST", want: ref{name: "my-function_2", qualifier: "$LATEST"}},
		{in: "123456789012:function:f:3", want: ref{account: "123456789012", name: "f", qualifier: "3"}},
		{in: "arn:aws:lambda:us-east-1:123456789012:function:f", want: ref{partition: "aws", region: "us-east-1", account: "123456789012", name: "f"}},
		{in: "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f:live", want: ref{partition: "aws-us-gov", region: "us-gov-west-1", account: "123456789012", name: "f", qualifier: "live"}},
		{in: "", bad: true},
		{in: "f:", bad: true},
		{in: "f:a:b", bad: true},
		{in: strings.Repeat("x", 65), bad: true},
		{in: "12345:function:f", bad: true},
		{in: "arn:aws:lambda:us-east-1:123456789012:layer:f", bad: true},
		{in: "arn:aws:lambda:nowhere:123456789012:function:f", bad: true},
	}
	for _, tt := range tests {
		got, err := parseRef(tt.in)
		if (err != nil) != tt.bad || (!tt.bad && got != tt.want) {
			t.Errorf("parseRef(%q) = %+v, %v", tt.in, got, err)
		}
		if !tt.bad && got.String() != tt.in {
			t.Errorf("parseRef(%q).String() = %q", tt.in, got.String())
		}
	}
}

// An invocation never outlives its context: the worker's deadline and the
// task's timeout end it, whatever the function does.
func TestContextEndsInvocation(t *testing.T) {
	t.Parallel()
	fake := &fakeLambda{invoke: func(ctx context.Context, _ *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
		<-ctx.Done() // as the SDK's HTTP request does
		return nil, &smithy.OperationError{ServiceID: "Lambda", OperationName: "Invoke", Err: ctx.Err()}
	}}
	a := newAction(t, fake, action.Policy{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := a.Run(ctx, input(map[string]any{"function": "slow"}))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's", err)
	}
}

func TestConnectOnFirstUse(t *testing.T) {
	t.Parallel()
	var connects atomic.Int32
	fail := true
	a, err := New(func(context.Context) (Invoker, error) {
		connects.Add(1)
		if fail {
			return nil, errors.New("no credentials")
		}
		return answer(&lambda.InvokeOutput{Payload: []byte(`true`)}, nil), nil
	}, action.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if n := connects.Load(); n != 0 {
		t.Fatalf("connected %d times before the first run", n)
	}
	if _, err := a.Run(context.Background(), input(map[string]any{"function": "f"})); err == nil || action.IsNonRetryable(err) || !strings.Contains(err.Error(), "no credentials") {
		t.Errorf("err = %v, want a retryable error that says why", err)
	}
	fail = false
	for range 2 {
		if out, err := a.Run(context.Background(), input(map[string]any{"function": "f"})); err != nil || string(out.(json.RawMessage)) != "true" {
			t.Errorf("run = %v, %v", out, err)
		}
	}
	if n := connects.Load(); n != 2 {
		t.Errorf("connected %d times, want 2: once failed, once for good", n)
	}
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	reg, err := Registry(action.Policy{}, Client(answer(nil, nil)))
	if err != nil {
		t.Fatal(err)
	}
	sig, ok := reg.Signature(Name)
	if !ok || !cmp.Equal(sig, signature) {
		t.Errorf("signature = %+v, %v", sig, ok)
	}
	if _, ok := reg.Lookup("std.http"); !ok {
		t.Error("the standard actions are missing")
	}
}
