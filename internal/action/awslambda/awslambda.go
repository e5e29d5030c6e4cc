// Package awslambda is the aws.lambda action: a task that invokes an AWS
// Lambda function. It lives apart from package action so that the AWS SDK
// stays out of the packages that must not import it; the worker's entry
// points register it (Registry).
//
// A task runs it as
//
//	charge:
//	  action: aws.lambda
//	  input:
//	    function: billing-charge        # a name, name:alias, or an ARN
//	    qualifier: prod                 # optional: a version or an alias
//	    payload: {customer: <% $.customer %>, cents: 1200}
//
// The function is invoked synchronously (InvocationType RequestResponse)
// with an event that carries the payload and where it comes from:
//
//	{"payload": {...},
//	 "bora": {"execution_id": "...", "task": "charge", "item": 0, "attempt": 1,
//	          "idempotency_key": "..."}}
//
// idempotency_key is the claim's fencing token: the same on every
// invocation of one attempt (a retried request, a redelivered message),
// different for every other attempt and item, so that the function can
// make its side effects happen once per attempt. Its JSON response is the
// task's result. A function error (the invocation's FunctionError, a
// handled or unhandled error) fails the attempt with the error object
//
//	{"function": "billing-charge", "function_error": "Unhandled",
//	 "error_type": "CardDeclined", "error_message": "..."}
//
// which retry, on-error and fail-on see as any action's error. Lambda's
// own refusals that another attempt cannot change (no such function,
// access denied, a bad parameter, a payload too large) fail it for good;
// throttling and service errors are ordinary errors, left to the task's
// retry policy after the SDK's own retries.
//
// With `async: true` the function is invoked asynchronously (InvocationType
// Event) and the attempt waits for a completion: the event's "bora" object
// also carries "callback_id" (and "callback_url", the completion route,
// when the worker knows its API's address), and whatever finishes the
// work — the function itself, or a system it handed the work to — ends the
// attempt with POST /v1/completions/{callback_id}, `bora complete` or
// `bora fail`. The task's timeout bounds the wait; a completion for an
// attempt that is no longer current is refused. With `heartbeat_timeout:
// N` (seconds) the event also carries "heartbeat_seconds", and the attempt
// times out — an ordinary error, which retry sees — unless a heartbeat
// (POST <callback_url>/heartbeat, `bora heartbeat`) or the completion
// comes within N seconds of the invocation and of each heartbeat: a
// function that dies half-way is noticed in N seconds, not at the task's
// timeout. Lambda retries a function error of an asynchronous invocation
// itself (twice by default), so the function should report its failure
// with `fail` rather than raise it.
//
// An invocation is bounded by the task's timeout and by the worker's
// remaining time, as any action: when either passes, the attempt fails and
// the worker goes on. Lambda cannot stop a function once invoked, so the
// function may still be running then; its idempotency key lets a later
// attempt find what it did.
package awslambda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/borawf/bora/internal/action"
	"github.com/borawf/bora/internal/awsx"
)

// maxHeartbeat bounds heartbeat_timeout: a longer wait is the task's
// timeout's job.
const maxHeartbeat = 24 * time.Hour

// Name is the action's name in workflows.
const Name = "aws.lambda"

// Invoker is the one Lambda call the action makes (*lambda.Client).
type Invoker interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Connect returns the Lambda client to invoke through. It is called when
// the action first runs, so that a worker that never invokes a function
// never loads an AWS configuration.
type Connect func(ctx context.Context) (Invoker, error)

// Client returns a Connect that always returns c.
func Client(c Invoker) Connect {
	return func(context.Context) (Invoker, error) { return c, nil }
}

// DefaultClient builds a client from the SDK's default configuration: the
// environment (AWS_REGION, AWS_ENDPOINT_URL, credentials), shared files,
// or the instance's role.
func DefaultClient(ctx context.Context) (Invoker, error) {
	cfg, err := awsx.Config(ctx)
	if err != nil {
		return nil, err
	}
	return lambda.NewFromConfig(cfg), nil
}

// Registry returns the worker's registry: the standard actions under p,
// and aws.lambda invoking through connect. It fails when p names a
// function that is not a valid Lambda function name or ARN.
func Registry(p action.Policy, connect Connect) (*action.Registry, error) {
	reg := action.NewRegistryWith(p)
	a, err := New(connect, p)
	if err != nil {
		return reg, err
	}
	return reg, reg.Register(Name, a)
}

