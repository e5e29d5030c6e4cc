// Package embedded runs all of Bora in one process: the engine, a pool of
// workers, the timer relay and the reconciler, over the SQLite store and
// queues in one database file. `bora run` and `bora serve` are built on it.
//
// The loops here do what the Lambda event source mappings do on AWS: receive
// a batch, hand each message to its handler, and delete it only when the
// handler succeeded. A message that keeps failing reaches its dead-letter
// queue after MaxReceives receives, as on SQS.
package embedded

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/borawf/bora/internal/action"
	"github.com/borawf/bora/internal/batch"
	"github.com/borawf/bora/internal/cron"
	"github.com/borawf/bora/internal/engine"
	"github.com/borawf/bora/internal/queue"
	qsqlite "github.com/borawf/bora/internal/queue/sqlite"
	"github.com/borawf/bora/internal/reconcile"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
	"github.com/borawf/bora/internal/sqlitetx"
	"github.com/borawf/bora/internal/store"
	ssqlite "github.com/borawf/bora/internal/store/sqlite"
	"github.com/borawf/bora/internal/worker"
)

// Options configure an embedded Bora.
type Options struct {
	Path      string // the SQLite database file (created if missing)
	Workers   int    // concurrent actions; default 8
	Actions   *action.Registry
	Log       *slog.Logger
	Lease     time.Duration // a worker's lease on a claimed unit; default 30 s
	Reconcile time.Duration // how often the reconciler sweeps; default 2 s
	// MaxReceives sends a message to its dead-letter queue after this many
	// receives; default 10.
	MaxReceives int
	// Grace is how long, once Run is stopped, the messages in hand may
	// take to be handled (running actions to finish) before the actions
	// still running are interrupted; default DefaultGrace.
	Grace time.Duration
	// Limits bound what executions may build (engine.Limits).
	Limits engine.Limits
	// Triggers is how often the cron triggers that are due are fired
	// (bora serve: every second); 0 fires none (bora run).
	Triggers time.Duration
	// CallbackURL is the completion route asynchronous actions are given
	// (worker.Worker.CallbackURL): <API>/v1/completions; empty when none.
	CallbackURL string
}

// Bora is an embedded deployment: store, queues, runtime, worker, reconciler.
type Bora struct {
	Store      store.Store
	Runtime    *runtime.Runtime
	Worker     *worker.Worker
	Reconciler *reconcile.Reconciler
	// Triggers fires due cron triggers, every Options.Triggers.
	Triggers *cron.Firer

	events, tasks, timers queue.Queue
	atomic                func(ctx context.Context, fn func(ctx context.Context) error) error
	eventsDLQ             queue.Queue
	close                 func() error
	o                     Options

	mu    sync.Mutex
	swept reconcile.Report // what the reconciler's sweeps did, summed
}

// Reconciled returns what the reconciler's sweeps have done since Run
// started, summed.
func (b *Bora) Reconciled() reconcile.Report {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.swept
}

// Open opens (or creates) the database and wires everything. Call Run to
// start processing and Close when done.
func Open(o Options) (*Bora, error) {
	o = o.withDefaults()
	db, err := ssqlite.Open(o.Path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", o.Path, err)
	}
	p, err := sqliteParts(db, o)
	if err != nil {
		db.Close()
		return nil, err
	}
	b, err := New(p, o)
	if err != nil {
		db.Close()
		return nil, err
	}
	b.close = db.Close
	return b, nil
}

// OpenReadOnly opens the store of an existing database for reading only, to
// show what it holds: it writes and creates nothing, so it works on a file
// the process may not write. Call close when done.
func OpenReadOnly(path string) (st store.Store, close func() error, err error) {
	db, err := ssqlite.OpenReadOnly(path)
	if err != nil {
		return nil, nil, err
	}
	s, err := ssqlite.Existing(db)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, db.Close, nil
}

func (o Options) withDefaults() Options {
	o.Workers = cmp.Or(o.Workers, 8)
	o.Lease = cmp.Or(o.Lease, 30*time.Second)
	o.Reconcile = cmp.Or(o.Reconcile, 2*time.Second)
	o.MaxReceives = cmp.Or(o.MaxReceives, 10)
	o.Grace = cmp.Or(o.Grace, DefaultGrace)
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Actions == nil {
		o.Actions = action.NewRegistry()
	}
	return o
}

