package engine

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mbits "math/bits"
	"strconv"
	"strings"
	"sync"

	"github.com/borawf/bora/internal/dsl"
)

// book is the engine's bookkeeping, stored as JSON in Execution.Engine. It is
// rewritten on every step, so it holds only what decisions need and nothing
// that grows with the number of finished tasks in a linear workflow: no
// contexts, no results, no per-item structs. Contexts and results live in the
// task and unit records.
type book struct {
	// Seq counts the task executions created (their start order).
	Seq int `json:"seq,omitempty"`
	// Ran marks, by position in the workflow's task order, the tasks that
	// have had a task execution; Count holds how many for those that have
	// had more than one. The latest is "<name>#<count>". (A linear workflow
	// thus costs one bit per task, not a map entry, and none below the low
	// mark of the tasks that all ran: a chain's head stays the same size.)
	Ran   doneSet        `json:"ran,omitzero"`
	Count map[string]int `json:"n,omitempty"`
	// Active are the task executions that have not finished, by creation.
	Active []*run `json:"run,omitempty"`
	// Joins are join tasks waiting for their inbound branches.
	Joins []*join `json:"join,omitempty"`
	// Ends are finished task executions that led nowhere: the workflow's
	// final context is merged from them.
	Ends []string `json:"end,omitempty"`
	// Errs are failed task executions whose error no on-error handled.
	Errs []string `json:"err,omitempty"`
	// Backlog holds the transitions that followed a `pause` command; they
	// are taken on resume. Each is "<from task key>><target>".
	Backlog []string `json:"blog,omitempty"`
	// Plan marks, for a reverse workflow, the planned tasks that succeeded
	// (a bitmap over Workflow.Plan's order).
	Plan string `json:"plan,omitempty"`
	// Canc are task executions that ended CANCELLED.
	Canc []string `json:"canc,omitempty"`
	// Vars are the workflow's vars, evaluated once at the start, with the
	// variables tasks published `global` merged in (absent when there are
	// none). Expressions see them beneath each task's flow.
	Vars json.RawMessage `json:"vars,omitempty"`
	// Timers counts the task-level timers set so far (their ids).
	Timers int `json:"tm,omitempty"`
	// Depth is how deeply the execution is nested: 0 for a top-level
	// execution, its parent's plus one for a sub-workflow.
	Depth int `json:"dp,omitempty"`
	// Root is the top-level execution a sub-workflow runs under; empty
	// for a top-level execution.
	Root string `json:"rt,omitempty"`
	// Applied are short hashes of the last applied events, newest last.
	Applied []string `json:"ev,omitempty"`
	// Outbox is the After of the last applied event, kept encoded: it is
	// decoded only for a redelivered event.
	Outbox json.RawMessage `json:"out,omitempty"`
}

// run is one active task execution.
type run struct {
	Key string `json:"k"`
	// Items is the number of units. 1 for a plain task.
	Items int `json:"i,omitempty"`
	// WI marks a with-items task (its result is a list).
	WI bool `json:"w,omitempty"`
	// Next is how many items have been started (the concurrency window).
	Next int `json:"x,omitempty"`
	// Conc is the with-items concurrency; 0 means all at once.
	Conc int `json:"c,omitempty"`
	// Done is the set of the items whose outcome was applied.
	Done doneSet `json:"d,omitzero"`
	// NDone counts the set bits of Done.
	NDone int `json:"nd,omitempty"`
	// Phase is what the task waits for beyond its units: "" (its units),
	// phasePause (a resume, pause-before), phaseWait (a wait-before or a
	// retry delay of a with-items task), phaseAfter (its wait-after).
	Phase string `json:"p,omitempty"`
	// Timer is the id of the task-level timer the phase waits for.
	Timer int `json:"t,omitempty"`
	// Child marks a task that runs sub-workflows.
	Child bool `json:"ch,omitempty"`
	// Act is the action (or sub-workflow) the units run.
	Act string `json:"act,omitempty"`
	// Ad is the ad-hoc action the task called, when Act is the action
	// at the end of its chain: its output turns Act's results into the
	// task's.
	Ad string `json:"ad,omitempty"`
	// Att is the attempt of the task's units (0 means 1), but for those
	// in Re.
	Att int `json:"at,omitempty"`
	// Re holds the attempt of each unit that was re-run after a lost
	// worker (sparse: lost workers are rare). Every attempt of a unit is
	// one run of its action.
	Re map[int]int `json:"re,omitempty"`
	// Rt counts the retries the task's retry policy has made.
	Rt int `json:"rt,omitempty"`
	// WA is set once the task's wait-after has passed.
	WA bool `json:"wa,omitempty"`
	// Drain marks a task that goes on after a `succeed` or `fail` command
	// ended its execution (keepRunning).
	Drain bool `json:"dr,omitempty"`
}

