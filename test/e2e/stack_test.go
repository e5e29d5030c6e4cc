package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	stypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	sqsqueue "github.com/borawf/bora/internal/queue/sqs"
	"github.com/borawf/bora/internal/store/dynamo"
)

// Function roles. Each is deployed from dist/<arch>/<role>.zip.
const (
	fnEngine     = "engine"
	fnWorker     = "worker"
	fnReconciler = "reconciler"
)

// Settings of the deployed stack. They are small so that a failed message
// comes back quickly. The task and timer queues' visibility timeout covers
// the function's timeout, as AWS requires of a mapped queue. The engine
// queue's does not: the emulator does not require it, an engine batch takes
// well under a second, and a FIFO mapping runs one batch at a time, so
// nothing receives a message again while its batch still runs. It is short
// so that an engine event that fails on every delivery reaches the
// dead-letter queue within seconds (TestPoisonedEvent).
const (
	functionTimeout  = 10 * time.Second
	visibility       = 12 * time.Second
	engineVisibility = 2 * time.Second
	// maxReceives is every queue's redrive limit, and the engine function's
	// BORA_ENGINE_MAX_RECEIVES: the engine fails an event's execution on
	// the delivery after which the queue dead-letters the event.
	maxReceives    = 5
	workerBatch    = 1
	workerParallel = 10
	engineBatch    = 10
	// roleARN is a placeholder execution role; emulators do not check it.
	roleARN = "arn:aws:iam::000000000000:role/bora-e2e"
)

// queueRef names one queue.
type queueRef struct {
	Name, URL, ARN string
}

// stackConfig says what to deploy.
type stackConfig struct {
	// Zips maps a function role to its deployment package.
	Zips map[string]string
	// Env is added to every function's environment.
	Env map[string]string
	// Mappings lists which function consumes which queue; nil means Bora's
	// shape: engine ← engine queue and timer queue, worker ← task queue.
	Mappings []mapping
}

// mapping is one event source mapping.
type mapping struct {
	Function string // role
	Queue    string // "engine", "tasks" or "timers"
}

// bora's event source mappings (docs/design.md, "Deployment shape"). The reconciler runs on a
// schedule on AWS; here a test invokes it when it needs it.
var boraMappings = []mapping{
	{fnEngine, "engine"},
	{fnEngine, "timers"},
	{fnWorker, "tasks"},
}

// stack is one deployment of Bora on the endpoint, with unique names.
type stack struct {
	cfg    aws.Config
	prefix string
	ddb    *dynamodb.Client
	sqs    *sqs.Client
	lam    *lambda.Client
	logs   *logReader
	since  time.Time

	Table  string
	Queues map[string]queueRef // engine, engine-dlq, tasks, tasks-dlq, timers, timers-dlq
	Funcs  map[string]string   // role → function name

	mu   sync.Mutex
	esms []string // event source mapping UUIDs
}

// uniquePrefix returns a short name prefix unique to this run.
func uniquePrefix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "bora-e2e-" + hex.EncodeToString(b[:])
}

// deploy creates a stack. On failure it removes what it created.
func deploy(ctx context.Context, cfg aws.Config, sc stackConfig) (*stack, error) {
	s := &stack{
		cfg:    cfg,
		prefix: uniquePrefix(),
		ddb:    dynamodb.NewFromConfig(cfg),
		sqs:    sqs.NewFromConfig(cfg),
		lam:    lambda.NewFromConfig(cfg),
		logs:   newLogReader(cfg),
		since:  time.Now().Add(-time.Second),
		Queues: map[string]queueRef{},
		Funcs:  map[string]string{},
	}
	s.Table = s.prefix
	if err := s.create(ctx, sc); err != nil {
		if terr := s.teardown(context.WithoutCancel(ctx)); terr != nil {
			err = errors.Join(err, fmt.Errorf("and removing what was created: %w", terr))
		}
		return nil, err
	}
	return s, nil
}

