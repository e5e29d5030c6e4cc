package bench

import (
	"context"
	"sync"
	"time"

	"github.com/borawf/bora/internal/queue"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

// counts are the store and queue calls an execution made.
type counts struct {
	reads, writes int // store calls
	queue         int // queue calls (send, receive, delete, change visibility)
	messages      int // messages sent
}

func (c counts) sub(o counts) counts {
	return counts{reads: c.reads - o.reads, writes: c.writes - o.writes, queue: c.queue - o.queue, messages: c.messages - o.messages}
}

// meter counts calls, and takes a snapshot of its counts (and of what
// snap adds) after each commit of an execution's head, by version.
type meter struct {
	mu     sync.Mutex
	c      counts
	snap   func() any // more to record at each commit (an AWS counter); may be nil
	at     map[int64]counts
	extra  map[int64]any
	head   map[int64]int // head bytes by version
	execID string
}

func newMeter(snap func() any) *meter {
	return &meter{snap: snap, at: map[int64]counts{}, extra: map[int64]any{}, head: map[int64]int{}}
}

func (m *meter) add(f func(c *counts)) {
	m.mu.Lock()
	f(&m.c)
	m.mu.Unlock()
}

// committed records the counts once version v of the execution's head is
// committed.
func (m *meter) committed(e *record.Execution) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.ID != m.execID {
		return
	}
	m.at[e.Version] = m.c
	m.head[e.Version] = len(e.Engine)
	if m.snap != nil {
		m.extra[e.Version] = m.snap()
	}
}

// meteredStore counts a store's calls and tells the meter of commits.
type meteredStore struct {
	store.Store
	m *meter
}

func (s meteredStore) read()  { s.m.add(func(c *counts) { c.reads++ }) }
func (s meteredStore) write() { s.m.add(func(c *counts) { c.writes++ }) }

func (s meteredStore) GetExecution(ctx context.Context, id string) (*record.Execution, error) {
	s.read()
	return s.Store.GetExecution(ctx, id)
}

func (s meteredStore) CommitExecution(ctx context.Context, e *record.Execution) error {
	s.write()
	err := s.Store.CommitExecution(ctx, e)
	if err == nil {
		s.m.committed(e)
	}
	return err
}

func (s meteredStore) CreateTask(ctx context.Context, t *record.Task) error {
	s.write()
	return s.Store.CreateTask(ctx, t)
}

func (s meteredStore) FinishTask(ctx context.Context, t *record.Task) error {
	s.write()
	return s.Store.FinishTask(ctx, t)
}

func (s meteredStore) GetTask(ctx context.Context, execID, key string) (*record.Task, error) {
	s.read()
	return s.Store.GetTask(ctx, execID, key)
}

func (s meteredStore) CreateUnit(ctx context.Context, u *record.Unit) error {
	s.write()
	return s.Store.CreateUnit(ctx, u)
}

func (s meteredStore) GetUnit(ctx context.Context, k record.UnitKey) (*record.Unit, error) {
	s.read()
	return s.Store.GetUnit(ctx, k)
}

func (s meteredStore) ListUnits(ctx context.Context, execID, task string) ([]*record.Unit, error) {
	s.read()
	return s.Store.ListUnits(ctx, execID, task)
}

func (s meteredStore) UpdateUnit(ctx context.Context, k record.UnitKey, x record.Expect, c record.UnitChange) (*record.Unit, error) {
	s.write()
	return s.Store.UpdateUnit(ctx, k, x, c)
}

// meteredQueue counts a queue's calls and the messages sent.
type meteredQueue struct {
	queue.Queue
	m *meter
}

func (q meteredQueue) Send(ctx context.Context, msgs ...queue.Out) error {
	q.m.add(func(c *counts) { c.queue++; c.messages += len(msgs) })
	return q.Queue.Send(ctx, msgs...)
}

func (q meteredQueue) Receive(ctx context.Context, n int, wait, visibility time.Duration) ([]queue.Message, error) {
	msgs, err := q.Queue.Receive(ctx, n, wait, visibility)
	if len(msgs) > 0 {
		// Idle polls cost by the hour the queue is polled, not by the work.
		q.m.add(func(c *counts) { c.queue++ })
	}
	return msgs, err
}

func (q meteredQueue) Delete(ctx context.Context, handles ...string) error {
	q.m.add(func(c *counts) { c.queue++ })
	return q.Queue.Delete(ctx, handles...)
}

func (q meteredQueue) ChangeVisibility(ctx context.Context, handle string, d time.Duration) error {
	q.m.add(func(c *counts) { c.queue++ })
	return q.Queue.ChangeVisibility(ctx, handle, d)
}
