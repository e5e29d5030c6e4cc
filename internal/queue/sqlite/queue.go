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

	mu    sync.Mutex
	stmts map[string]*sql.Stmt
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
CREATE INDEX IF NOT EXISTS queue_messages_group ON queue_messages (queue, grp, seq);
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
	q := &Queue{db: db, name: name, o: o, now: o.Now, wake: notifierFor(db, name), stmts: map[string]*sql.Stmt{}}
	if q.now == nil {
		q.now = time.Now
	}
	if o.DeadLetter != "" {
		q.dwake = notifierFor(db, o.DeadLetter)
	}
	return q, nil
}

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

func (q *Queue) stmt(ctx context.Context, s string) (*sql.Stmt, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if st, ok := q.stmts[s]; ok {
		return st, nil
	}
	st, err := q.db.PrepareContext(ctx, s)
	if err != nil {
		return nil, err
	}
	q.stmts[s] = st
	return st, nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// Send implements queue.Queue. All messages are checked before any is sent;
// each batch of queue.MaxBatch is written atomically.
func (q *Queue) Send(ctx context.Context, msgs ...queue.Out) error {
	for i, m := range msgs {
		if err := q.check(m); err != nil {
			return fmt.Errorf("send to %s: message %d: %w", q.name, i, err)
		}
	}
	for batch := range slices.Chunk(msgs, queue.MaxBatch) {
		var err error
		if q.o.FIFO {
			err = q.sendFIFO(ctx, batch)
		} else {
			err = q.sendStandard(ctx, batch)
		}
		if err != nil {
			return fmt.Errorf("send to %s: %w", q.name, err)
		}
	}
	if len(msgs) > 0 {
		q.wake.notify()
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

func (q *Queue) sendStandard(ctx context.Context, batch []queue.Out) error {
	now := ms(q.now())
	var b strings.Builder
	b.WriteString(`INSERT INTO queue_messages (queue, grp, body, sent_at, visible_at, receive_count) VALUES `)
	args := make([]any, 0, 5*len(batch))
	for i, m := range batch {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, 0)")
		args = append(args, q.name, m.Group, m.Body, now, now+m.Delay.Milliseconds())
	}
	st, err := q.stmt(ctx, b.String())
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, args...)
	return err
}

// sendFIFO writes a batch in one transaction: each message is kept only if
// its deduplication id was not seen within the window.
func (q *Queue) sendFIFO(ctx context.Context, batch []queue.Out) error {
	dedup, err := q.stmt(ctx, `INSERT INTO queue_dedup (queue, dedup_id, expires_at) VALUES (?, ?, ?)
		ON CONFLICT DO UPDATE SET expires_at = excluded.expires_at WHERE queue_dedup.expires_at <= ?`)
	if err != nil {
		return err
	}
	insert, err := q.stmt(ctx, `INSERT INTO queue_messages (queue, grp, body, sent_at, visible_at, receive_count)
		VALUES (?, ?, ?, ?, ?, 0)`)
	if err != nil {
		return err
	}
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	nowT := q.now()
	now := ms(nowT)
	if q.sends.Add(1)%64 == 0 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM queue_dedup WHERE queue = ? AND expires_at <= ?`, q.name, now); err != nil {
			return err
		}
	}
	for _, m := range batch {
		id := m.DedupID
		if id == "" {
			// Content-based deduplication, as SQS does when enabled.
			sum := sha256.Sum256(m.Body)
			id = "sha256:" + hex.EncodeToString(sum[:])
		}
		res, err := tx.StmtContext(ctx, dedup).ExecContext(ctx, q.name, id, ms(nowT.Add(DedupWindow)), now)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue // a duplicate within the window
		}
		if _, err := tx.StmtContext(ctx, insert).ExecContext(ctx, q.name, m.Group, m.Body, now, now); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Receive implements queue.Queue.
func (q *Queue) Receive(ctx context.Context, n int, wait, visibility time.Duration) ([]queue.Message, error) {
	n = min(cmp.Or(n, 1), queue.MaxBatch)
	if n < 1 || visibility < 0 || visibility > MaxVisibility || wait < 0 {
		return nil, fmt.Errorf("receive from %s: max %d, wait %v, visibility %v: %w", q.name, n, wait, visibility, queue.ErrInvalid)
	}
	deadline := time.Now().Add(wait)
	for {
		woken := q.wake.wait() // before looking, so that no send is missed
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
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		sleep := min(left, q.o.Poll)
		if next, ok, err := q.nextVisible(ctx); err != nil {
			return nil, fmt.Errorf("receive from %s: %w", q.name, err)
		} else if ok {
			sleep = max(min(sleep, next.Sub(q.now())), time.Millisecond)
		}
		timer := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, fmt.Errorf("receive from %s: %w", q.name, ctx.Err())
		case <-woken:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// receiveOnce hands out up to n visible messages in one statement, and
// moves those received MaxReceives times to the dead-letter queue.
func (q *Queue) receiveOnce(ctx context.Context, n int, visibility time.Duration) (msgs []queue.Message, moved bool, err error) {
	pick := `SELECT seq FROM queue_messages WHERE queue = ?1 AND visible_at <= ?2 ORDER BY visible_at, seq LIMIT ?3`
	if q.o.FIFO {
		// The first message of each group, if it is visible. The groups
		// are walked one index probe each (a group's messages are not
		// scanned: one execution's group may hold thousands).
		pick = `WITH RECURSIVE g(grp) AS (
				SELECT (SELECT min(grp) FROM queue_messages WHERE queue = ?1)
				UNION ALL
				SELECT (SELECT min(grp) FROM queue_messages WHERE queue = ?1 AND grp > g.grp) FROM g WHERE g.grp IS NOT NULL
			)
			SELECT m.seq FROM g JOIN queue_messages m
				ON m.seq = (SELECT seq FROM queue_messages WHERE queue = ?1 AND grp = g.grp ORDER BY seq LIMIT 1)
			WHERE g.grp IS NOT NULL AND m.visible_at <= ?2 ORDER BY m.seq LIMIT ?3`
	}
	var set string
	args := []any{q.name, nil, n, nil}
	if q.o.DeadLetter == "" {
		set = `receive_count = receive_count + 1, visible_at = ?4`
	} else {
		dead := `receive_count >= ?5`
		set = `queue = CASE WHEN ` + dead + ` THEN ?6 ELSE queue END,
			receive_count = CASE WHEN ` + dead + ` THEN receive_count ELSE receive_count + 1 END,
			visible_at = CASE WHEN ` + dead + ` THEN ?2 ELSE ?4 END`
		args = append(args, q.o.MaxReceives, q.o.DeadLetter)
	}
	st, err := q.stmt(ctx, `UPDATE queue_messages SET `+set+` WHERE seq IN (`+pick+`)
		RETURNING seq, queue, grp, body, sent_at, receive_count`)
	if err != nil {
		return nil, false, err
	}
	// The visibility timeout starts when the messages are handed out, so
	// the clock is read once this process holds the write lock.
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, err
	}
	defer tx.Rollback()
	now := ms(q.now())
	args[1], args[3] = now, now+visibility.Milliseconds()
	rows, err := tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var seqs []int64
	for rows.Next() {
		var seq, sent int64
		var qname string
		var m queue.Message
		if err := rows.Scan(&seq, &qname, &m.Group, &m.Body, &sent, &m.ReceiveCount); err != nil {
			return nil, false, err
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
		return nil, false, err
	}
	if err := rows.Close(); err != nil {
		return nil, false, err
	}
	if err := tx.Commit(); err != nil {
		return nil, false, err
	}
	if moved {
		q.dwake.notify()
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

// nextVisible returns when the next hidden message of the queue becomes
// visible, if one is hidden.
func (q *Queue) nextVisible(ctx context.Context) (time.Time, bool, error) {
	st, err := q.stmt(ctx, `SELECT min(visible_at) FROM queue_messages WHERE queue = ? AND visible_at > ?`)
	if err != nil {
		return time.Time{}, false, err
	}
	var next sql.NullInt64
	if err := st.QueryRowContext(ctx, q.name, ms(q.now())).Scan(&next); err != nil {
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
	for batch := range slices.Chunk(handles, queue.MaxBatch) {
		// The seq list finds the rows by key; the pairs then check that
		// each was received by the handle's receive.
		args := []any{q.name}
		var pairs []any
		for _, h := range batch {
			seq, count, err := parseHandle(h)
			if err != nil {
				return fmt.Errorf("delete from %s: %w", q.name, err)
			}
			args = append(args, seq)
			pairs = append(pairs, seq, count)
		}
		args = append(args, pairs...)
		st, err := q.stmt(ctx, `DELETE FROM queue_messages WHERE queue = ? AND seq IN (?`+strings.Repeat(", ?", len(batch)-1)+
			`) AND (seq, receive_count) IN (VALUES `+strings.Repeat("(?, ?), ", len(batch)-1)+`(?, ?))`)
		if err != nil {
			return fmt.Errorf("delete from %s: %w", q.name, err)
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("delete from %s: %w", q.name, err)
		}
	}
	if q.o.FIFO && len(handles) > 0 {
		q.wake.notify() // a group's next message may be free now
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
	st, err := q.stmt(ctx, `UPDATE queue_messages SET visible_at = ? WHERE seq = ? AND queue = ? AND receive_count = ?`)
	if err != nil {
		return fmt.Errorf("change visibility on %s: %w", q.name, err)
	}
	res, err := st.ExecContext(ctx, ms(q.now().Add(d)), seq, q.name, count)
	if err != nil {
		return fmt.Errorf("change visibility on %s: %w", q.name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("change visibility on %s: %w", q.name, ErrNotInFlight)
	}
	if d == 0 {
		q.wake.notify()
	}
	return nil
}

// A notifier wakes the waiting receivers of one queue in this process.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed at the next notify.
func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

func (n *notifier) notify() {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
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