func (s *stack) create(ctx context.Context, sc stackConfig) error {
	// The table and the queues do not depend on each other.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() { errs[0] = dynamo.CreateTable(ctx, s.ddb, s.Table) })
	wg.Go(func() {
		keys := []string{"engine", "tasks", "timers"}
		created, err := sqsqueue.CreateQueues(ctx, s.sqs, s.prefix+"-",
			sqsqueue.Spec{Name: "engine", FIFO: true, HighThroughput: true, MaxReceives: maxReceives, VisibilityTimeout: engineVisibility},
			sqsqueue.Spec{Name: "tasks", MaxReceives: maxReceives, VisibilityTimeout: visibility},
			sqsqueue.Spec{Name: "timers", MaxReceives: maxReceives, VisibilityTimeout: visibility},
		)
		for i, c := range created {
			s.Queues[keys[i]] = queueRef{Name: path.Base(c.URL), URL: c.URL, ARN: c.ARN}
			s.Queues[keys[i]+"-dlq"] = queueRef{Name: path.Base(c.DLQURL), URL: c.DLQURL, ARN: c.DLQARN}
		}
		if err != nil {
			errs[1] = fmt.Errorf("create queues: %w", err)
		}
	})
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	env := map[string]string{
		"BORA_TABLE":            s.Table,
		"BORA_ENGINE_QUEUE_URL": s.Queues["engine"].URL,
		"BORA_TASK_QUEUE_URL":   s.Queues["tasks"].URL,
		"BORA_TIMER_QUEUE_URL":  s.Queues["timers"].URL,
		"BORA_TIMER_QUEUE_ARN":  s.Queues["timers"].ARN,
		// On an event's last receive before the dead-letter queue takes it,
		// the engine fails the event's execution.
		"BORA_ENGINE_MAX_RECEIVES": strconv.Itoa(maxReceives),
		"BORA_LOG_LEVEL":           "debug",
	}
	// The emulator does not tell a provided.al2023 process where it is
	// unless it was itself started with AWS_ENDPOINT_URL set; the functions
	// must reach it for DynamoDB and SQS, so the stack says so explicitly.
	if ep := os.Getenv("AWS_ENDPOINT_URL"); ep != "" {
		env["AWS_ENDPOINT_URL"] = ep
	}
	maps.Copy(env, sc.Env)

	roles := slices.Sorted(maps.Keys(sc.Zips))
	errs = make([]error, len(roles))
	for i, role := range roles {
		wg.Go(func() { errs[i] = s.createFunction(ctx, role, sc.Zips[role], env) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	mappings := sc.Mappings
	if mappings == nil {
		mappings = boraMappings
	}
	consumers := map[string]bool{}
	for _, m := range mappings {
		consumers[m.Function] = true
	}
	for _, role := range slices.Sorted(maps.Keys(consumers)) {
		if err := s.checkBatchResponse(ctx, role); err != nil {
			return err
		}
	}
	for _, m := range mappings {
		if err := s.createMapping(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// createFunction creates a provided.al2023 function from a zip and waits
// until it is active.
func (s *stack) createFunction(ctx context.Context, role, zip string, env map[string]string) error {
	code, err := os.ReadFile(zip)
	if err != nil {
		return fmt.Errorf("function %s: %w (build it with scripts/build-lambdas)", role, err)
	}
	name := s.prefix + "-" + role
	lambdaArch := ltypes.ArchitectureX8664
	if arch == "arm64" {
		lambdaArch = ltypes.ArchitectureArm64
	}
	_, err = s.lam.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName:  &name,
		Runtime:       ltypes.RuntimeProvidedal2023,
		Handler:       aws.String("bootstrap"),
		Architectures: []ltypes.Architecture{lambdaArch},
		Role:          aws.String(roleARN),
		Code:          &ltypes.FunctionCode{ZipFile: code},
		Timeout:       aws.Int32(int32(functionTimeout.Seconds())),
		MemorySize:    aws.Int32(256),
		Environment:   &ltypes.Environment{Variables: env},
	})
	if err != nil {
		return fmt.Errorf("create function %s: %w", name, err)
	}
	s.mu.Lock()
	s.Funcs[role] = name
	s.mu.Unlock()
	w := lambda.NewFunctionActiveV2Waiter(s.lam, func(o *lambda.FunctionActiveV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	})
	if err := w.Wait(ctx, &lambda.GetFunctionInput{FunctionName: &name}, time.Minute); err != nil {
		return fmt.Errorf("wait for function %s: %w", name, err)
	}
	return nil
}

// createMapping connects a queue to a function, reporting batch item
// failures, and waits until the mapping is enabled.
func (s *stack) createMapping(ctx context.Context, m mapping) error {
	fn, ok := s.Funcs[m.Function]
	if !ok {
		return fmt.Errorf("mapping %s ← %s: no function %s deployed", m.Function, m.Queue, m.Function)
	}
	q, ok := s.Queues[m.Queue]
	if !ok {
		return fmt.Errorf("mapping %s ← %s: no queue %s", m.Function, m.Queue, m.Queue)
	}
	in := &lambda.CreateEventSourceMappingInput{
		FunctionName:          &fn,
		EventSourceArn:        &q.ARN,
		BatchSize:             aws.Int32(engineBatch),
		FunctionResponseTypes: []ltypes.FunctionResponseType{ltypes.FunctionResponseTypeReportBatchItemFailures},
		Enabled:               aws.Bool(true),
	}
	if m.Queue == "tasks" {
		// One task per invocation and many invocations at once: a with-items
		// task's actions run in parallel rather than one batch at a time.
		in.BatchSize = aws.Int32(workerBatch)
		in.ScalingConfig = &ltypes.ScalingConfig{MaximumConcurrency: aws.Int32(workerParallel)}
	}
	out, err := s.lam.CreateEventSourceMapping(ctx, in)
	if err != nil {
		return fmt.Errorf("map %s ← %s: %w", fn, q.Name, err)
	}
	id := aws.ToString(out.UUID)
	s.mu.Lock()
	s.esms = append(s.esms, id)
	s.mu.Unlock()
	state := aws.ToString(out.State)
	for deadline := time.Now().Add(30 * time.Second); state != "Enabled"; {
		if time.Now().After(deadline) {
			return fmt.Errorf("map %s ← %s: state %q after 30 s, want Enabled", fn, q.Name, state)
		}
		time.Sleep(100 * time.Millisecond)
		got, err := s.lam.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: &id})
		if err != nil {
			return fmt.Errorf("map %s ← %s: %w", fn, q.Name, err)
		}
		state = aws.ToString(got.State)
	}
	return nil
}

// teardown deletes everything the stack created, mappings first so that
// nothing is invoked while it goes.
func (s *stack) teardown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var errs []error
	for _, id := range s.esms {
		if _, err := s.lam.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: aws.String(id)}); err != nil {
			errs = append(errs, fmt.Errorf("delete mapping %s: %w", id, err))
		}
	}
	for _, fn := range s.Funcs {
		if _, err := s.lam.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(fn)}); err != nil {
			errs = append(errs, fmt.Errorf("delete function %s: %w", fn, err))
		}
		if err := s.logs.DeleteGroup(ctx, fn); err != nil {
			errs = append(errs, fmt.Errorf("delete log group of %s: %w", fn, err))
		}
	}
	for _, q := range s.Queues {
		if _, err := s.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(q.URL)}); err != nil {
			errs = append(errs, fmt.Errorf("delete queue %s: %w", q.Name, err))
		}
	}
	if _, err := s.ddb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(s.Table)}); err != nil && !strings.Contains(err.Error(), "ResourceNotFound") {
		errs = append(errs, fmt.Errorf("delete table %s: %w", s.Table, err))
	}
	return errors.Join(errs...)
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

