package dynamo

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

// item is one DynamoDB item.
type item = map[string]types.AttributeValue

// Attribute names. They are short because DynamoDB bills every byte of
// every attribute name on every write.
const (
	aPK  = "pk"
	aSK  = "sk"
	aTTL = "ttl"

	// executions-by-state index (sparse: heads only)
	aStatePK = "gpk" // "ST#<state>", "ST#<state>#<shard>"
	aStateSK = "gsk" // "<created unix ns, 20 digits>#<id>"
	// due-executions index (sparse: heads with a Due)
	aDuePK = "dpk" // "DUE#<shard>"
	aDueSK = "dsk" // the head's Due, unix ns (N)

	// bsz is the size in bytes of a unit or task item without the fields
	// that later writes add (outcome, final fields). Conditions on it let
	// one UpdateItem refuse a write that would grow the item over the limit.
	aBaseSize = "bsz"

	aWorkflow  = "wf"
	aDefName   = "def"
	aDefVer    = "dver"
	aParent    = "parent"
	aParentKey = "pkey"
	aState     = "state"
	aStateInfo = "info"
	aVersion   = "ver"
	aInput     = "in"
	aEnv       = "env"
	aParams    = "params"
	aOutput    = "out"
	aEngine    = "eng"
	aCreated   = "created"
	aUpdated   = "updated"

	aName      = "name"
	aSeq       = "seq"
	aItems     = "items"
	aWithItems = "wi"
	aInbound   = "inb"
	aPublished = "pub"
	aResult    = "res"
	aError     = "err"
	aChild     = "child"
	aFinished  = "fin"

	aAttempt = "att"
	aFence   = "fence"
	aAction  = "act"
	aTimeout = "tmo"
	aDue     = "due"
	aNoRetry = "noretry"
	aStarted = "start"

	aSource = "src"

	// A task's item holds its unit of item 0 beside the task's own fields;
	// these name the unit's attributes that a task has too.
	aUnitState    = "us"
	aUnitResult   = "ures"
	aUnitError    = "uerr"
	aUnitFinished = "ufin"
	aUnitEnds     = "uend"

	// wt is the token of the last conditional write (see newToken).
	aToken = "wt"
)

const (
	indexByState = "by-state"
	indexDue     = "by-due"
)

// unitNames are the names of the unit attributes that differ between a
// unit's own item and its task's item (item 0).
type unitNames struct{ state, result, err, finished string }

var (
	ownNames  = unitNames{aState, aResult, aError, aFinished}
	zeroNames = unitNames{aUnitState, aUnitResult, aUnitError, aUnitFinished}
)

// namesOf tells where unit k lives: its task's item for item 0, its own
// item for the others.
func namesOf(k record.UnitKey) unitNames {
	if k.Item == 0 {
		return zeroNames
	}
	return ownNames
}

// Keys.

func execPK(id string) string       { return "EX#" + id }
func defPK(name string) string      { return "WF#" + name }
func defSK(ver int) string          { return fmt.Sprintf("V#%010d", ver) }
func taskSK(key string) string      { return "T#" + key }
func unitPrefix(task string) string { return "U#" + task + "#" }

const metaSK = "META"

// unitSK zero-pads the item so that units list in item order.
func unitSK(task string, item int) string { return fmt.Sprintf("U#%s#%09d", task, item) }

func key(pk, sk string) item { return item{aPK: str(pk), aSK: str(sk)} }

// unitKey is the key of the item that holds unit k: its task's for item 0.
func unitKey(k record.UnitKey) item {
	if k.Item == 0 {
		return key(execPK(k.ExecID), taskSK(k.Task))
	}
	return key(execPK(k.ExecID), unitSK(k.Task, k.Item))
}

func stateSK(created time.Time, id string) string {
	return fmt.Sprintf("%020d#%s", created.UnixNano(), id)
}

// shardOf spreads executions over n partitions by a hash of their id.
func shardOf(execID string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(execID))
	return int(h.Sum32() % uint32(n))
}

// dueShard spreads the due index over shards partitions by execution.
func dueShard(execID string, shards int) string {
	return "DUE#" + strconv.Itoa(shardOf(execID, shards))
}

