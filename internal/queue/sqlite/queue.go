// Package sqlite is the embedded Queue: SQS semantics (visibility timeout,
// delay, receive count, dead-letter queue, FIFO groups and deduplication)
// on tables in the same SQLite database as the embedded store.
//
// Every queue of a database shares one messages table, keyed by queue name.
// A receive is one UPDATE … WHERE seq IN (SELECT …) RETURNING statement, so
// two receivers (goroutines or processes) never get the same visible
// message; the same statement moves messages that were received too often
// to the dead-letter queue. A message is gone only after Delete, so a
// process killed at any point loses nothing: what it had received comes
// back after the visibility timeout (at-least-once).
package sqlite

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/borawf/bora/internal/queue"
	"github.com/borawf/bora/internal/sqlitetx"
)

// Options configure a queue.
type Options struct {
	FIFO bool
	// MaxReceives is how many times a message is handed out before the
	// next receive moves it to DeadLetter instead; 0 with no DeadLetter.
	MaxReceives int
	// DeadLetter names the dead-letter queue (another queue in the same
	// database, of the same kind); "" for none.
	DeadLetter string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Poll is how often a waiting Receive looks for messages that another
	// process sent (sends in this process wake it at once); 0 means 250ms.
	Poll time.Duration
}

// DedupWindow is how long a FIFO queue remembers a deduplication id.
const DedupWindow = 5 * time.Minute

// MaxVisibility is the longest visibility timeout (SQS: 12 hours).
const MaxVisibility = 12 * time.Hour

const defaultPoll = 250 * time.Millisecond

// Queue is one embedded queue.
type Queue struct {
	db    *sql.DB
	name  string
	o     Options
	now   func() time.Time
	wake  *notifier // this queue's sends, deletes and visibility changes
	dwake *notifier // the dead-letter queue's, when there is one
	sends atomic.Uint64
	st    *sqlitetx.Stmts
	recv  string // the receive statement, for this queue's options
}