// takeDeadLetters deletes the messages of a dead-letter queue whose body
// match accepts and returns their bodies; the others become visible again
// at once, for checkDLQs to report. A test that causes a dead letter on
// purpose takes it, so that only unexpected ones fail the run.
func (s *stack) takeDeadLetters(ctx context.Context, key string, match func(body string) bool) ([]string, error) {
	q := s.Queues[key+"-dlq"]
	out, err := s.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:            aws.String(q.URL),
		MaxNumberOfMessages: 10,
		VisibilityTimeout:   10,
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", q.Name, err)
	}
	var taken []string
	var errs []error
	for _, m := range out.Messages {
		if !match(aws.ToString(m.Body)) {
			if _, err := s.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
				QueueUrl: aws.String(q.URL), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0,
			}); err != nil {
				errs = append(errs, fmt.Errorf("release a message of %s: %w", q.Name, err))
			}
			continue
		}
		if _, err := s.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.URL), ReceiptHandle: m.ReceiptHandle}); err != nil {
			errs = append(errs, fmt.Errorf("delete a message of %s: %w", q.Name, err))
			continue
		}
		taken = append(taken, aws.ToString(m.Body))
	}
	return taken, errors.Join(errs...)
}

// checkDLQs reports the messages of every dead-letter queue: a message
// there is one Bora failed to handle maxReceives times.
func (s *stack) checkDLQs(ctx context.Context) error {
	var errs []error
	for _, q := range []string{"engine", "tasks", "timers"} {
		bodies, err := s.peekDLQ(ctx, q)
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
// its visibility timeout; this turns that slow stall into a clear failure.
// It also takes the function's cold start out of the first scenario.
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
		b.WriteString(s.logs.Tail(ctx, s.Funcs[role], s.since, n, match...))
	}
	return b.String()
}