var signature = action.Signature{
	Required: []string{"function"},
	Optional: []string{"qualifier", "payload", "async", "heartbeat_timeout"},
}

// Action is aws.lambda.
type Action struct {
	connect Connect
	allow   []ref

	mu     sync.Mutex
	client Invoker
}

// New returns aws.lambda invoking through the client connect returns,
// allowed the functions p.LambdaFunctions lists (any when it lists none).
func New(connect Connect, p action.Policy) (*Action, error) {
	a := &Action{connect: connect}
	var errs []error
	for _, s := range p.LambdaFunctions {
		r, err := parseRef(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", action.EnvLambdaFunctions, err))
			continue
		}
		a.allow = append(a.allow, r)
	}
	return a, errors.Join(errs...)
}

// Signature declares the action's parameters.
func (a *Action) Signature() action.Signature {
	return action.Signature{Required: append([]string(nil), signature.Required...), Optional: append([]string(nil), signature.Optional...)}
}

// Event is what the function receives.
type Event struct {
	// Payload is the task's `payload` parameter.
	Payload any `json:"payload"`
	// Bora says which attempt of which task invoked the function.
	Bora Context `json:"bora"`
}

// Context says which attempt of which task invoked a function.
type Context struct {
	ExecutionID string `json:"execution_id"`
	Task        string `json:"task"`
	Item        int    `json:"item"`
	Attempt     int    `json:"attempt"`
	// IdempotencyKey is the claim's fencing token: the same on every
	// invocation of one attempt, different for every other.
	IdempotencyKey string `json:"idempotency_key"`
	// CallbackID, for an asynchronous invocation, names the attempt for
	// its completion; CallbackURL is where to post it, when known.
	CallbackID  string `json:"callback_id,omitempty"`
	CallbackURL string `json:"callback_url,omitempty"`
	// HeartbeatSeconds, when the task asked for heartbeats, is how often
	// the function must send one (POST <callback_url>/heartbeat, or `bora
	// heartbeat`) for the attempt not to time out.
	HeartbeatSeconds float64 `json:"heartbeat_seconds,omitempty"`
}

// Run invokes the function.
func (a *Action) Run(ctx context.Context, in action.Input) (any, error) {
	call, err := a.request(in)
	if err != nil {
		return nil, action.NonRetryable(err)
	}
	client, err := a.invoker(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	out, err := client.Invoke(ctx, call.input)
	if err != nil {
		if ctx.Err() != nil {
			// The worker says why (the task's timeout, its own deadline).
			return nil, ctx.Err()
		}
		return nil, invokeError(call.function, err)
	}
	if call.async {
		// Lambda queued the event (202): the outcome comes with the
		// completion.
		if call.heartbeat > 0 {
			return nil, &action.Pending{Heartbeat: call.heartbeat}
		}
		return nil, action.ErrPending
	}
	if out.FunctionError != nil {
		return nil, &action.Failure{Data: functionError(call.function, aws.ToString(out.FunctionError), out.Payload)}
	}
	return result(out.Payload), nil
}

// call is one invocation, checked.
type call struct {
	async     bool
	heartbeat time.Duration
	function  string
	input     *lambda.InvokeInput
}

// request checks the task's parameters and builds the invocation.
func (a *Action) request(in action.Input) (*call, error) {
	if err := signature.Check(Name, in.Params); err != nil {
		return nil, err
	}
	fn, ok := in.Params["function"].(string)
	if !ok {
		return nil, fmt.Errorf("%s: parameter \"function\" must be a string: a function's name, name:alias or ARN", Name)
	}
	r, err := parseRef(fn)
	if err != nil {
		return nil, fmt.Errorf("%s: parameter \"function\": %w", Name, err)
	}
	var qualifier *string
	if v, given := in.Params["qualifier"]; given && v != nil {
		q, ok := v.(string)
		if !ok || !qualifierRE.MatchString(q) {
			return nil, fmt.Errorf("%s: parameter \"qualifier\" must be a version number, $LATEST or an alias name, got %s", Name, brief(v))
		}
		if r.qualifier != "" && r.qualifier != q {
			return nil, fmt.Errorf("%s: function %q names qualifier %q but parameter \"qualifier\" is %q", Name, fn, r.qualifier, q)
		}
		r.qualifier, qualifier = q, &q
	}
	if err := a.allowed(r); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	async := false
	if v, given := in.Params["async"]; given && v != nil {
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("%s: parameter \"async\" must be true or false, got %s", Name, brief(v))
		}
		async = b
	}
	var heartbeat time.Duration
	if v, given := in.Params["heartbeat_timeout"]; given && v != nil {
		f, ok := action.Number(v)
		if !ok || f <= 0 || f > maxHeartbeat.Seconds() {
			return nil, fmt.Errorf("%s: parameter \"heartbeat_timeout\" must be a number of seconds above 0 and at most %g, got %s", Name, maxHeartbeat.Seconds(), brief(v))
		}
		if !async {
			return nil, fmt.Errorf("%s: parameter \"heartbeat_timeout\" is for an asynchronous invocation (async: true): a synchronous one is bounded by the task's timeout", Name)
		}
		heartbeat = time.Duration(f * float64(time.Second))
	}
	if async && in.CallbackID == "" {
		return nil, fmt.Errorf("%s: async: the worker gave this attempt no callback id to complete it by", Name)
	}
	key := in.Fence
	if key == "" {
		key = in.IdempotencyKey
	}
	ev := Event{Payload: in.Params["payload"], Bora: Context{
		ExecutionID: in.ExecutionID, Task: taskName(in.Task), Item: in.Item, Attempt: in.Attempt, IdempotencyKey: key,
	}}
	invocation := types.InvocationTypeRequestResponse
	if async {
		invocation = types.InvocationTypeEvent
		ev.Bora.CallbackID = in.CallbackID
		if in.CallbackURL != "" {
			ev.Bora.CallbackURL = strings.TrimSuffix(in.CallbackURL, "/") + "/" + in.CallbackID
		}
		ev.Bora.HeartbeatSeconds = heartbeat.Seconds()
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("%s: parameter \"payload\" is not JSON-encodable: %v", Name, err)
	}
	return &call{async: async, heartbeat: heartbeat, function: fn, input: &lambda.InvokeInput{
		FunctionName:   aws.String(fn),
		Qualifier:      qualifier,
		InvocationType: invocation,
		Payload:        body,
	}}, nil
}

