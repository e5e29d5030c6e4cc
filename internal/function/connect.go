package function

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/borawf/bora/internal/action"
	lambdaaction "github.com/borawf/bora/internal/action/awslambda"
	"github.com/borawf/bora/internal/awsx"
	"github.com/borawf/bora/internal/cron"
	"github.com/borawf/bora/internal/queue/sqs"
	"github.com/borawf/bora/internal/reconcile"
	"github.com/borawf/bora/internal/runtime"
	"github.com/borawf/bora/internal/store/dynamo"
	"github.com/borawf/bora/internal/worker"
)

// Deps are the adapters every function is built from.
type Deps struct {
	Store                 *dynamo.Store
	Events, Tasks, Timers *sqs.Queue
	Log                   *slog.Logger
	// Queues reads queue attributes (the engine queue's redrive policy).
	Queues sqs.AttributesAPI
	// EngineQueue is the engine queue's URL.
	EngineQueue string
	// Lambda invokes the functions of aws.lambda tasks.
	Lambda lambdaaction.Invoker
}

// Connect loads the AWS configuration (honouring AWS_ENDPOINT_URL) and
// builds the adapters for c.
func Connect(ctx context.Context, c Config, log *slog.Logger) (*Deps, error) {
	cfg, err := awsx.Config(ctx)
	if err != nil {
		return nil, err
	}
	db := dynamodb.NewFromConfig(cfg)
	q := awssqs.NewFromConfig(cfg)
	return &Deps{
		Store:  dynamo.New(db, c.Table, dynamo.WithRetention(c.Retention)),
		Events: sqs.New(q, c.EngineQueue, sqs.Options{}),
		Tasks:  sqs.New(q, c.TaskQueue, sqs.Options{}),
		Timers: sqs.New(q, c.TimerQueue, sqs.Options{}),
		Log:    log,
		Queues: q, EngineQueue: c.EngineQueue,
		Lambda: awslambda.NewFromConfig(cfg),
	}, nil
}

// Engine builds the engine function's handler. Its redrive limit, without
// which an event that fails on every delivery would leave its execution
// RUNNING, is BORA_ENGINE_MAX_RECEIVES when set, else read from the engine
// queue's redrive policy, as deployed; a queue without one is an error.
func (d *Deps) Engine(ctx context.Context) (*Engine, error) {
	rt, err := d.Runtime()
	h := &Engine{Runtime: rt, TimerQueueARN: os.Getenv(EnvTimerQueueARN), DeadLetterARN: os.Getenv(EnvDeadLetterARN)}
	if v := os.Getenv(EnvMaxReceives); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 1 {
			return h, errors.Join(err, fmt.Errorf("bora: %s=%q: want the engine queue's redrive limit, a positive number (or leave it unset to read it from the queue)", EnvMaxReceives, v))
		}
		h.MaxReceives = n
		return h, err
	}
	n, _, rerr := sqs.Redrive(ctx, d.Queues, d.EngineQueue)
	if rerr != nil {
		return h, errors.Join(err, fmt.Errorf("bora: the engine's redrive limit: %w; give the engine queue a dead-letter queue, or set %s", rerr, EnvMaxReceives))
	}
	h.MaxReceives = n
	return h, err
}

// Runtime builds the engine runtime.
// Its limits come from the environment (runtime.LimitsFromEnv).
func (d *Deps) Runtime() (*runtime.Runtime, error) {
	limits, err := runtime.LimitsFromEnv(os.LookupEnv)
	rt := &runtime.Runtime{Store: d.Store, Events: d.Events, Tasks: d.Tasks, Timers: d.Timers, Log: d.Log, Limits: limits}
	return rt, errors.Join(err, rt.Validate())
}

// Worker builds a worker with the standard actions and aws.lambda, under
// the operator's policy read from the environment (action.PolicyFromEnv):
// on AWS, which also refuses loopback addresses.
func (d *Deps) Worker() (*worker.Worker, error) {
	pol, err := action.PolicyFromEnv(os.LookupEnv, true)
	reg, rerr := lambdaaction.Registry(pol, lambdaaction.Client(d.Lambda))
	w := &worker.Worker{Store: d.Store, Events: d.Events, Actions: reg, Log: d.Log, CallbackURL: os.Getenv(EnvCallbackURL)}
	return w, errors.Join(err, rerr, w.Validate())
}

// Reconciler builds the reconciler.
func (d *Deps) Reconciler() *reconcile.Reconciler {
	return &reconcile.Reconciler{Store: d.Store, Tasks: d.Tasks, Events: d.Events, Log: d.Log}
}

// Triggers builds the firer of cron triggers, which starts executions
// with rt.
func (d *Deps) Triggers(rt *runtime.Runtime) *cron.Firer {
	return &cron.Firer{Store: d.Store, Runtime: rt, Log: d.Log}
}

// Start is the whole of a function's main: read the configuration, connect
// the adapters, build the handler and hand it to the Lambda runtime. A
// configuration or connection problem ends the process with the message
// (Lambda reports it as an init error). SIGTERM cancels the handler's
// context, so running work stops and its attempts end through the lease.
func Start(build func(*Deps) (any, error)) {
	log := Logger()
	fail := func(err error) {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	cfg, err := ConfigFromEnv()
	if err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	deps, err := Connect(ctx, cfg, log)
	if err != nil {
		fail(err)
	}
	h, err := build(deps)
	if err != nil {
		fail(err)
	}
	lambda.StartWithOptions(h, lambda.WithContext(ctx))
}
