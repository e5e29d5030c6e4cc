// Package infra deploys Bora with the AWS CDK: NewBora is a construct that
// a CDK app in Go can add to any stack, and NewStack wraps it in a stack
// with outputs, as the app in ./app does. docs/deploy.md describes what it
// creates and what it costs.
package infra

import (
	"fmt"
	"maps"
	"net/url"
	"strconv"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/borawf/bora/internal/function"
	"github.com/borawf/bora/internal/store/dynamo"
)

// Props configures a deployment of Bora. Every field but Code has a default
// fit for AWS; a zero value means the default.
type Props struct {
	// Code is the directory holding the functions' deployment packages,
	// <function>.zip, as `make build` writes them (dist/arm64). Required.
	Code string
	// Architecture the packages were built for. Default ARM_64.
	Architecture awslambda.Architecture

	// Retention is how long a finished execution (its head, tasks and
	// units) stays in the table before DynamoDB's TTL deletes it; the
	// functions hand it to the store. Default 30 days; KeepForever keeps
	// finished executions.
	Retention time.Duration
	// RemovalPolicy of the table and the log groups when the stack is
	// deleted or they leave it. Default RETAIN: a workflow engine's history
	// outlives a mistaken `cdk destroy`.
	RemovalPolicy awscdk.RemovalPolicy

	// MaxReceives is how many times a queue delivers a message before it
	// moves it to its dead-letter queue; the engine fails an event's
	// execution on the last of them. Default 5.
	MaxReceives int
	// Timeouts of the functions. Defaults: engine 30 s, worker 5 minutes
	// (the longest an action may run), reconciler 1 minute. Each queue's
	// visibility timeout is its consumer's timeout, as AWS requires of a
	// queue that a function consumes.
	EngineTimeout, WorkerTimeout, ReconcilerTimeout time.Duration
	// MemoryMB of every function. Default 256.
	MemoryMB int
	// Reserved concurrency of the engine and the worker functions; 0
	// reserves none (the account's unreserved pool).
	EngineReservedConcurrency, WorkerReservedConcurrency int
	// WorkerMaxConcurrency caps the worker's concurrent invocations by its
	// task queue mapping: how many actions run at once. Default 10; AWS
	// allows 2 to 1000.
	WorkerMaxConcurrency int
	// WorkerBatchSize is how many task messages one worker invocation
	// takes. Default 1, so that a with-items task's actions run side by side.
	WorkerBatchSize int
	// ReconcileEvery is the reconciler's schedule, in whole minutes.
	// Default 1 minute.
	ReconcileEvery time.Duration
	// LogRetention of the functions' log groups. Default ONE_MONTH.
	LogRetention awslogs.RetentionDays

	// MessageAgeAlarm is the age of the oldest message of the engine or
	// task queue that raises its alarm; the timer queue's alarm allows 15
	// minutes more, the longest delay a timer waits in it. Default 15 minutes.
	MessageAgeAlarm time.Duration
	// AlarmActions are added to every alarm (an SNS topic, say). Default none.
	AlarmActions []awscloudwatch.IAlarmAction

	// APITimeout is the API function's timeout. Default 10 s; API Gateway
	// waits at most 30 s.
	APITimeout time.Duration
	// APIReservedConcurrency reserves concurrency for the API function; 0
	// reserves none.
	APIReservedConcurrency int
	// JWT, when set, authorizes API requests by a JWT instead of IAM.
	JWT *JWT

	// InvokeFunctions are the Lambda functions workflows may invoke with
	// the aws.lambda action: names (of the stack's account and region),
	// name:alias, or ARNs (a token, such as fn.FunctionArn(), must be an
	// ARN). The worker may invoke these and nothing else: each is granted
	// as written, so a name allows its unqualified function and not its
	// aliases. Default none.
	InvokeFunctions []*string

	// Environment is added to every function's environment. The emulator
	// variant sets AWS_ENDPOINT_URL with it. The worker's BORA_CALLBACK_URL,
	// the completion route asynchronous actions hand out, is the API's
	// <ApiEndpoint>/v1/completions unless Environment sets it (the API
	// behind a domain name of its own, say).
	Environment map[string]*string
}

// KeepForever as Props.Retention keeps finished executions.
const KeepForever time.Duration = -1