func (r *run) attempt() int { return max(r.Att, 1) }

// unitAttempt is the current attempt of one item's unit.
func (r *run) unitAttempt(item int) int {
	if a, ok := r.Re[item]; ok {
		return a
	}
	return r.attempt()
}

const (
	phasePause = "pause"
	phaseWait  = "wait"
	phaseAfter = "after"
)

// join is a join task waiting for its inbound tasks.
type join struct {
	Name string `json:"name"`
	// Arrived lists the task executions that triggered the join, in
	// arrival order.
	Arrived []string `json:"from"`
	// Fired is set once the join started its task; later arrivals are
	// absorbed until every inbound task has arrived once.
	Fired bool `json:"fired,omitempty"`
}

func (b *book) find(key string) (int, *run) {
	for i, r := range b.Active {
		if r.Key == key {
			return i, r
		}
	}
	return -1, nil
}

func (b *book) joinOf(name string) *join {
	for _, j := range b.Joins {
		if j.Name == name {
			return j
		}
	}
	return nil
}

// taskIndex maps a workflow's task names to their position in its order.
// Workflows are immutable once compiled, so the map is built once.
var taskIndex sync.Map // *dsl.Workflow → map[string]int

func indexOf(wf *dsl.Workflow, name string) int {
	if m, ok := taskIndex.Load(wf); ok {
		if i, ok := m.(map[string]int)[name]; ok {
			return i
		}
		return -1
	}
	m := make(map[string]int, len(wf.Order))
	for i, n := range wf.Order {
		m[n] = i
	}
	taskIndex.Store(wf, m)
	if i, ok := m[name]; ok {
		return i
	}
	return -1
}

// count is how many task executions a task has had.
func (s *stepper) count(name string) int {
	if n := s.b.Count[name]; n > 0 {
		return n
	}
	if i := indexOf(s.wf, name); i >= 0 && s.b.Ran.has(i) {
		return 1
	}
	return 0
}

// bump counts a new task execution of name and returns its key.
func (s *stepper) bump(name string) string {
	n := s.count(name) + 1
	if n == 1 {
		s.b.Ran.set(indexOf(s.wf, name))
	} else {
		if s.b.Count == nil {
			s.b.Count = make(map[string]int)
		}
		s.b.Count[name] = n
	}
	s.b.Seq++
	return taskKey(name, n)
}

// latest is the key of a task's latest execution, or "".
func (s *stepper) latest(name string) string {
	n := s.count(name)
	if n == 0 {
		return ""
	}
	return taskKey(name, n)
}

func taskKey(name string, n int) string { return name + "#" + strconv.Itoa(n) }

// taskName returns the name part of a task execution key.
func taskName(key string) string {
	if i := strings.LastIndexByte(key, '#'); i >= 0 {
		return key[:i]
	}
	return key
}

func decodeBook(raw json.RawMessage) (*book, error) {
	b := &book{}
	if len(raw) == 0 || string(raw) == "null" {
		return b, nil
	}
	if err := json.Unmarshal(raw, b); err != nil {
		return nil, fmt.Errorf("decode engine state: %w", err)
	}
	return b, nil
}

// maxApplied bounds the memory of applied events.
const maxApplied = 16

// eventHash is the short form of an event id kept in the head.
func eventHash(id string) string {
	s := sha256.Sum256([]byte(id))
	return base64.RawURLEncoding.EncodeToString(s[:9])
}

func (b *book) applied(id string) (seen, last bool) {
	h := eventHash(id)
	for i, a := range b.Applied {
		if a == h {
			return true, i == len(b.Applied)-1
		}
	}
	return false, false
}

func (b *book) remember(id string, after []Effect) error {
	b.Applied = append(b.Applied, eventHash(id))
	if n := len(b.Applied); n > maxApplied {
		b.Applied = append(b.Applied[:0:0], b.Applied[n-maxApplied:]...)
	}
	b.Outbox = nil
	if len(after) > 0 {
		raw, err := json.Marshal(after)
		if err != nil {
			return fmt.Errorf("encode outbox: %w", err)
		}
		b.Outbox = raw
	}
	return nil
}