var _ queue.Queue = (*Queue)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS queue_messages (
	seq           INTEGER PRIMARY KEY AUTOINCREMENT,
	queue         TEXT NOT NULL,
	grp           TEXT NOT NULL,
	body          BLOB NOT NULL,
	sent_at       INTEGER NOT NULL,
	visible_at    INTEGER NOT NULL,
	receive_count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_messages_visible ON queue_messages (queue, visible_at, seq);
DROP INDEX IF EXISTS queue_messages_group;
CREATE INDEX IF NOT EXISTS queue_messages_fifo ON queue_messages (queue, grp, seq) WHERE grp != '';
CREATE TABLE IF NOT EXISTS queue_dedup (
	queue      TEXT NOT NULL,
	dedup_id   TEXT NOT NULL,
	expires_at INTEGER NOT NULL,
	PRIMARY KEY (queue, dedup_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS queue_dedup_expiry ON queue_dedup (queue, expires_at);
`

// New returns the queue called name in db, creating the queue tables if
// they are missing. Queues need no other creation: a name is a queue.
func New(db *sql.DB, name string, o Options) (*Queue, error) {
	var errs []error
	if name == "" {
		errs = append(errs, errors.New("queue name is empty"))
	}
	if o.MaxReceives < 0 {
		errs = append(errs, fmt.Errorf("MaxReceives %d is negative", o.MaxReceives))
	}
	if (o.MaxReceives > 0) != (o.DeadLetter != "") {
		errs = append(errs, errors.New("MaxReceives and DeadLetter go together"))
	}
	if o.DeadLetter == name && name != "" {
		errs = append(errs, errors.New("a queue cannot be its own dead-letter queue"))
	}
	if o.Poll < 0 {
		errs = append(errs, fmt.Errorf("Poll %v is negative", o.Poll))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("queue %q: %w", name, err)
	}
	o.Poll = cmp.Or(o.Poll, defaultPoll)
	if _, err := db.Exec(schema); err != nil {
		return nil, fmt.Errorf("create queue tables: %w", err)
	}
	q := &Queue{db: db, name: name, o: o, now: o.Now, wake: notifierFor(db, name), st: sqlitetx.NewStmts(db), recv: receiveSQL(o)}
	if q.now == nil {
		q.now = time.Now
	}
	if o.DeadLetter != "" {
		q.dwake = notifierFor(db, o.DeadLetter)
	}
	if err := q.st.Prepare(context.Background(), sqlSend, sqlDedup, sqlSweepDedup, q.recv, sqlNextVisible, sqlFirstVisible, sqlDelete, sqlChangeVisibility, sqlHandOff, sqlGroupSize); err != nil {
		return nil, fmt.Errorf("queue %q: prepare statements: %w", name, err)
	}
	return q, nil
}

// The statements of a queue, prepared when it is made (sqlitetx.Stmts);
// each call joins the transaction its context carries.
const (
	sqlSend = `INSERT INTO queue_messages (queue, grp, body, sent_at, visible_at, receive_count) VALUES (?, ?, ?, ?, ?, 0)
		RETURNING seq`
	sqlHandOff   = `UPDATE queue_messages SET receive_count = 1, visible_at = ? WHERE seq = ?`
	sqlGroupSize = `SELECT count(*) FROM queue_messages WHERE queue = ? AND grp != '' AND grp = ?`
	sqlDedup     = `INSERT INTO queue_dedup (queue, dedup_id, expires_at) VALUES (?, ?, ?)
		ON CONFLICT DO UPDATE SET expires_at = excluded.expires_at WHERE queue_dedup.expires_at <= ?`
	sqlSweepDedup       = `DELETE FROM queue_dedup WHERE queue = ? AND expires_at <= ?`
	sqlNextVisible      = `SELECT min(visible_at) FROM queue_messages WHERE queue = ? AND visible_at > ?`
	sqlFirstVisible     = `SELECT min(visible_at) FROM queue_messages WHERE queue = ?`
	sqlDelete           = `DELETE FROM queue_messages WHERE seq = ? AND receive_count = ? AND queue = ?`
	sqlChangeVisibility = `UPDATE queue_messages SET visible_at = ? WHERE seq = ? AND queue = ? AND receive_count = ?`
)

// receiveSQL is the statement that hands out up to ?3 visible messages,
// moving those received MaxReceives times to the dead-letter queue.
func receiveSQL(o Options) string {
	pick := `SELECT seq FROM queue_messages WHERE queue = ?1 AND visible_at <= ?2 ORDER BY visible_at, seq LIMIT ?3`
	if o.FIFO {
		// The first message of each group, if it is visible. The groups
		// are walked one index probe each (a group's messages are not
		// scanned: one execution's group may hold thousands). Only FIFO
		// messages have a group, and only they are in that index.
		pick = `WITH RECURSIVE g(grp) AS (
				SELECT (SELECT min(grp) FROM queue_messages WHERE queue = ?1 AND grp != '')
				UNION ALL
				SELECT (SELECT min(grp) FROM queue_messages WHERE queue = ?1 AND grp != '' AND grp > g.grp) FROM g WHERE g.grp IS NOT NULL
			)
			SELECT m.seq FROM g JOIN queue_messages m
				ON m.seq = (SELECT seq FROM queue_messages WHERE queue = ?1 AND grp != '' AND grp = g.grp ORDER BY seq LIMIT 1)
			WHERE g.grp IS NOT NULL AND m.visible_at <= ?2 ORDER BY m.seq LIMIT ?3`
	}
	set := `receive_count = receive_count + 1, visible_at = ?4`
	if o.DeadLetter != "" {
		dead := `receive_count >= ?5`
		set = `queue = CASE WHEN ` + dead + ` THEN ?6 ELSE queue END,
			receive_count = CASE WHEN ` + dead + ` THEN receive_count ELSE receive_count + 1 END,
			visible_at = CASE WHEN ` + dead + ` THEN ?2 ELSE ?4 END`
	}
	return `UPDATE queue_messages SET ` + set + ` WHERE seq IN (` + pick + `)
		RETURNING seq, queue, grp, body, sent_at, receive_count`
}

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

func ms(t time.Time) int64 { return t.UnixMilli() }

// Send implements queue.Queue. All messages are checked before any is sent,
// and all are written in one transaction (the caller's, when its context
// carries one: sqlitetx).
//
// A message that a receiver of this process is waiting for is handed to it
// directly: written as received by it (its first receive, hidden for the
// receiver's visibility timeout) in the same transaction, and passed to it
// once the transaction commits, so that it need not look for it.
func (q *Queue) Send(ctx context.Context, msgs ...queue.Out) error {
	for i, m := range msgs {
		if err := q.check(m); err != nil {
			return fmt.Errorf("send to %s: message %d: %w", q.name, i, err)
		}
	}
	err := sqlitetx.Run(ctx, q.db, func(ctx context.Context) error {
		var sent []queue.Message
		for batch := range slices.Chunk(msgs, queue.MaxBatch) {
			send := q.sendStandard
			if q.o.FIFO {
				send = q.sendFIFO
			}
			s, err := send(ctx, batch)
			if err != nil {
				return err
			}
			sent = append(sent, s...)
		}
		return q.handOff(ctx, sent)
	})
	if err != nil {
		return fmt.Errorf("send to %s: %w", q.name, err)
	}
	return nil
}

// handOff hands sent messages to waiting receivers, and wakes others for
// the rest, once the transaction commits.
func (q *Queue) handOff(ctx context.Context, sent []queue.Message) error {
	var direct []queue.Message
	for _, m := range sent {
		if m.ReceiveCount != 0 {
			continue // delayed
		}
		if q.o.FIFO {
			// Only a message alone in its group: none ahead of it, none
			// in flight.
			var n int
			if err := q.st.QueryRow(ctx, sqlGroupSize, q.name, m.Group).Scan(&n); err != nil {
				return err
			}
			if n != 1 {
				continue
			}
		}
		direct = append(direct, m)
	}
	ws := q.wake.reserve(len(direct))
	handed := 0
	sqlitetx.After(ctx, q.db, func(committed bool) {
		if !committed {
			q.wake.release(ws)
			return
		}
		q.wake.deliver(ws)
		q.wake.notify(len(sent) - handed)
	})
	now := q.now()
	for i, w := range ws {
		m := direct[i]
		seq, _ := strconv.ParseInt(m.ID, 10, 64)
		if _, err := q.st.Exec(ctx, sqlHandOff, ms(now.Add(w.visibility)), seq); err != nil {
			return err
		}
		m.ReceiveCount, m.Handle = 1, makeHandle(seq, 1)
		w.msgs = []queue.Message{m}
		handed++
	}
	return nil
}

func (q *Queue) check(m queue.Out) error {
	switch {
	case len(m.Body) > queue.MaxBodyBytes:
		return fmt.Errorf("%d-byte body, over %d: %w", len(m.Body), queue.MaxBodyBytes, queue.ErrTooLarge)
	case len(m.Body) == 0:
		return fmt.Errorf("empty body: %w", queue.ErrInvalid)
	case q.o.FIFO && m.Group == "":
		return fmt.Errorf("no group on a FIFO queue: %w", queue.ErrInvalid)
	case q.o.FIFO && m.Delay != 0:
		return fmt.Errorf("delay on a FIFO queue: %w", queue.ErrInvalid)
	case m.Delay < 0 || m.Delay > queue.MaxDelay:
		return fmt.Errorf("delay %v outside 0..%v: %w", m.Delay, queue.MaxDelay, queue.ErrInvalid)
	}
	return nil
}

// sendStandard writes a batch (in the caller's transaction) and returns
// the messages written; a delayed one has ReceiveCount -1.
func (q *Queue) sendStandard(ctx context.Context, batch []queue.Out) ([]queue.Message, error) {
	nowT := q.now()
	now := ms(nowT)
	sent := make([]queue.Message, 0, len(batch))
	for _, m := range batch {
		var seq int64
		if err := q.st.QueryRow(ctx, sqlSend, q.name, m.Group, m.Body, now, now+m.Delay.Milliseconds()).Scan(&seq); err != nil {
			return nil, err
		}
		sm := queue.Message{ID: strconv.FormatInt(seq, 10), Body: m.Body, Group: m.Group, SentAt: time.UnixMilli(now).UTC()}
		if m.Delay > 0 {
			sm.ReceiveCount = -1
		}
		sent = append(sent, sm)
	}
	return sent, nil
}

// sendFIFO writes a batch (in the caller's transaction): each message is
// kept only if its deduplication id was not seen within the window. It
// returns the messages written.
func (q *Queue) sendFIFO(ctx context.Context, batch []queue.Out) ([]queue.Message, error) {
	nowT := q.now()
	now := ms(nowT)
	if q.sends.Add(1)%64 == 0 {
		if _, err := q.st.Exec(ctx, sqlSweepDedup, q.name, now); err != nil {
			return nil, err
		}
	}
	sent := make([]queue.Message, 0, len(batch))
	for _, m := range batch {
		id := m.DedupID
		if id == "" {
			// Content-based deduplication, as SQS does when enabled.
			sum := sha256.Sum256(m.Body)
			id = "sha256:" + hex.EncodeToString(sum[:])
		}
		res, err := q.st.Exec(ctx, sqlDedup, q.name, id, ms(nowT.Add(DedupWindow)), now)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue // a duplicate within the window
		}
		var seq int64
		if err := q.st.QueryRow(ctx, sqlSend, q.name, m.Group, m.Body, now, now).Scan(&seq); err != nil {
			return nil, err
		}
		sent = append(sent, queue.Message{ID: strconv.FormatInt(seq, 10), Body: m.Body, Group: m.Group, SentAt: time.UnixMilli(now).UTC()})
	}
	return sent, nil
}

// Receive implements queue.Queue.
func (q *Queue) Receive(ctx context.Context, n int, wait, visibility time.Duration) ([]queue.Message, error) {
	n = min(cmp.Or(n, 1), queue.MaxBatch)
	if n < 1 || visibility < 0 || visibility > MaxVisibility || wait < 0 {
		return nil, fmt.Errorf("receive from %s: max %d, wait %v, visibility %v: %w", q.name, n, wait, visibility, queue.ErrInvalid)
	}
	deadline := time.Now().Add(wait)
	for {
		mark := q.wake.mark() // before looking, so that no send is missed
		// A read first: most looks of an idle receiver find nothing, and a
		// read takes no write lock. It also tells when to look next.
		next, ok, err := q.firstVisible(ctx)
		if err != nil {
			return nil, fmt.Errorf("receive from %s: %w", q.name, err)
		}
		if ok && !next.After(q.now()) {
			msgs, moved, err := q.receiveOnce(ctx, n, visibility)
			if err != nil {
				return nil, fmt.Errorf("receive from %s: %w", q.name, err)
			}
			if len(msgs) > 0 {
				return msgs, nil
			}
			if moved {
				continue // dead-lettered messages made room: look again
			}
			// Visible, but behind a message of its group in flight.
			if next, ok, err = q.nextVisible(ctx); err != nil {
				return nil, fmt.Errorf("receive from %s: %w", q.name, err)
			}
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		sleep := min(left, q.o.Poll)
		if ok {
			sleep = max(min(sleep, next.Sub(q.now())), time.Millisecond)
		}
		w := q.wake.wait(mark, visibility)
		if w == nil {
			continue // a message came while this receiver looked
		}
		timer := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
		case <-w.ready:
		case <-timer.C:
		}
		timer.Stop()
		if q.wake.stop(w) {
			// A sender chose this receiver: its messages are written as
			// received by it, and come when the sender commits.
			<-w.ready
		}
		if len(w.msgs) > 0 {
			return w.msgs, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("receive from %s: %w", q.name, ctx.Err())
		}
	}
}

// receiveOnce hands out up to n visible messages in one statement, and
// moves those received MaxReceives times to the dead-letter queue.
func (q *Queue) receiveOnce(ctx context.Context, n int, visibility time.Duration) (msgs []queue.Message, moved bool, err error) {
	var seqs []int64
	err = sqlitetx.Run(ctx, q.db, func(ctx context.Context) error {
		// The visibility timeout starts when the messages are handed out,
		// so the clock is read once this process holds the write lock.
		now := ms(q.now())
		args := []any{q.name, now, n, now + visibility.Milliseconds()}
		if q.o.DeadLetter != "" {
			args = append(args, q.o.MaxReceives, q.o.DeadLetter)
		}
		rows, err := q.st.Query(ctx, q.recv, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var seq, sent int64
			var qname string
			var m queue.Message
			if err := rows.Scan(&seq, &qname, &m.Group, &m.Body, &sent, &m.ReceiveCount); err != nil {
				return err
			}
			if qname != q.name {
				moved = true
				continue
			}
			m.ID = strconv.FormatInt(seq, 10)
			m.Handle = makeHandle(seq, m.ReceiveCount)
			m.SentAt = time.UnixMilli(sent).UTC()
			msgs = append(msgs, m)
			seqs = append(seqs, seq)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return rows.Close()
	})
	if err != nil {
		return nil, false, err
	}
	if moved {
		q.dwake.notify(len(seqs) + 1)
	}
	// RETURNING has no order: hand messages out in queue order.
	idx := make([]int, len(msgs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(seqs[a], seqs[b]) })
	sorted := make([]queue.Message, len(msgs))
	for i, j := range idx {
		sorted[i] = msgs[j]
	}
	return sorted, moved, nil
}

// firstVisible returns when the queue's first message is (or was) visible,
// if it holds one.
func (q *Queue) firstVisible(ctx context.Context) (time.Time, bool, error) {
	var first sql.NullInt64
	if err := q.st.QueryRow(ctx, sqlFirstVisible, q.name).Scan(&first); err != nil {
		return time.Time{}, false, err
	}
	return time.UnixMilli(first.Int64), first.Valid, nil
}

// nextVisible returns when the next hidden message of the queue becomes
// visible, if one is hidden.
func (q *Queue) nextVisible(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullInt64
	if err := q.st.QueryRow(ctx, sqlNextVisible, q.name, ms(q.now())).Scan(&next); err != nil {
		return time.Time{}, false, err
	}
	return time.UnixMilli(next.Int64), next.Valid, nil
}

// A receipt handle names a message and the receive that handed it out, so
// that a handle from an earlier receive no longer matches.
func makeHandle(seq int64, count int) string {
	return strconv.FormatInt(seq, 10) + "." + strconv.Itoa(count)
}

func parseHandle(h string) (int64, int, error) {
	s, c, ok := strings.Cut(h, ".")
	seq, err1 := strconv.ParseInt(s, 10, 64)
	count, err2 := strconv.Atoi(c)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("receipt handle %q: %w", h, queue.ErrInvalid)
	}
	return seq, count, nil
}

// Delete implements queue.Queue. A handle of an earlier receive, or of a
// message already deleted, deletes nothing and is not an error.
func (q *Queue) Delete(ctx context.Context, handles ...string) error {
	err := sqlitetx.Run(ctx, q.db, func(ctx context.Context) error {
		for _, h := range handles {
			seq, count, err := parseHandle(h)
			if err != nil {
				return err
			}
			if _, err := q.st.Exec(ctx, sqlDelete, seq, count, q.name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete from %s: %w", q.name, err)
	}
	if q.o.FIFO && len(handles) > 0 {
		q.wake.notify(len(handles)) // a group's next message may be free now
	}
	return nil
}

// ErrNotInFlight reports a ChangeVisibility with a handle whose message was
// deleted or received again since.
var ErrNotInFlight = errors.New("message not in flight under this receipt handle")

// ChangeVisibility implements queue.Queue.
func (q *Queue) ChangeVisibility(ctx context.Context, handle string, d time.Duration) error {
	if d < 0 || d > MaxVisibility {
		return fmt.Errorf("change visibility on %s: %v outside 0..%v: %w", q.name, d, MaxVisibility, queue.ErrInvalid)
	}
	seq, count, err := parseHandle(handle)
	if err != nil {
		return fmt.Errorf("change visibility on %s: %w", q.name, err)
	}
	res, err := q.st.Exec(ctx, sqlChangeVisibility, ms(q.now().Add(d)), seq, q.name, count)
	if err != nil {
		return fmt.Errorf("change visibility on %s: %w", q.name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("change visibility on %s: %w", q.name, ErrNotInFlight)
	}
	if d == 0 {
		q.wake.notify(1)
	}
	return nil
}

// A notifier wakes the waiting receivers of one queue in this process: as
// many as messages were sent, so that one message does not send every idle
// receiver to the database, and hands a sent message to a waiting receiver
// directly when it can (Send). A receiver takes the notifier's mark before
// it looks for messages and waits only if nothing was sent since; a woken
// receiver that finds nothing (another took the message) waits again, and
// every receiver still looks when its poll interval passes.
type notifier struct {
	mu      sync.Mutex
	gen     uint64    // notifications so far
	waiters []*waiter // receivers waiting, the longest first
}

// A waiter is a receiver waiting for messages.
type waiter struct {
	visibility time.Duration
	ready      chan struct{}   // closed when woken
	msgs       []queue.Message // handed directly; read once ready is closed
	chosen     bool            // reserved by a sender: it will close ready
}

// mark returns the count of notifications so far.
func (n *notifier) mark() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.gen
}

// wait registers a waiting receiver, or returns nil when a notification
// came since mark (look again at once).
func (n *notifier) wait(mark uint64, visibility time.Duration) *waiter {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.gen != mark {
		return nil
	}
	w := &waiter{visibility: visibility, ready: make(chan struct{})}
	n.waiters = append(n.waiters, w)
	return w
}

// stop unregisters a receiver that stops waiting. It reports true when a
// sender had chosen it: then ready closes once the sender's transaction
// ends, with the messages handed to it if it committed.
func (n *notifier) stop(w *waiter) (chosen bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.waiters = slices.DeleteFunc(n.waiters, func(x *waiter) bool { return x == w })
	return w.chosen
}

// notify wakes up to k waiting receivers (for k messages that may be
// visible now); receivers that are looking look again.
func (n *notifier) notify(k int) {
	if n == nil || k <= 0 {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.gen++
	k = min(k, len(n.waiters))
	for _, w := range n.waiters[:k] {
		close(w.ready)
	}
	n.waiters = slices.Delete(n.waiters, 0, k)
}

// reserve takes up to k waiting receivers for a sender to hand messages to.
func (n *notifier) reserve(k int) []*waiter {
	n.mu.Lock()
	defer n.mu.Unlock()
	k = min(k, len(n.waiters))
	ws := slices.Clone(n.waiters[:k])
	n.waiters = slices.Delete(n.waiters, 0, k)
	for _, w := range ws {
		w.chosen = true
	}
	return ws
}

// deliver wakes reserved receivers with the messages handed to them.
func (n *notifier) deliver(ws []*waiter) {
	for _, w := range ws {
		close(w.ready)
	}
}

// release wakes reserved receivers with nothing (the sender's transaction
// rolled back): they look again.
func (n *notifier) release(ws []*waiter) {
	n.mu.Lock()
	n.gen++
	n.mu.Unlock()
	for _, w := range ws {
		w.msgs = nil
		close(w.ready)
	}
}

type notifierKey struct {
	db   *sql.DB
	name string
}

var notifiers sync.Map // notifierKey → *notifier

// notifierFor returns the notifier every Queue value of one queue shares.
func notifierFor(db *sql.DB, name string) *notifier {
	n, _ := notifiers.LoadOrStore(notifierKey{db, name}, &notifier{})
	return n.(*notifier)
}