// Defaults.
const (
	DefaultRetention         = 30 * 24 * time.Hour
	DefaultMaxReceives       = 5
	DefaultEngineTimeout     = 30 * time.Second
	DefaultWorkerTimeout     = 5 * time.Minute
	DefaultReconcilerTimeout = time.Minute
	DefaultMemoryMB          = 256
	DefaultWorkerConcurrency = 10
	DefaultWorkerBatchSize   = 1
	DefaultReconcileEvery    = time.Minute
	DefaultMessageAgeAlarm   = 15 * time.Minute
	// longestDelay is the longest delay SQS gives a message: a timer that
	// is due later waits in the timer queue in hops of this.
	longestDelay = 15 * time.Minute
)

// engineBatchSize is the engine's batch of events: it handles them in
// order per execution and reports the failed ones (internal/batch).
const engineBatchSize = 10

// The functions, by the name of their directory under functions/ and of
// their zip.
const (
	Engine     = "engine"
	Worker     = "worker"
	Reconciler = "reconciler"
	API        = "api" // serves the HTTP API
)

// Queue is one of Bora's queues with its dead-letter queue and alarms.
type Queue struct {
	Queue, DeadLetters      awssqs.Queue
	DepthAlarm, OldestAlarm awscloudwatch.Alarm
	consumerTimeout         time.Duration
	name                    string
}

// Bora is a deployment of Bora: its table, queues, functions, event source
// mappings, schedule and alarms.
type Bora struct {
	constructs.Construct
	Table                 awsdynamodb.Table
	Events, Tasks, Timers *Queue
	// Functions and their log groups by name: Engine, Worker, Reconciler, API.
	Functions     map[string]awslambda.Function
	LogGroups     map[string]awslogs.LogGroup
	ReconcileRule awsevents.Rule
	// DeadLetteredAlarm fires when an engine event reaches the engine's
	// dead-letter queue: an event the engine could not apply in
	// MaxReceives deliveries, whose execution it failed. The engine
	// consumes that queue, so its depth alarm fires only for dead letters
	// the engine cannot handle either.
	DeadLetteredAlarm awscloudwatch.Alarm
	// The HTTP API, its $default stage and the stage's access log group.
	API      awsapigatewayv2.HttpApi
	APIStage awsapigatewayv2.HttpStage
	APILogs  awslogs.LogGroup

	jwt bool // the API authorizes requests by JWT, not IAM
}