// invoker returns the client, connecting on first use; a failed connection
// is tried again by the next run.
func (a *Action) invoker(ctx context.Context) (Invoker, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.client == nil {
		c, err := a.connect(ctx)
		if err != nil {
			return nil, err
		}
		a.client = c
	}
	return a.client, nil
}

// allowed checks r against the operator's list.
func (a *Action) allowed(r ref) error {
	if len(a.allow) == 0 {
		return nil
	}
	for _, e := range a.allow {
		if e.allows(r) {
			return nil
		}
	}
	return fmt.Errorf("function %s is not one the worker may invoke: the operator allows only %s (%s)", r, listRefs(a.allow), action.EnvLambdaFunctions)
}

// taskName is the task's name in its task execution key "<name>#<n>".
func taskName(key string) string {
	if i := strings.LastIndexByte(key, '#'); i >= 0 {
		return key[:i]
	}
	return key
}

// result is a successful invocation's response as the task's result: its
// JSON, or its text when it is not JSON, or null when it is empty.
func result(payload []byte) any {
	payload = bytes.TrimSpace(payload)
	switch {
	case len(payload) == 0:
		return nil
	case json.Valid(payload):
		return json.RawMessage(payload)
	}
	return string(payload)
}

// functionError is the task's error for a function error: Lambda's error
// object ({"errorType", "errorMessage", "stackTrace"}) in Bora's words, or
// the function's payload whole when it is not one.
func functionError(fn, kind string, payload []byte) map[string]any {
	e := map[string]any{"function": fn, "function_error": kind}
	var obj struct {
		Type    *string `json:"errorType"`
		Message *string `json:"errorMessage"`
	}
	if json.Unmarshal(payload, &obj) == nil && (obj.Type != nil || obj.Message != nil) {
		e["error_type"] = aws.ToString(obj.Type)
		e["error_message"] = aws.ToString(obj.Message)
		return e
	}
	e["error"] = result(payload)
	return e
}

