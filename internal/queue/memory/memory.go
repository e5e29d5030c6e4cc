// Package memory is an in-memory Queue with SQS semantics and an injectable
// clock: the queue of the deterministic simulation. Receive never blocks
// beyond its wait and hands out messages in a deterministic order (by the
// time they become visible, then by send order), so a seeded run replays.
package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/borawf/bora/internal/queue"
)

// Options configure a queue.
type Options struct {
	FIFO        bool
	MaxReceives int              // 0: no dead-lettering
	DeadLetter  *Queue           // where messages go after MaxReceives receives
	Now         func() time.Time // nil: time.Now
}

// Queue is an in-memory queue.Queue.
type Queue struct {
	mu     sync.Mutex
	o      Options
	seq    int
	msgs   []*msg
	dedup  map[string]time.Time
	signal chan struct{}
}

type msg struct {
	id       string
	seq      int
	body     []byte
	group    string
	visible  time.Time
	sent     time.Time
	receives int
	handle   string // of the latest receive; "" when not in flight
}

const dedupWindow = 5 * time.Minute

// New returns an empty queue.
func New(o Options) *Queue {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Queue{o: o, dedup: map[string]time.Time{}, signal: make(chan struct{})}
}

var _ queue.Queue = (*Queue)(nil)

// Len returns the number of messages held (visible or not).
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.msgs)
}

func (q *Queue) Send(_ context.Context, out ...queue.Out) error {
	now := q.o.Now()
	for _, o := range out {
		if len(o.Body) > queue.MaxBodyBytes {
			return fmt.Errorf("send %d bytes: %w", len(o.Body), queue.ErrTooLarge)
		}
		if o.Delay < 0 || o.Delay > queue.MaxDelay {
			return fmt.Errorf("delay %s: %w", o.Delay, queue.ErrInvalid)
		}
		if q.o.FIFO && (o.Group == "" || o.DedupID == "") {
			return fmt.Errorf("FIFO message without group or deduplication id: %w", queue.ErrInvalid)
		}
		if q.o.FIFO && o.Delay > 0 {
			return fmt.Errorf("delay %s on a FIFO queue, which takes no per-message delay: %w", o.Delay, queue.ErrInvalid)
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, o := range out {
		if q.o.FIFO {
			if t, ok := q.dedup[o.DedupID]; ok && now.Sub(t) < dedupWindow {
				continue
			}
			q.dedup[o.DedupID] = now
		}
		q.seq++
		q.msgs = append(q.msgs, &msg{
			id: strconv.Itoa(q.seq), seq: q.seq, body: slices.Clone(o.Body), group: o.Group,
			visible: now.Add(o.Delay), sent: now,
		})
	}
	close(q.signal)
	q.signal = make(chan struct{})
	return nil
}

func (q *Queue) Receive(ctx context.Context, n int, wait, visibility time.Duration) ([]queue.Message, error) {
	n = min(cmp.Or(max(n, 0), 1), queue.MaxBatch) // as SQS: 1 to 10 messages a receive
	deadline := time.Now().Add(wait)
	for {
		got, signal := q.take(n, visibility)
		if len(got) > 0 || wait <= 0 {
			return got, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		t := time.NewTimer(min(left, 50*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-signal:
		case <-t.C:
		}
		t.Stop()
	}
}

func (q *Queue) take(max int, visibility time.Duration) ([]queue.Message, chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.o.Now()
	// A FIFO queue hands out each group in send order; a standard queue
	// hands out whatever is visible, oldest visibility first.
	sort.SliceStable(q.msgs, func(i, j int) bool {
		if !q.o.FIFO && !q.msgs[i].visible.Equal(q.msgs[j].visible) {
			return q.msgs[i].visible.Before(q.msgs[j].visible)
		}
		return q.msgs[i].seq < q.msgs[j].seq
	})
	busy := map[string]bool{} // FIFO groups with a message in flight or ahead
	if q.o.FIFO {
		for _, m := range q.msgs {
			if m.visible.After(now) && m.handle != "" {
				busy[m.group] = true
			}
		}
	}
	var out []queue.Message
	var dead []*msg
	for _, m := range q.msgs {
		if len(out) >= max {
			break
		}
		if q.o.FIFO && busy[m.group] {
			continue
		}
		if m.visible.After(now) {
			if q.o.FIFO {
				busy[m.group] = true // keep send order: nothing after it in its group
			}
			continue
		}
		if q.o.MaxReceives > 0 && m.receives >= q.o.MaxReceives {
			dead = append(dead, m)
			continue
		}
		m.receives++
		m.handle = m.id + "/" + strconv.Itoa(m.receives)
		m.visible = now.Add(visibility)
		if q.o.FIFO {
			busy[m.group] = true
		}
		out = append(out, queue.Message{ID: m.id, Handle: m.handle, Body: slices.Clone(m.body), Group: m.group, ReceiveCount: m.receives, SentAt: m.sent})
	}
	for _, m := range dead {
		q.remove(m)
		if q.o.DeadLetter != nil {
			_ = q.o.DeadLetter.Send(context.Background(), queue.Out{Body: m.body, Group: m.group, DedupID: m.id})
		}
	}
	return out, q.signal
}

func (q *Queue) remove(m *msg) {
	q.msgs = slices.DeleteFunc(q.msgs, func(x *msg) bool { return x == m })
}

func (q *Queue) Delete(_ context.Context, handles ...string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, h := range handles {
		for _, m := range q.msgs {
			if m.handle == h {
				q.remove(m)
				break
			}
		}
	}
	return nil
}

func (q *Queue) ChangeVisibility(_ context.Context, handle string, d time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range q.msgs {
		if m.handle == handle {
			m.visible = q.o.Now().Add(d)
			return nil
		}
	}
	return fmt.Errorf("change visibility: no message in flight with handle %q", handle)
}