// NewBora adds Bora to scope. Invalid props are reported as errors on the
// construct, which fail the synthesis with the construct's path.
func NewBora(scope constructs.Construct, id *string, props *Props) *Bora {
	c := constructs.NewConstruct(scope, id)
	p := withDefaults(props)
	b := &Bora{Construct: c, Functions: map[string]awslambda.Function{}, LogGroups: map[string]awslogs.LogGroup{}}
	if err := p.validate(); err != nil {
		awscdk.Annotations_Of(c).AddError(jsii.String(err.Error()))
		return b
	}

	b.Table = newTable(c, p)
	b.Events = newQueue(c, "Events", p, true, p.EngineTimeout, p.MessageAgeAlarm)
	b.Tasks = newQueue(c, "Tasks", p, false, p.WorkerTimeout, p.MessageAgeAlarm)
	b.Timers = newQueue(c, "Timers", p, false, p.EngineTimeout, p.MessageAgeAlarm+longestDelay)

	env := map[string]*string{
		function.EnvTable:         b.Table.TableName(),
		function.EnvEngineQueue:   b.Events.Queue.QueueUrl(),
		function.EnvTaskQueue:     b.Tasks.Queue.QueueUrl(),
		function.EnvTimerQueue:    b.Timers.Queue.QueueUrl(),
		function.EnvTimerQueueARN: b.Timers.Queue.QueueArn(),
		function.EnvMaxReceives:   jsii.String(strconv.Itoa(p.MaxReceives)),
		function.EnvRetention:     jsii.String(goDuration(max(p.Retention, 0))),
	}
	for k, v := range p.Environment {
		env[k] = v
	}

	// The engine tells the records of its dead-letter queue by their ARN.
	engineEnv := maps.Clone(env)
	engineEnv[function.EnvDeadLetterARN] = b.Events.DeadLetters.QueueArn()
	engine := b.newFunction(c, Engine, p, p.EngineTimeout, p.EngineReservedConcurrency, engineEnv)
	worker := b.newFunction(c, Worker, p, p.WorkerTimeout, p.WorkerReservedConcurrency, env)
	reconciler := b.newFunction(c, Reconciler, p, p.ReconcilerTimeout, 0, env)
	api := b.newFunction(c, API, p, p.APITimeout, p.APIReservedConcurrency, env)

	// What each function does with the table and the queues, and nothing
	// more. Every function runs the store (grantStore); only the
	// reconciler lists due executions (IndexDue). Consuming a queue through a
	// mapping grants receive, delete and visibility changes on it alone.
	grantStore(b.Table, engine)
	grantStore(b.Table, worker)
	grantStore(b.Table, reconciler, dynamo.IndexDue)
	// The API lists executions by state.
	grantStore(b.Table, api, dynamo.IndexByState)
	// The engine sends events (to itself: a child's end to its parent),
	// task messages and timers.
	b.Events.Queue.GrantSendMessages(engine)
	b.Tasks.Queue.GrantSendMessages(engine)
	b.Timers.Queue.GrantSendMessages(engine)
	// The worker sends its results as events.
	b.Events.Queue.GrantSendMessages(worker)
	// The worker invokes the functions of aws.lambda tasks that the props
	// list, and no other.
	grantInvoke(worker, p.InvokeFunctions)
	// The reconciler resends task messages and sends the events of
	// expired leases and fired timers; the executions of the cron triggers
	// it fires take their first step there, which sends task messages and
	// timers.
	b.Events.Queue.GrantSendMessages(reconciler)
	b.Tasks.Queue.GrantSendMessages(reconciler)
	b.Timers.Queue.GrantSendMessages(reconciler)
	// The API sends commands, and takes the first step of the executions
	// it starts (their first task messages and timers, or their start
	// event); it never waits for an execution.
	for _, q := range []*Queue{b.Events, b.Tasks, b.Timers} {
		q.Queue.GrantSendMessages(api)
	}

	mapQueue(engine, b.Events.Queue, engineBatchSize, 0)
	mapQueue(engine, b.Timers.Queue, engineBatchSize, 0)
	mapQueue(worker, b.Tasks.Queue, p.WorkerBatchSize, p.WorkerMaxConcurrency)
	// The engine consumes its own dead-letter queue: an event that stopped
	// the function every time it was applied (a crash, memory or time run
	// out) never returned an error that would fail its execution, and is
	// failed there instead (Runtime.DeadLettered), so that the execution
	// ends in ERROR rather than waiting forever. An event that failed with
	// an error has failed its execution already; its dead letter is
	// deleted. A dead letter the engine cannot handle stays in the queue,
	// where the depth alarm sees it.
	mapQueue(engine, b.Events.DeadLetters, engineBatchSize, 0)
	b.DeadLetteredAlarm = b.Events.DeadLetters.MetricNumberOfMessagesReceived(&awscloudwatch.MetricOptions{
		Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum"),
	}).CreateAlarm(c, jsii.String("EngineDeadLetteredAlarm"), &awscloudwatch.CreateAlarmOptions{
		AlarmDescription:   jsii.String("An engine event reached Bora's engine dead-letter queue: the engine failed its execution. The engine function's log names the execution."),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})

	b.newAPI(c, p, api)
	// The worker hands asynchronous actions the completion route with
	// their callback id. Only the worker depends on the API: the API's
	// function does not, so the template has no cycle.
	if _, set := p.Environment[function.EnvCallbackURL]; !set {
		b.setCallbackURL(b.API.ApiEndpoint())
	}

	b.ReconcileRule = awsevents.NewRule(c, jsii.String("ReconcileSchedule"), &awsevents.RuleProps{
		Description: jsii.String("Runs Bora's reconciler: resends lost messages, fires late timers, ends expired leases."),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(p.ReconcileEvery.Minutes()))),
		Targets:     &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(reconciler, nil)},
	})

	alarms := []awscloudwatch.Alarm{b.DeadLetteredAlarm}
	for _, q := range []*Queue{b.Events, b.Tasks, b.Timers} {
		alarms = append(alarms, q.DepthAlarm, q.OldestAlarm)
	}
	for _, a := range alarms {
		for _, act := range p.AlarmActions {
			a.AddAlarmAction(act)
		}
	}
	return b
}