// permanent are the errors of Lambda's Invoke that another attempt cannot
// change: the function, its configuration or the request is wrong, or the
// worker may not invoke it.
var permanent = map[string]string{
	"ResourceNotFoundException":                "no such function, version or alias",
	"AccessDeniedException":                    "the worker's role may not invoke it (on AWS, list the function in the construct's InvokeFunctions)",
	"InvalidParameterValueException":           "",
	"InvalidRequestContentException":           "",
	"RequestTooLargeException":                 "the payload is over Lambda's limit",
	"SerializedRequestEntityTooLargeException": "the payload is over Lambda's limit",
	"UnsupportedMediaTypeException":            "",
	"InvalidRuntimeException":                  "",
	"InvalidZipFileException":                  "",
	"InvalidSecurityGroupIDException":          "",
	"InvalidSubnetIDException":                 "",
	"KMSAccessDeniedException":                 "",
	"KMSDisabledException":                     "",
	"KMSNotFoundException":                     "",
	"RecursiveInvocationException":             "",
	"ModeNotSupportedException":                "",
	"NoPublishedVersionException":              "",
	"InvalidCodeSignatureException":            "",
	"CodeVerificationFailedException":          "",
	"UnrecognizedClientException":              "the worker's credentials were refused",
	"InvalidSignatureException":                "the worker's credentials were refused",
	"ValidationException":                      "",
}

// invokeError is the attempt's error for a failed Invoke call.
func invokeError(fn string, err error) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		if hint, ok := permanent[api.ErrorCode()]; ok {
			msg := fmt.Sprintf("%s: invoke %s: %s: %s", Name, fn, api.ErrorCode(), api.ErrorMessage())
			if hint != "" {
				msg += " (" + hint + ")"
			}
			return action.NonRetryable(errors.New(msg))
		}
		return fmt.Errorf("%s: invoke %s: %s: %s", Name, fn, api.ErrorCode(), api.ErrorMessage())
	}
	return fmt.Errorf("%s: invoke %s: %w", Name, fn, err)
}

func brief(v any) string {
	b, err := json.Marshal(v)
	if err != nil || len(b) > 60 {
		return fmt.Sprintf("a %T", v)
	}
	return string(b)
}

// ref is a function reference: a name or ARN, with its qualifier.
type ref struct {
	partition, region, account string // empty when not given
	name, qualifier            string
}

var (
	nameRE      = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	qualifierRE = regexp.MustCompile(`^(\$LATEST|[A-Za-z0-9_-]{1,128})$`)
	accountRE   = regexp.MustCompile(`^\d{12}$`)
	regionRE    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
)

// parseRef reads a function's name, name:qualifier, partial ARN
// (account:function:name[:qualifier]) or ARN
// (arn:partition:lambda:region:account:function:name[:qualifier]), the
// forms Lambda's Invoke takes.
func parseRef(s string) (ref, error) {
	bad := fmt.Errorf("%q is not a Lambda function's name, name:alias or ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)", s)
	parts := strings.Split(s, ":")
	var r ref
	switch {
	case parts[0] == "arn" && (len(parts) == 7 || len(parts) == 8):
		if parts[2] != "lambda" || parts[5] != "function" || !regionRE.MatchString(parts[3]) || !accountRE.MatchString(parts[4]) || parts[1] == "" {
			return ref{}, bad
		}
		r = ref{partition: parts[1], region: parts[3], account: parts[4], name: parts[6]}
		if len(parts) == 8 {
			r.qualifier = parts[7]
		}
	case len(parts) == 3 || len(parts) == 4:
		if !accountRE.MatchString(parts[0]) || parts[1] != "function" {
			return ref{}, bad
		}
		r = ref{account: parts[0], name: parts[2]}
		if len(parts) == 4 {
			r.qualifier = parts[3]
		}
	case len(parts) == 1 || len(parts) == 2:
		r = ref{name: parts[0]}
		if len(parts) == 2 {
			r.qualifier = parts[1]
		}
	default:
		return ref{}, bad
	}
	if !nameRE.MatchString(r.name) {
		return ref{}, bad
	}
	if len(parts) == 2 || len(parts) == 4 || len(parts) == 8 {
		if !qualifierRE.MatchString(r.qualifier) {
			return ref{}, bad
		}
	}
	return r, nil
}

// allows reports whether the operator's entry e admits the function r: the
// same name, the same qualifier when e names one, and the same partition,
// region and account where both name them (a bare name is the worker's
// own account and region, which IAM then holds to).
func (e ref) allows(r ref) bool {
	same := func(a, b string) bool { return a == "" || b == "" || a == b }
	return e.name == r.name && (e.qualifier == "" || e.qualifier == r.qualifier) &&
		same(e.partition, r.partition) && same(e.region, r.region) && same(e.account, r.account)
}

func (r ref) String() string {
	s := r.name
	if r.account != "" {
		s = r.account + ":function:" + s
	}
	if r.region != "" {
		s = "arn:" + r.partition + ":lambda:" + r.region + ":" + s
	}
	if r.qualifier != "" {
		s += ":" + r.qualifier
	}
	return s
}

func listRefs(rs []ref) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}
