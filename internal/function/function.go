// Package function holds Bora's Lambda handlers: an SQS batch in, the
// messages to deliver again out (ReportBatchItemFailures), so that one bad
// message never blocks the rest. The functions/* entry points only read their
// configuration, build clients and call lambda.Start with these.
package function

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/borawf/bora/internal/batch"
	"github.com/borawf/bora/internal/cron"
	"github.com/borawf/bora/internal/queue"
	"github.com/borawf/bora/internal/reconcile"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
	"github.com/borawf/bora/internal/worker"
)

// Environment variables the functions read.
const (
	EnvTable       = "BORA_TABLE"
	EnvEngineQueue = "BORA_ENGINE_QUEUE_URL"
	EnvTaskQueue   = "BORA_TASK_QUEUE_URL"
	EnvTimerQueue  = "BORA_TIMER_QUEUE_URL"
	// EnvTimerQueueARN (optional) tells the engine function which records
	// of its batch come from the timer queue.
	EnvTimerQueueARN = "BORA_TIMER_QUEUE_ARN"
	// EnvMaxReceives (optional) is the engine queue's redrive limit; when
	// unset, the engine function reads it from the queue's redrive policy.
	EnvMaxReceives = "BORA_ENGINE_MAX_RECEIVES"
	// EnvDeadLetterARN (optional) is the ARN of the engine queue's
	// dead-letter queue, when it is mapped to the engine function too: its
	// records fail the executions of their events (Runtime.DeadLettered).
	EnvDeadLetterARN = "BORA_ENGINE_DLQ_ARN"
	// EnvRetention (optional) is how long finished executions are kept
	// before DynamoDB's TTL deletes them, as a Go duration ("720h");
	// unset or "0" keeps them.
	EnvRetention = "BORA_RETENTION"
	// EnvCallbackURL (optional, worker) is the API's completion route,
	// <API>/v1/completions, which asynchronous actions hand out with
	// their callback id (worker.Worker.CallbackURL).
	EnvCallbackURL = "BORA_CALLBACK_URL"
)

// Config is what every function needs to find its table and queues.
type Config struct {
	Table       string
	EngineQueue string
	TaskQueue   string
	TimerQueue  string
	// Retention is the store's WithRetention; zero keeps finished executions.
	Retention time.Duration
}

// ConfigFromEnv reads the configuration and reports, in one error, every
// variable that is missing.
func ConfigFromEnv() (Config, error) {
	c := Config{
		Table:       os.Getenv(EnvTable),
		EngineQueue: os.Getenv(EnvEngineQueue),
		TaskQueue:   os.Getenv(EnvTaskQueue),
		TimerQueue:  os.Getenv(EnvTimerQueue),
	}
	var bad error
	if v := os.Getenv(EnvRetention); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			bad = fmt.Errorf("bora: %s=%q: want a duration such as 720h (0 keeps finished executions)", EnvRetention, v)
		}
		c.Retention = d
	}
	return c, errors.Join(c.Validate(), bad)
}

// Validate reports every missing setting at once.
func (c Config) Validate() error {
	var missing []string
	for _, v := range []struct{ name, val string }{
		{EnvTable, c.Table}, {EnvEngineQueue, c.EngineQueue}, {EnvTaskQueue, c.TaskQueue}, {EnvTimerQueue, c.TimerQueue},
	} {
		if v.val == "" {
			missing = append(missing, v.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("bora: missing configuration: set %s", strings.Join(missing, ", "))
	}
	return nil
}

// Logger is the JSON logger every function uses.
func Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, nil))
}

// Engine handles the engine queue (engine events) and the timer queue
// (timers that turn into events) in one function.
type Engine struct {
	Runtime *runtime.Runtime
	// TimerQueueARN tells timer messages from engine events: records whose
	// eventSourceARN equals it are timers.
	TimerQueueARN string
	// MaxReceives is the engine queue's redrive limit: an event that fails
	// on its last delivery fails its execution (see Runtime.Poisoned).
	// Required: Deps.Engine reads it from the queue when it is not set.
	MaxReceives int
	// DeadLetterARN tells records of the engine queue's dead-letter queue:
	// each fails its event's execution. Empty when it is not mapped.
	DeadLetterARN string
}