// stateShard is a head's partition of the by-state index: its state, and
// one of shards partitions by execution. Shard 0 is "ST#<state>", the
// partition every head of a state had before the index was sharded, so
// that the heads a table already holds are listed with the others.
func stateShard(st record.ExecState, execID string, shards int) string {
	return statePartition(st, shardOf(execID, shards))
}

func statePartition(st record.ExecState, shard int) string {
	if shard == 0 {
		return "ST#" + string(st)
	}
	return "ST#" + string(st) + "#" + strconv.Itoa(shard)
}

// Attribute values.

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// raw encodes JSON bytes byte-exact: as a string when they are valid UTF-8
// (always, for JSON the engine wrote), else as binary.
func raw(b []byte) types.AttributeValue {
	if utf8.Valid(b) {
		return &types.AttributeValueMemberS{Value: string(b)}
	}
	return &types.AttributeValueMemberB{Value: b}
}

// builder accumulates the attributes of an item, leaving out zero values.
type builder struct{ it item }

func newItem(pk, sk string) builder { return builder{it: key(pk, sk)} }

func (b builder) s(name, v string) {
	if v != "" {
		b.it[name] = str(v)
	}
}

func (b builder) n(name string, v int64) {
	if v != 0 {
		b.it[name] = num(v)
	}
}

func (b builder) t(name string, v time.Time) {
	if !v.IsZero() {
		b.it[name] = num(v.UnixNano())
	}
}

func (b builder) raw(name string, v []byte) {
	if v != nil {
		b.it[name] = raw(v)
	}
}

func (b builder) bool(name string, v bool) {
	if v {
		b.it[name] = &types.AttributeValueMemberBOOL{Value: true}
	}
}

// reader decodes attributes, remembering the first malformed one.
type reader struct {
	it  item
	err error
}

func (r *reader) fail(name string, v types.AttributeValue) {
	if r.err == nil {
		r.err = fmt.Errorf("attribute %s has unexpected value %T", name, v)
	}
}

func (r *reader) s(name string) string {
	v, ok := r.it[name]
	if !ok {
		return ""
	}
	s, ok := v.(*types.AttributeValueMemberS)
	if !ok {
		r.fail(name, v)
		return ""
	}
	return s.Value
}

func (r *reader) n(name string) int64 {
	v, ok := r.it[name]
	if !ok {
		return 0
	}
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		r.fail(name, v)
		return 0
	}
	i, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("attribute %s: %w", name, err)
	}
	return i
}

func (r *reader) t(name string) time.Time {
	if _, ok := r.it[name]; !ok {
		return time.Time{}
	}
	return time.Unix(0, r.n(name)).UTC()
}

func (r *reader) raw(name string) json.RawMessage {
	switch v := r.it[name].(type) {
	case nil:
		return nil
	case *types.AttributeValueMemberS:
		return json.RawMessage(v.Value)
	case *types.AttributeValueMemberB:
		return json.RawMessage(v.Value)
	default:
		r.fail(name, v)
		return nil
	}
}

func (r *reader) bytes(name string) []byte { return r.raw(name) }

func (r *reader) bool(name string) bool {
	v, ok := r.it[name]
	if !ok {
		return false
	}
	b, ok := v.(*types.AttributeValueMemberBOOL)
	if !ok {
		r.fail(name, v)
		return false
	}
	return b.Value
}

// Records.

func (s *Store) encodeExec(e *record.Execution) item {
	b := newItem(execPK(e.ID), metaSK)
	b.s(aStatePK, stateShard(e.State, e.ID, s.stateShards))
	b.s(aStateSK, stateSK(e.CreatedAt, e.ID))
	b.s(aWorkflow, e.Workflow)
	b.s(aDefName, e.DefName)
	b.n(aDefVer, int64(e.DefVer))
	b.s(aParent, e.ParentID)
	b.s(aParentKey, e.ParentKey)
	b.s(aState, string(e.State))
	b.s(aStateInfo, e.StateInfo)
	b.it[aVersion] = num(e.Version)
	b.raw(aInput, e.Input)
	b.raw(aEnv, e.Env)
	b.raw(aParams, e.Params)
	b.raw(aOutput, e.Output)
	b.raw(aEngine, e.Engine)
	b.t(aCreated, e.CreatedAt)
	b.t(aUpdated, e.UpdatedAt)
	if !e.Due.IsZero() {
		b.s(aDuePK, dueShard(e.ID, s.dueShards))
		b.t(aDueSK, e.Due)
	}
	if e.State.Terminal() {
		b.n(aTTL, s.expiry(e.UpdatedAt))
	}
	return b.it
}