// Parts are the adapters a Bora runs over.
type Parts struct {
	Store                 store.Store
	Events, Tasks, Timers queue.Queue
	// EventsDLQ, when set, is the engine queue's dead-letter queue: an
	// event that reaches it with its execution still going (every
	// delivery stopped the process) fails that execution.
	EventsDLQ queue.Queue
	// Atomic, when set, runs fn so that the store and queue calls it makes
	// with the context it is given commit together (one SQLite
	// transaction): the loops use it to apply an engine event and delete
	// it at once, and the worker to record an outcome and announce it.
	Atomic func(ctx context.Context, fn func(ctx context.Context) error) error
}

// SQLiteParts opens the store and the three queues (each with its
// dead-letter queue) in one SQLite database, as Open does; New runs a Bora
// over them (and over wrappers of them).
func SQLiteParts(db *sql.DB, o Options) (Parts, error) {
	return sqliteParts(db, o.withDefaults())
}

// sqliteParts opens the store and the three queues (each with its
// dead-letter queue) in one SQLite database.
func sqliteParts(db *sql.DB, o Options) (Parts, error) {
	st, err := ssqlite.New(db)
	if err != nil {
		return Parts{}, err
	}
	p := Parts{Store: st, Atomic: func(ctx context.Context, fn func(ctx context.Context) error) error {
		return sqlitetx.Run(ctx, db, fn)
	}}
	mk := func(name string, fifo bool) (queue.Queue, error) {
		dlq, err := qsqlite.New(db, name+"-dlq", qsqlite.Options{FIFO: fifo})
		if err != nil {
			return nil, err
		}
		if name == "engine" {
			p.EventsDLQ = dlq
		}
		return qsqlite.New(db, name, qsqlite.Options{FIFO: fifo, MaxReceives: o.MaxReceives, DeadLetter: name + "-dlq"})
	}
	if p.Events, err = mk("engine", true); err != nil {
		return Parts{}, err
	}
	if p.Tasks, err = mk("tasks", false); err != nil {
		return Parts{}, err
	}
	if p.Timers, err = mk("timers", false); err != nil {
		return Parts{}, err
	}
	return p, nil
}

// New wires a Bora over any adapters: the SQLite ones (Open), or DynamoDB
// and SQS, to run the whole system in one process against AWS (the cost
// measurements do). MaxReceives must match the queues' redrive limit.
func New(p Parts, o Options) (*Bora, error) {
	o = o.withDefaults()
	rt := &runtime.Runtime{Store: p.Store, Events: p.Events, Tasks: p.Tasks, Timers: p.Timers, Log: o.Log, Limits: o.Limits}
	if err := rt.Validate(); err != nil {
		return nil, err
	}
	w := &worker.Worker{Store: p.Store, Events: p.Events, Actions: o.Actions, Log: o.Log, Lease: o.Lease, Atomic: p.Atomic, CallbackURL: o.CallbackURL}
	rc := &reconcile.Reconciler{Store: p.Store, Tasks: p.Tasks, Events: p.Events, Log: o.Log}
	fire := &cron.Firer{Store: p.Store, Runtime: rt, Log: o.Log}
	return &Bora{Store: p.Store, Runtime: rt, Worker: w, Reconciler: rc, Triggers: fire, events: p.Events, tasks: p.Tasks, timers: p.Timers,
		eventsDLQ: p.EventsDLQ, atomic: p.Atomic, o: o, close: func() error { return nil }}, nil
}

// Grace is how long a stop lets running actions finish (Options.Grace).
func (b *Bora) Grace() time.Duration { return b.o.Grace }

// Close closes the database, if Open opened one. Stop Run first (cancel
// its context).
func (b *Bora) Close() error { return b.close() }

// Start runs Run in the background and returns the function that stops it
// and waits until every loop has returned.
func (b *Bora) Start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Run(ctx) }()
	return func() { cancel(); <-done }
}

// DefaultGrace is Options.Grace's default.
const DefaultGrace = 10 * time.Second

// eventVisibility hides an engine event or timer while one loop handles it.
// A step takes milliseconds; after a crash the event comes back this much
// later, so it is kept short, yet long enough that a slow step (thousands of
// units) is not handed to a second loop while the first still works on it.
const eventVisibility = 10 * time.Second

