package e2e

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	stypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Function roles: the functions of the stack.
const (
	fnEngine     = "engine"
	fnWorker     = "worker"
	fnReconciler = "reconciler"
)

// Settings of the deployed stack (infra/stack.go, NewLocalStack), that
// the scenarios depend on.
const (
	// maxReceives is every queue's redrive limit and the engine function's
	// BORA_ENGINE_MAX_RECEIVES (infra.DefaultMaxReceives): the engine fails
	// an event's execution on the delivery after which the queue
	// dead-letters the event.
	maxReceives = 5
	// engineTimeout is the engine function's timeout and so its queues'
	// visibility timeout (infra.LocalEngineTimeout): an engine event that
	// fails on every delivery reaches the dead-letter queue after about
	// maxReceives × engineTimeout.
	engineTimeout = 5 * time.Second
	// workerParallel is the worker mapping's maximum concurrency
	// (infra.DefaultWorkerConcurrency), one task message per invocation.
	workerParallel = 10
)

// The stack's outputs (infra/stack.go) the suite reads.
var (
	outQueues = map[string]string{
		"engine": "EngineQueueName", "engine-dlq": "EngineDeadLetterQueueName",
		"tasks": "TaskQueueName", "tasks-dlq": "TaskDeadLetterQueueName",
		"timers": "TimerQueueName", "timers-dlq": "TimerDeadLetterQueueName",
	}
	outFunctions = map[string]string{
		fnEngine: "EngineFunctionName", fnWorker: "WorkerFunctionName", fnReconciler: "ReconcilerFunctionName",
	}
)

// queueRef names one queue.
type queueRef struct {
	Name, URL, ARN string
}

// stack is Bora's BoraLocal stack on the endpoint, deployed by
// scripts/deploy-local with the CDK CLI: the stack `make deploy-local`
// deploys, so that the suite runs on the one definition of the resources.
type stack struct {
	cfg aws.Config
	// prefix is unique to the run; it names the run's workflow
	// definitions, apart from an earlier run's on the same stack.
	prefix string
	ddb    *dynamodb.Client
	sqs    *sqs.Client
	lam    *lambda.Client
	logs   *logReader
	since  time.Time

	Table string
	// API is the HTTP API's URL (the ApiUrl output): the endpoint of
	// `bora --endpoint`, under which the /v1 routes hang.
	API       string
	Queues    map[string]queueRef // engine, engine-dlq, tasks, tasks-dlq, timers, timers-dlq
	Funcs     map[string]string   // role → function name
	LogGroups map[string]string   // role → log group
}

// uniquePrefix returns a short name prefix unique to this run.
func uniquePrefix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "bora-e2e-" + hex.EncodeToString(b[:])
}

// deploy deploys (or updates) the stack with scripts/deploy-local and
// connects to it.
func deploy(ctx context.Context, cfg aws.Config) (*stack, error) {
	s := &stack{
		cfg:       cfg,
		prefix:    uniquePrefix(),
		ddb:       dynamodb.NewFromConfig(cfg),
		sqs:       sqs.NewFromConfig(cfg),
		lam:       lambda.NewFromConfig(cfg),
		logs:      newLogReader(cfg),
		since:     time.Now().Add(-time.Second),
		Queues:    map[string]queueRef{},
		Funcs:     map[string]string{},
		LogGroups: map[string]string{},
	}
	outputs, err := deployLocal(ctx)
	if err != nil {
		return nil, err
	}
	return s, s.connect(ctx, outputs)
}