// Handle processes one SQS batch.
func (h *Engine) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	return process(ctx, ev, func(ctx context.Context, m events.SQSMessage) error {
		if h.DeadLetterARN != "" && m.EventSourceARN == h.DeadLetterARN {
			return h.Runtime.DeadLettered(ctx, []byte(m.Body), h.MaxReceives)
		}
		if isTimer(m, h.TimerQueueARN) {
			var tm record.TimerMessage
			if err := json.Unmarshal([]byte(m.Body), &tm); err != nil {
				return fmt.Errorf("decode timer %s: %w", m.MessageId, err)
			}
			return h.Runtime.HandleTimer(ctx, tm)
		}
		var e record.Event
		err := json.Unmarshal([]byte(m.Body), &e)
		if err == nil {
			err = h.Runtime.HandleEvent(ctx, e)
		}
		if err != nil && h.MaxReceives > 0 && receives(m) >= h.MaxReceives && ctx.Err() == nil {
			if perr := h.Runtime.Poisoned(ctx, []byte(m.Body), receives(m), err); perr != nil {
				return errors.Join(err, perr)
			}
		}
		return err
	}), nil
}

// receives is how many times the message was received, this time included.
func receives(m events.SQSMessage) int {
	n, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	return n
}

func isTimer(m events.SQSMessage, timerARN string) bool {
	if timerARN != "" {
		return m.EventSourceARN == timerARN
	}
	// Without the ARN, timers are told by their shape.
	var probe struct {
		Due   *time.Time       `json:"due"`
		Event *json.RawMessage `json:"event"`
	}
	return json.Unmarshal([]byte(m.Body), &probe) == nil && probe.Due != nil && probe.Event != nil
}

// Worker handles the task queue.
type Worker struct {
	Worker *worker.Worker
	// Tasks is the task queue, for the heartbeat that keeps a long
	// action's message hidden; nil disables it.
	Tasks queue.Queue
}

// Handle processes one SQS batch of task messages.
func (h *Worker) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	return process(ctx, ev, func(ctx context.Context, m events.SQSMessage) error {
		tm, err := worker.DecodeMessage([]byte(m.Body))
		if err != nil {
			return fmt.Errorf("message %s: %w", m.MessageId, err)
		}
		var heartbeat func(time.Duration) error
		if h.Tasks != nil {
			heartbeat = func(d time.Duration) error { return h.Tasks.ChangeVisibility(ctx, m.ReceiptHandle, d) }
		}
		return h.Worker.Handle(ctx, tm, heartbeat)
	}), nil
}

// Reconciler runs one sweep per scheduled invocation, and fires the cron
// triggers that are due.
type Reconciler struct {
	Reconciler *reconcile.Reconciler
	// Triggers fires due cron triggers; nil fires none.
	Triggers *cron.Firer
	Log      *slog.Logger
}

// ReconcilerReport is what one scheduled invocation did.
type ReconcilerReport struct {
	reconcile.Report
	Triggers cron.Report
}

// Handle fires the due triggers, then runs one sweep. Either failing does
// not stop the other; their errors are returned together.
func (h *Reconciler) Handle(ctx context.Context) (ReconcilerReport, error) {
	var rep ReconcilerReport
	var ferr error
	if h.Triggers != nil {
		rep.Triggers, ferr = h.Triggers.Fire(ctx)
	}
	var err error
	rep.Report, err = h.Reconciler.Sweep(ctx)
	if err = errors.Join(ferr, err); err != nil {
		return rep, err
	}
	if h.Log != nil && (rep.Resent+rep.Fired+rep.Expired+rep.Triggers.Due) > 0 {
		h.Log.Info("reconciled", "resent", rep.Resent, "fired", rep.Fired, "expired", rep.Expired,
			"triggers_fired", rep.Triggers.Fired, "triggers_failed", rep.Triggers.Failed)
	}
	return rep, nil
}

// process runs h over the batch with batch.Process and turns failures into
// batch item failures.
func process(ctx context.Context, ev events.SQSEvent, h func(context.Context, events.SQSMessage) error) events.SQSEventResponse {
	byID := make(map[string]events.SQSMessage, len(ev.Records))
	msgs := make([]batch.Message, len(ev.Records))
	for i, r := range ev.Records {
		byID[r.MessageId] = r
		msgs[i] = batch.Message{ID: r.MessageId, Group: r.Attributes["MessageGroupId"], Body: []byte(r.Body)}
	}
	failed := batch.Process(ctx, msgs, func(ctx context.Context, m batch.Message) error {
		return h(ctx, byID[m.ID])
	})
	// An empty list, not null: AWS reads null as "no failures", but some
	// pollers (the emulator's) reject it.
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for _, f := range failed {
		if f.Err != nil && !errors.Is(f.Err, context.Canceled) {
			slog.Default().Warn("message failed; it will be delivered again", "message_id", f.ID, "err", f.Err)
		}
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: f.ID})
	}
	return resp
}