// outbox decodes the After of the last applied event.
func (b *book) outbox() ([]Effect, error) {
	if len(b.Outbox) == 0 {
		return nil, nil
	}
	var after []Effect
	if err := json.Unmarshal(b.Outbox, &after); err != nil {
		return nil, fmt.Errorf("decode outbox: %w", err)
	}
	return after, nil
}

// bits is a bitmap that encodes to JSON as unpadded base64.
type bits []byte

func (b bits) has(i int) bool {
	return i/8 < len(b) && b[i/8]&(1<<(i%8)) != 0
}

func (b *bits) set(i int) {
	for len(*b) <= i/8 {
		*b = append(*b, 0)
	}
	(*b)[i/8] |= 1 << (i % 8)
}

func (b bits) MarshalJSON() ([]byte, error) {
	return json.Marshal(base64.RawStdEncoding.EncodeToString(b))
}

func (b *bits) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	v, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("bitmap: %w", err)
	}
	*b = v
	return nil
}

// doneSet is the set of a task's items whose outcome was applied: every
// item below lo, and those from lo on in a bitmap. Items mostly end in the
// order they started, so lo follows them, and the bitmap holds about the
// items in flight rather than every item of the task: the head stays small
// (and a commit one write unit) however many items a task has.
//
// It encodes to JSON as the bitmap's unpadded base64, prefixed with
// "<lo>:" when lo is not 0 (a bitmap alone is a set with lo 0).
type doneSet struct {
	lo int
	b  bits // items lo, lo+1, ...
}

func (d doneSet) has(i int) bool { return i < d.lo || d.b.has(i-d.lo) }

func (d *doneSet) set(i int) {
	if i < d.lo {
		return
	}
	d.b.set(i - d.lo)
	n := 0
	for n < len(d.b) && d.b[n] == 0xff {
		n++
	}
	if n > 0 {
		d.b = append(bits(nil), d.b[n:]...)
		d.lo += 8 * n
	}
}

// below counts the items under n that are in the set.
func (d doneSet) below(n int) int {
	if n <= d.lo {
		return n
	}
	c := d.lo
	m := n - d.lo // bits of b to count
	for i, x := range d.b {
		if 8*i >= m {
			break
		}
		if k := m - 8*i; k < 8 {
			x &= byte(1<<k - 1)
		}
		c += mbits.OnesCount8(x)
	}
	return c
}

func (d doneSet) MarshalJSON() ([]byte, error) {
	s := d.b.String()
	if d.lo > 0 {
		s = strconv.Itoa(d.lo) + ":" + s
	}
	return json.Marshal(s)
}

func (d *doneSet) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	*d = doneSet{}
	if lo, rest, ok := strings.Cut(s, ":"); ok {
		n, err := strconv.Atoi(lo)
		if err != nil || n < 0 {
			return fmt.Errorf("done set %q: bad low mark", s)
		}
		d.lo, s = n, rest
	}
	v, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("done set: %w", err)
	}
	d.b = v
	return nil
}

// planBits encodes a reverse workflow's bitmap in a string field.
func planBits(s string) bits {
	v, _ := base64.RawStdEncoding.DecodeString(s)
	return v
}

func (b bits) String() string { return base64.RawStdEncoding.EncodeToString(b) }

// digest hashes parts into a short hex token.
func digest(n int, parts ...string) string {
	h := sha256.New()
	var buf [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(buf[:], uint64(len(p)))
		h.Write(buf[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))[:n]
}

// Fence is the token of one attempt of a unit, derived from the event that
// scheduled it, so that a replayed step writes the same fence.
func Fence(eventID, task string, item, attempt int) string {
	return digest(16, eventID, task, strconv.Itoa(item), strconv.Itoa(attempt))
}

// ChildID is the id of the sub-workflow execution that runs one attempt of
// a unit of a parent execution. It is shaped like a UUID.
func ChildID(parentID, task string, item, attempt int) string {
	h := digest(32, "child", parentID, task, strconv.Itoa(item), strconv.Itoa(attempt))
	return h[0:8] + "-" + h[8:12] + "-8" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}

// parentKey names a parent's unit in a child's head.
func parentKey(task string, item int) string { return task + "/" + strconv.Itoa(item) }

// ParseParentKey splits a child's ParentKey into the parent's task
// execution key and item.
func ParseParentKey(s string) (task string, item int, ok bool) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(s[i+1:])
	if err != nil {
		return "", 0, false
	}
	return s[:i], n, true
}