// deployLocal runs scripts/deploy-local and returns the stack's outputs.
func deployLocal(ctx context.Context) (map[string]string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "deploy-local"))
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("scripts/deploy-local: %w\n%s", err, out.String())
	}
	u, err := url.Parse(os.Getenv("AWS_ENDPOINT_URL"))
	if err != nil {
		return nil, err
	}
	file := filepath.Join(root, ".emulator", "BoraLocal-"+cmp.Or(u.Port(), "80")+".json")
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("the stack's outputs: %w\n%s", err, out.String())
	}
	var stacks map[string]map[string]string
	if err := json.Unmarshal(b, &stacks); err != nil {
		return nil, fmt.Errorf("the stack's outputs in %s: %w", file, err)
	}
	outputs, ok := stacks["BoraLocal"]
	if !ok {
		return nil, fmt.Errorf("%s has no outputs of BoraLocal", file)
	}
	return outputs, nil
}

// connect finds the stack's resources from its outputs, empties the
// dead-letter queues of what an earlier run left there, and checks each
// consumer's answer to an empty batch.
func (s *stack) connect(ctx context.Context, outputs map[string]string) error {
	get := func(key string) (string, error) {
		v := outputs[key]
		if v == "" {
			return "", fmt.Errorf("the stack has no output %s (outputs: %v)", key, outputs)
		}
		return v, nil
	}
	var err error
	if s.Table, err = get("TableName"); err != nil {
		return err
	}
	if s.API, err = get("ApiUrl"); err != nil {
		return err
	}
	for key, out := range outQueues {
		name, err := get(out)
		if err != nil {
			return err
		}
		u, err := s.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &name})
		if err != nil {
			return fmt.Errorf("queue %s: %w", name, err)
		}
		a, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: u.QueueUrl, AttributeNames: []stypes.QueueAttributeName{stypes.QueueAttributeNameQueueArn},
		})
		if err != nil {
			return fmt.Errorf("queue %s: %w", name, err)
		}
		s.Queues[key] = queueRef{Name: name, URL: aws.ToString(u.QueueUrl), ARN: a.Attributes[string(stypes.QueueAttributeNameQueueArn)]}
	}
	for role, out := range outFunctions {
		name, err := get(out)
		if err != nil {
			return err
		}
		fn, err := s.lam.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: &name})
		if err != nil {
			return fmt.Errorf("function %s: %w", name, err)
		}
		s.Funcs[role] = name
		s.LogGroups[role] = "/aws/lambda/" + name
		if fn.LoggingConfig != nil && fn.LoggingConfig.LogGroup != nil {
			s.LogGroups[role] = *fn.LoggingConfig.LogGroup
		}
	}
	// A dead letter of an earlier run on the same emulator is that run's;
	// this run's check (checkDLQs) is about its own.
	for _, key := range []string{"engine-dlq", "tasks-dlq", "timers-dlq"} {
		if _, err := s.sqs.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(s.Queues[key].URL)}); err != nil {
			return fmt.Errorf("purge %s: %w", s.Queues[key].Name, err)
		}
	}
	for _, role := range []string{fnEngine, fnWorker} {
		if err := s.checkBatchResponse(ctx, role); err != nil {
			return err
		}
	}
	return nil
}