func decodeExec(it item) (*record.Execution, error) {
	r := reader{it: it}
	e := &record.Execution{
		ID:        strings.TrimPrefix(r.s(aPK), "EX#"),
		Workflow:  r.s(aWorkflow),
		DefName:   r.s(aDefName),
		DefVer:    int(r.n(aDefVer)),
		ParentID:  r.s(aParent),
		ParentKey: r.s(aParentKey),
		State:     record.ExecState(r.s(aState)),
		StateInfo: r.s(aStateInfo),
		Version:   r.n(aVersion),
		Input:     r.raw(aInput),
		Env:       r.raw(aEnv),
		Params:    r.raw(aParams),
		Output:    r.raw(aOutput),
		Engine:    r.raw(aEngine),
		Due:       r.t(aDueSK),
		CreatedAt: r.t(aCreated),
		UpdatedAt: r.t(aUpdated),
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode execution %s: %w", e.ID, r.err)
	}
	return e, nil
}

// taskFinalAttrs are the attributes FinishTask writes.
var taskFinalAttrs = []string{aStateInfo, aPublished, aResult, aError, aChild, aFinished, aTTL}

// unitOutcomeAttrs are the attributes an outcome write adds to a unit's
// item, and zeroOutcomeAttrs those it adds to a task's item (item 0).
var (
	unitOutcomeAttrs = []string{aResult, aError}
	zeroOutcomeAttrs = []string{aUnitResult, aUnitError}
)

// encodeTask encodes a task, with its unit of item 0 when it has one. bsz
// is the size of what neither the final fields nor the unit's outcome add.
func (s *Store) encodeTask(t *record.Task) item {
	b := newItem(execPK(t.ExecID), taskSK(t.Key))
	b.s(aName, t.Name)
	b.n(aSeq, int64(t.Seq))
	b.s(aState, string(t.State))
	b.s(aStateInfo, t.StateInfo)
	b.n(aItems, int64(t.Items))
	b.bool(aWithItems, t.WithItems)
	b.bool(aUnitEnds, t.UnitEnds)
	b.raw(aInbound, t.Inbound)
	b.raw(aPublished, t.Published)
	b.raw(aResult, t.Result)
	b.raw(aError, t.Error)
	b.s(aChild, t.ChildID)
	b.t(aCreated, t.CreatedAt)
	b.t(aFinished, t.FinishedAt)
	expires := t.State.Terminal()
	if t.Unit != nil {
		s.putUnit(b, t.Unit, zeroNames)
		expires = expires || t.UnitEnds && t.Unit.State.Terminal()
	}
	if expires {
		b.n(aTTL, s.expiry(t.FinishedAt))
	}
	b.n(aBaseSize, int64(itemSize(without(b.it, append(taskFinalAttrs, zeroOutcomeAttrs...)...))))
	return b.it
}

func decodeTask(it item) (*record.Task, error) {
	r := reader{it: it}
	t := &record.Task{
		ExecID:     strings.TrimPrefix(r.s(aPK), "EX#"),
		Key:        strings.TrimPrefix(r.s(aSK), "T#"),
		Name:       r.s(aName),
		Seq:        int(r.n(aSeq)),
		State:      record.State(r.s(aState)),
		StateInfo:  r.s(aStateInfo),
		Items:      int(r.n(aItems)),
		WithItems:  r.bool(aWithItems),
		UnitEnds:   r.bool(aUnitEnds),
		Inbound:    r.raw(aInbound),
		Published:  r.raw(aPublished),
		Result:     r.raw(aResult),
		Error:      r.raw(aError),
		ChildID:    r.s(aChild),
		CreatedAt:  r.t(aCreated),
		FinishedAt: r.t(aFinished),
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode task %s/%s: %w", t.ExecID, t.Key, r.err)
	}
	if _, ok := it[aUnitState]; ok {
		u, err := readUnit(it, record.UnitKey{ExecID: t.ExecID, Task: t.Key}, zeroNames)
		if err != nil {
			return nil, err
		}
		t.Unit = u
	}
	return t, nil
}