// withDefaults returns a copy of props with every zero field set.
func withDefaults(props *Props) Props {
	var p Props
	if props != nil {
		p = *props
	}
	if p.Architecture == nil {
		p.Architecture = awslambda.Architecture_ARM_64()
	}
	if p.Retention == 0 {
		p.Retention = DefaultRetention
	}
	if p.RemovalPolicy == "" {
		p.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	p.MaxReceives = or(p.MaxReceives, DefaultMaxReceives)
	p.EngineTimeout = or(p.EngineTimeout, DefaultEngineTimeout)
	p.WorkerTimeout = or(p.WorkerTimeout, DefaultWorkerTimeout)
	p.ReconcilerTimeout = or(p.ReconcilerTimeout, DefaultReconcilerTimeout)
	p.MemoryMB = or(p.MemoryMB, DefaultMemoryMB)
	p.WorkerMaxConcurrency = or(p.WorkerMaxConcurrency, DefaultWorkerConcurrency)
	p.WorkerBatchSize = or(p.WorkerBatchSize, DefaultWorkerBatchSize)
	p.ReconcileEvery = or(p.ReconcileEvery, DefaultReconcileEvery)
	p.MessageAgeAlarm = or(p.MessageAgeAlarm, DefaultMessageAgeAlarm)
	p.APITimeout = or(p.APITimeout, DefaultAPITimeout)
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_ONE_MONTH
	}
	return p
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// validate reports the first prop AWS would refuse, or that Bora cannot
// run with, before anything is deployed.
func (p Props) validate() error {
	switch {
	case p.Code == "":
		return fmt.Errorf("bora: Props.Code is required: the directory of the functions' zips (make build writes dist/arm64)")
	case p.Retention < 0 && p.Retention != KeepForever:
		return fmt.Errorf("bora: Retention %v is negative; use KeepForever to keep finished executions", p.Retention)
	case p.Retention > 0 && p.Retention < time.Hour:
		return fmt.Errorf("bora: Retention %v is under an hour; DynamoDB's TTL counts in seconds but deletes within days, so keep at least an hour", p.Retention)
	case p.MaxReceives < 1 || p.MaxReceives > 1000:
		return fmt.Errorf("bora: MaxReceives %d: SQS allows 1 to 1000", p.MaxReceives)
	case p.MemoryMB < 128 || p.MemoryMB > 10240:
		return fmt.Errorf("bora: MemoryMB %d: Lambda allows 128 to 10240", p.MemoryMB)
	case p.WorkerMaxConcurrency < 2 || p.WorkerMaxConcurrency > 1000:
		return fmt.Errorf("bora: WorkerMaxConcurrency %d: an SQS mapping allows 2 to 1000", p.WorkerMaxConcurrency)
	case p.WorkerBatchSize < 1 || p.WorkerBatchSize > 10:
		return fmt.Errorf("bora: WorkerBatchSize %d: want 1 to 10", p.WorkerBatchSize)
	case p.EngineReservedConcurrency < 0 || p.WorkerReservedConcurrency < 0 || p.APIReservedConcurrency < 0:
		return fmt.Errorf("bora: reserved concurrency must not be negative")
	case p.ReconcileEvery < time.Minute || p.ReconcileEvery%time.Minute != 0:
		return fmt.Errorf("bora: ReconcileEvery %v: want whole minutes, at least one", p.ReconcileEvery)
	}
	for name, d := range map[string]time.Duration{"EngineTimeout": p.EngineTimeout, "WorkerTimeout": p.WorkerTimeout, "ReconcilerTimeout": p.ReconcilerTimeout, "APITimeout": p.APITimeout} {
		if d < time.Second || d > 15*time.Minute || d%time.Second != 0 {
			return fmt.Errorf("bora: %s %v: Lambda allows whole seconds from 1 s to 15 minutes", name, d)
		}
	}
	if p.APITimeout > 30*time.Second {
		return fmt.Errorf("bora: APITimeout %v: API Gateway waits at most 30 s", p.APITimeout)
	}
	if p.JWT != nil {
		if u, err := url.Parse(p.JWT.Issuer); err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("bora: JWT.Issuer %q: want the issuer's https URL", p.JWT.Issuer)
		}
		if len(p.JWT.Audience) == 0 {
			return fmt.Errorf("bora: JWT.Audience is empty: API Gateway needs at least one audience")
		}
	}
	if err := checkInvokeFunctions(p.InvokeFunctions); err != nil {
		return err
	}
	if p.MessageAgeAlarm < time.Minute {
		return fmt.Errorf("bora: MessageAgeAlarm %v: want at least a minute (the metric's period)", p.MessageAgeAlarm)
	}
	return nil
}

// goDuration formats d as time.ParseDuration reads it, in whole seconds.
func goDuration(d time.Duration) string {
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// seconds converts a whole-second duration.
func seconds(d time.Duration) awscdk.Duration {
	return awscdk.Duration_Seconds(jsii.Number(d.Seconds()))
}