// depth returns a queue's visible and in-flight message counts.
func (s *stack) depth(ctx context.Context, key string) (visible, inFlight int, err error) {
	q := s.Queues[key]
	out, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(q.URL),
		AttributeNames: []stypes.QueueAttributeName{
			stypes.QueueAttributeNameApproximateNumberOfMessages,
			stypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		return 0, 0, fmt.Errorf("depth of %s: %w", q.Name, err)
	}
	visible, _ = strconv.Atoi(out.Attributes[string(stypes.QueueAttributeNameApproximateNumberOfMessages)])
	inFlight, _ = strconv.Atoi(out.Attributes[string(stypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return visible, inFlight, nil
}

// queueReport describes every queue's depth, for failure messages.
func (s *stack) queueReport(ctx context.Context) string {
	var b strings.Builder
	for _, key := range slices.Sorted(maps.Keys(s.Queues)) {
		v, f, err := s.depth(ctx, key)
		if err != nil {
			fmt.Fprintf(&b, "  %s: %v\n", key, err)
			continue
		}
		fmt.Fprintf(&b, "  %-11s %d visible, %d in flight\n", key+":", v, f)
	}
	return b.String()
}

// peekDLQ returns up to 10 bodies from a dead-letter queue without
// consuming them (they become visible again at once).
func (s *stack) peekDLQ(ctx context.Context, key string) ([]string, error) {
	q := s.Queues[key+"-dlq"]
	out, err := s.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:            aws.String(q.URL),
		MaxNumberOfMessages: 10,
		VisibilityTimeout:   0,
	})
	if err != nil {
		return nil, fmt.Errorf("peek %s: %w", q.Name, err)
	}
	var bodies []string
	for _, m := range out.Messages {
		bodies = append(bodies, aws.ToString(m.Body))
	}
	return bodies, nil
}

// checkDLQs reports the messages of every dead-letter queue: a message
// there is one Bora failed to handle maxReceives times. The engine consumes
// its own dead-letter queue, so a dead letter passes through it; one still
// there after a while is one the engine could not handle either.
func (s *stack) checkDLQs(ctx context.Context) error {
	var errs []error
	// Enough for the engine's mapping to take a dead letter that arrived
	// just now, several polls of it.
	deadline := time.Now().Add(4 * engineTimeout)
	for _, q := range []string{"engine", "tasks", "timers"} {
		bodies, err := s.peekDLQ(ctx, q)
		for q == "engine" && err == nil && len(bodies) > 0 && time.Now().Before(deadline) {
			time.Sleep(time.Second)
			bodies, err = s.peekDLQ(ctx, q)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(bodies) > 0 {
			errs = append(errs, fmt.Errorf("dead letters in %s:\n  %s", s.Queues[q+"-dlq"].Name, strings.Join(bodies, "\n  ")))
		}
	}
	return errors.Join(errs...)
}

// invoke calls a function synchronously with payload and returns its
// answer; a function error is returned as an error.
func (s *stack) invoke(ctx context.Context, role string, payload any) ([]byte, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	out, err := s.lam.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(s.Funcs[role]), Payload: b})
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", role, err)
	}
	if out.FunctionError != nil {
		return out.Payload, fmt.Errorf("invoke %s: %s: %s", role, aws.ToString(out.FunctionError), out.Payload)
	}
	return out.Payload, nil
}

// checkBatchResponse invokes an SQS-consuming function with an empty
// batch and checks that its answer lists batch item failures as a JSON
// array. AWS reads a null list as "no failures", but MiniStack's poller
// fails on it and deletes nothing, so every message would come back after
// its visibility timeout; this turns that slow stall into a clear failure
// before any scenario runs. It also takes the function's cold start out of
// the first scenario.
func (s *stack) checkBatchResponse(ctx context.Context, role string) error {
	out, err := s.invoke(ctx, role, map[string]any{"Records": []any{}})
	if err != nil {
		return err
	}
	var resp map[string]json.RawMessage
	if err := json.Unmarshal(out, &resp); err != nil {
		return fmt.Errorf("%s answered an empty SQS batch with %s, want an SQSEventResponse: %w", role, out, err)
	}
	if f, ok := resp["batchItemFailures"]; !ok || string(f) == "null" {
		return fmt.Errorf("%s answered an empty SQS batch with %s: batchItemFailures must be a list, never null "+
			"(aws-lambda-go encodes a nil slice as null; the emulator then deletes none of the batch's messages)", role, out)
	}
	return nil
}

// logTail is the tail of every function's log containing match, for
// failure messages.
func (s *stack) logTail(ctx context.Context, n int, match ...string) string {
	var b strings.Builder
	for _, role := range slices.Sorted(maps.Keys(s.Funcs)) {
		fmt.Fprintf(&b, "  %s (%s):\n", role, s.Funcs[role])
		b.WriteString(s.logs.Tail(ctx, s.LogGroups[role], s.since, n, match...))
	}
	return b.String()
}