// Run processes messages until ctx is cancelled, then stops gracefully: it
// stops receiving, lets the messages in hand be handled — running actions
// finish — for up to Options.Grace, then stops the actions still running,
// which are recorded as interrupted (the task's policy re-runs or retries
// them), and returns once every outcome is recorded.
func (b *Bora) Run(ctx context.Context) error {
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { b.loop(ctx, work, b.events, 10, eventVisibility, b.handleEvent) })
	}
	wg.Go(func() { b.loop(ctx, work, b.timers, 10, eventVisibility, b.handleTimer) })
	if b.eventsDLQ != nil {
		wg.Go(func() { b.loop(ctx, work, b.eventsDLQ, 10, eventVisibility, b.handleDeadLetter) })
	}
	for range b.o.Workers {
		wg.Go(func() { b.work(ctx, work) })
	}
	wg.Go(func() {
		t := time.NewTicker(b.o.Reconcile)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				rep, err := b.Reconciler.Sweep(ctx)
				if err != nil && ctx.Err() == nil {
					b.o.Log.Error("reconcile", "err", err)
				}
				b.mu.Lock()
				b.swept = b.swept.Add(rep)
				b.mu.Unlock()
			}
		}
	})
	if b.o.Triggers > 0 {
		wg.Go(func() { b.fireTriggers(ctx) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	grace := time.NewTimer(b.o.Grace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		b.o.Log.Warn("stopping: the grace period is over; interrupting the actions still running", "grace", b.o.Grace)
		stopWork()
		<-done
	}
	return nil
}

// fireTriggers fires the due cron triggers every Options.Triggers, while
// ctx lasts.
func (b *Bora) fireTriggers(ctx context.Context) {
	t := time.NewTicker(b.o.Triggers)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := b.Triggers.Fire(ctx); err != nil && ctx.Err() == nil {
				b.o.Log.Error("fire triggers", "err", err)
			}
		}
	}
}

// A handler handles one message.
type handler func(ctx context.Context, q queue.Queue, m queue.Message) error

// loop receives batches from q, while ctx lasts, and hands them to h
// through batch.Process, which keeps FIFO groups in order when a message
// fails. A failed message backs off briefly rather than for its whole
// visibility timeout. Messages received are handled, and deleted, under
// work, which outlasts ctx: a stop lets them finish.
//
// With Parts.Atomic, a message's handling, its deletion and, after the last
// message of a batch, the receiving of the next batch commit in one
// transaction: an engine step, its commit, its messages and the deletion
// of its event at once. When h fails, what it wrote is committed all the
// same (every write of a step is idempotent, as without a transaction) and
// the message stays.
func (b *Bora) loop(ctx, work context.Context, q queue.Queue, max int, visibility time.Duration, h handler) {
	var next []queue.Message
	defer func() { b.release(work, q, next) }()
	for ctx.Err() == nil {
		msgs := next
		next = nil
		if len(msgs) == 0 {
			var err error
			if msgs, err = q.Receive(ctx, max, time.Second, visibility); err != nil {
				if ctx.Err() == nil {
					b.o.Log.Error("receive", "err", err)
					sleep(ctx, time.Second)
				}
				continue
			}
		}
		byHandle := make(map[string]queue.Message, len(msgs))
		in := make([]batch.Message, len(msgs))
		for i, m := range msgs {
			byHandle[m.Handle] = m
			in[i] = batch.Message{ID: m.Handle, Group: m.Group, Body: m.Body, ReceiveCount: m.ReceiveCount}
		}
		var deleted []string
		failed := batch.Process(work, in, func(wctx context.Context, bm batch.Message) error {
			m := byHandle[bm.ID]
			defer b.heartbeat(ctx, q, m.Handle, visibility)()
			if b.atomic == nil {
				return h(wctx, q, m)
			}
			var herr error
			gone, last := false, bm.ID == in[len(in)-1].ID
			err := b.atomic(wctx, func(tctx context.Context) error {
				if herr = h(tctx, q, m); herr != nil {
					return nil
				}
				if err := q.Delete(tctx, m.Handle); err != nil {
					return err
				}
				gone = true
				if last && ctx.Err() == nil {
					next, _ = q.Receive(tctx, max, 0, visibility)
				}
				return nil
			})
			if err != nil {
				gone, next = false, nil // received in a transaction that did not commit
			}
			if gone {
				deleted = append(deleted, bm.ID)
			}
			return cmp.Or(herr, err)
		})
		for _, id := range deleted {
			delete(byHandle, id)
		}
		ctx := work // what was received is settled, stopping or not
		for _, f := range failed {
			m := byHandle[f.ID]
			delete(byHandle, f.ID)
			backoff := time.Duration(min(m.ReceiveCount, 5)) * time.Second
			if f.Skipped {
				backoff = 0
			} else {
				b.o.Log.Warn("message failed; it will be delivered again", "err", f.Err, "receives", m.ReceiveCount)
			}
			_ = q.ChangeVisibility(ctx, m.Handle, backoff)
		}
		if len(byHandle) == 0 {
			continue
		}
		done := make([]string, 0, len(byHandle))
		for h := range byHandle {
			done = append(done, h)
		}
		if err := q.Delete(ctx, done...); err != nil && ctx.Err() == nil {
			b.o.Log.Error("delete", "err", err)
		}
	}
}