func (s *Store) encodeUnit(u *record.Unit) item {
	b := newItem(execPK(u.ExecID), unitSK(u.Task, u.Item))
	s.putUnit(b, u, ownNames)
	if u.State.Terminal() {
		b.n(aTTL, s.expiry(u.Finished))
	}
	b.n(aBaseSize, int64(itemSize(without(b.it, unitOutcomeAttrs...))))
	return b.it
}

// putUnit adds a unit's attributes to an item under the names n.
func (s *Store) putUnit(b builder, u *record.Unit, n unitNames) {
	b.s(n.state, string(u.State))
	b.it[aAttempt] = num(int64(u.Attempt))
	b.s(aFence, u.Fence)
	b.s(aAction, u.Action)
	b.raw(aInput, u.Input)
	b.n(aTimeout, int64(u.Timeout))
	b.t(aDue, u.Due)
	b.raw(n.result, u.Result)
	b.raw(n.err, u.Error)
	b.bool(aNoRetry, u.NoRetry)
	b.t(aStarted, u.Started)
	b.t(n.finished, u.Finished)
}

// decodeUnit decodes a unit from its own item, or item 0 from its task's.
func decodeUnit(it item) (*record.Unit, error) {
	r := reader{it: it}
	execID := strings.TrimPrefix(r.s(aPK), "EX#")
	sk := r.s(aSK)
	if task, ok := strings.CutPrefix(sk, "T#"); ok {
		return readUnit(it, record.UnitKey{ExecID: execID, Task: task}, zeroNames)
	}
	sk = strings.TrimPrefix(sk, "U#")
	i := strings.LastIndexByte(sk, '#')
	if i < 0 {
		return nil, fmt.Errorf("decode unit %s: malformed sort key %q", execID, sk)
	}
	n, err := strconv.Atoi(sk[i+1:])
	if err != nil {
		return nil, fmt.Errorf("decode unit %s: malformed sort key %q: %w", execID, sk, err)
	}
	return readUnit(it, record.UnitKey{ExecID: execID, Task: sk[:i], Item: n}, ownNames)
}

func readUnit(it item, k record.UnitKey, n unitNames) (*record.Unit, error) {
	r := reader{it: it}
	u := &record.Unit{
		UnitKey:  k,
		State:    record.State(r.s(n.state)),
		Attempt:  int(r.n(aAttempt)),
		Fence:    r.s(aFence),
		Action:   r.s(aAction),
		Input:    r.raw(aInput),
		Timeout:  time.Duration(r.n(aTimeout)),
		Due:      r.t(aDue),
		Result:   r.raw(n.result),
		Error:    r.raw(n.err),
		NoRetry:  r.bool(aNoRetry),
		Started:  r.t(aStarted),
		Finished: r.t(n.finished),
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode unit %s: %w", u.UnitKey, r.err)
	}
	return u, nil
}

// expiry is the TTL of an item that finished at t, or 0 without retention.
func (s *Store) expiry(t time.Time) int64 {
	if s.retention <= 0 {
		return 0
	}
	if t.IsZero() {
		t = s.now()
	}
	return t.Add(s.retention).Unix()
}

// Sizes, as DynamoDB counts them: attribute names plus values.

func without(it item, names ...string) item {
	out := make(item, len(it))
	for k, v := range it {
		out[k] = v
	}
	for _, n := range names {
		delete(out, n)
	}
	return out
}

// ItemSize is an item's size as DynamoDB counts it for its limit and its
// capacity units: each attribute's name and value.
func ItemSize(it map[string]types.AttributeValue) int { return itemSize(it) }

func itemSize(it item) int {
	n := 0
	for k, v := range it {
		n += len(k) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return (len(strings.TrimLeft(v.Value, "-0"))+1)/2 + 1
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range v.Value {
			n += 1 + len(k) + valueSize(e)
		}
		return n
	}
	return 0
}

func checkSize(what string, it item) error {
	if n := itemSize(it); n > store.MaxItemBytes {
		return &store.TooLargeError{What: what, Size: n, Limit: store.MaxItemBytes}
	}
	return nil
}