// heartbeat keeps a message hidden while it is handled, for as long as it
// takes (a step that plans thousands of units on a remote store can take
// longer than the visibility timeout), so that no other loop receives it
// meanwhile. The returned function stops it.
func (b *Bora) heartbeat(ctx context.Context, q queue.Queue, handle string, visibility time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(visibility / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := q.ChangeVisibility(ctx, handle, visibility); err != nil {
					return // handled and deleted meanwhile, or received again
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (b *Bora) handleEvent(ctx context.Context, _ queue.Queue, m queue.Message) error {
	var ev record.Event
	err := json.Unmarshal(m.Body, &ev)
	if err == nil {
		err = b.Runtime.HandleEvent(ctx, ev)
	}
	if err != nil && m.ReceiveCount >= b.o.MaxReceives && ctx.Err() == nil {
		if perr := b.Runtime.Poisoned(ctx, m.Body, m.ReceiveCount, err); perr != nil {
			return errors.Join(err, perr)
		}
	}
	return err
}

func (b *Bora) handleDeadLetter(ctx context.Context, _ queue.Queue, m queue.Message) error {
	return b.Runtime.DeadLettered(ctx, m.Body, b.o.MaxReceives)
}

func (b *Bora) handleTimer(ctx context.Context, _ queue.Queue, m queue.Message) error {
	var tm record.TimerMessage
	if err := json.Unmarshal(m.Body, &tm); err != nil {
		return fmt.Errorf("decode timer %s: %w", m.ID, err)
	}
	return b.Runtime.HandleTimer(ctx, tm)
}

// work is one worker: it runs task messages one at a time, received while
// ctx lasts and run under work, which outlasts it (a stop lets them
// finish). The worker records an outcome, announces it, deletes its message
// and receives the next one in one transaction (Parts.Atomic).
func (b *Bora) work(ctx, work context.Context) {
	var next []queue.Message
	defer func() { b.release(work, b.tasks, next) }()
	for ctx.Err() == nil {
		msgs := next
		next = nil
		if len(msgs) == 0 {
			var err error
			if msgs, err = b.tasks.Receive(ctx, 1, time.Second, b.o.Lease); err != nil {
				if ctx.Err() == nil {
					b.o.Log.Error("receive", "err", err)
					sleep(ctx, time.Second)
				}
				continue
			}
		}
		for _, m := range msgs {
			deleted, err := b.handleTask(ctx, work, m, &next)
			switch {
			case err != nil:
				b.o.Log.Warn("message failed; it will be delivered again", "err", err, "receives", m.ReceiveCount)
				_ = b.tasks.ChangeVisibility(work, m.Handle, time.Duration(min(m.ReceiveCount, 5))*time.Second)
			case !deleted:
				if err := b.tasks.Delete(work, m.Handle); err != nil {
					b.o.Log.Error("delete", "err", err)
				}
			}
		}
	}
}

// release makes messages received but not handled, when a stop came
// between, visible again at once, for the next process.
func (b *Bora) release(ctx context.Context, q queue.Queue, msgs []queue.Message) {
	for _, m := range msgs {
		_ = q.ChangeVisibility(ctx, m.Handle, 0)
	}
}

// handleTask runs a task message. When its outcome is recorded, the worker
// deletes it and receives the next message into next, in the same
// transaction.
func (b *Bora) handleTask(ctx, work context.Context, m queue.Message, next *[]queue.Message) (bool, error) {
	var tm record.TaskMessage
	if err := json.Unmarshal(m.Body, &tm); err != nil {
		return false, fmt.Errorf("decode task message %s: %w", m.ID, err)
	}
	q := b.tasks
	deleted, err := b.Worker.HandleThen(work, tm, func(d time.Duration) error {
		return q.ChangeVisibility(work, m.Handle, d)
	}, func(tctx context.Context) error {
		if err := q.Delete(tctx, m.Handle); err != nil {
			return err
		}
		if ctx.Err() == nil {
			*next, _ = q.Receive(tctx, 1, 0, b.o.Lease)
		}
		return nil
	})
	if !deleted {
		*next = nil // received in a transaction that did not commit
	}
	return deleted, err
}

// Wait polls an execution until it is final or paused, or ctx ends.
func (b *Bora) Wait(ctx context.Context, id string, every time.Duration) (*record.Execution, error) {
	every = cmp.Or(every, 20*time.Millisecond)
	for {
		e, err := b.Store.GetExecution(ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if e != nil && (e.State.Terminal() || e.State == record.ExecPaused) {
			return e, nil
		}
		if !sleep(ctx, every) {
			return e, ctx.Err()
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
