package dynamo

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

func isExists(err error) bool { return errors.Is(err, store.ErrExists) }

// CreateExecution writes a new head; ErrExists if the id is taken.
func (s *Store) CreateExecution(ctx context.Context, e *record.Execution) error {
	return s.create(ctx, "execution "+e.ID, s.encodeExec(e))
}

// GetExecution reads a head with a strongly consistent read.
func (s *Store) GetExecution(ctx context.Context, id string) (*record.Execution, error) {
	it, err := s.get(ctx, key(execPK(id), metaSK))
	if err != nil {
		return nil, fmt.Errorf("get execution %s: %w", id, err)
	}
	if it == nil {
		return nil, fmt.Errorf("execution %s: %w", id, store.ErrNotFound)
	}
	return decodeExec(it)
}

// CommitExecution replaces the head if the stored version is e.Version-1.
// This is the engine's commit point: one PutItem conditional on the version.
func (s *Store) CommitExecution(ctx context.Context, e *record.Execution) error {
	what := "execution " + e.ID
	it := s.encodeExec(e)
	if err := checkSize(what, it); err != nil {
		return err
	}
	tok := newToken()
	it[aToken] = tok
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           &s.table,
		Item:                                it,
		ConditionExpression:                 ptr("#ver = :prev"),
		ExpressionAttributeNames:            names(aVersion),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":prev": num(e.Version - 1)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		ReturnConsumedCapacity:              capacity,
	})
	if old, ok := conditionFailed(err); ok {
		if old == nil {
			return fmt.Errorf("commit %s: %w", what, store.ErrNotFound)
		}
		if ownWrite(old, tok) {
			return nil
		}
		r := reader{it: old}
		return fmt.Errorf("commit %s version %d: stored version is %d, want %d: %w",
			what, e.Version, r.n(aVersion), e.Version-1, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("commit %s: %w", what, translate(what, err))
	}
	return nil
}

var allStates = []record.ExecState{record.ExecRunning, record.ExecPaused, record.ExecSuccess, record.ExecError, record.ExecCancelled}

// maxCursorBytes bounds a decoded cursor: a sort key of the index (a time
// and an execution id).
const maxCursorBytes = 512

// cursorRE matches a decoded cursor: the by-state sort key of the last head.
var cursorRE = regexp.MustCompile(`^[0-9]{20}#.+$`)

// ListExecutions pages through heads newest first. It merges the
// partitions of the by-state index (each state's shards; every state's
// without a state); the cursor is the index sort key of the last head
// listed, which orders heads across partitions. The time range is a range
// of that sort key. The workflow is not in the index: heads are read and
// filtered, a bounded number per call (maxListScan), so such a page may
// come back short, with a cursor to go on from.
func (s *Store) ListExecutions(ctx context.Context, q store.ListQuery) ([]*record.Execution, string, error) {
	limit := cmp.Or(max(q.Limit, 0), 100)
	var before string // exclusive upper bound of the sort key
	if q.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || !cursorRE.Match(b) || len(b) > maxCursorBytes {
			return nil, "", fmt.Errorf("list executions: cursor %q: %w", q.Cursor, store.ErrBadCursor)
		}
		before = string(b)
	}
	if !q.Until.IsZero() {
		// "<ns>#id" < "<until ns>" exactly when ns < until.
		if u := fmt.Sprintf("%020d", q.Until.UnixNano()); before == "" || u < before {
			before = u
		}
	}
	var since string // inclusive lower bound
	if !q.Since.IsZero() {
		since = fmt.Sprintf("%020d", q.Since.UnixNano())
	}
	batch := limit + 1
	if q.Workflow != "" {
		batch = max(batch, 100)
	}
	var page []listed
	for scanned := 0; ; {
		refs, more, err := s.headRefs(ctx, q, before, since, batch)
		if err != nil {
			return nil, "", err
		}
		heads, err := s.readHeads(ctx, q, refs)
		if err != nil {
			return nil, "", err
		}
		for _, h := range heads {
			page = append(page, h)
			if len(page) > limit {
				return unlisted(page[:limit]), cursorOf(page[limit-1].sk), nil
			}
		}
		if !more {
			return unlisted(page), "", nil
		}
		before = refs[len(refs)-1].sk
		if scanned += len(refs); scanned >= maxListScan {
			return unlisted(page), cursorOf(before), nil
		}
	}
}

// maxListScan bounds the index entries one ListExecutions call looks at
// when it filters by workflow.
const maxListScan = 1000

// headRef is a head as the by-state index lists it.
type headRef struct{ id, sk string }

// listed is a head read for a listing, with its index sort key.
type listed struct {
	*record.Execution
	sk string
}

func unlisted(l []listed) []*record.Execution {
	out := make([]*record.Execution, len(l))
	for i, h := range l {
		out[i] = h.Execution
	}
	return out
}

func cursorOf(sk string) string { return base64.RawURLEncoding.EncodeToString([]byte(sk)) }

// headRefs lists up to n heads of the by-state index with a sort key below
// before ("" for no bound) and at or above since, newest first, merged over
// the partitions (states and their shards) q asks for; more says that
// there are further ones.
func (s *Store) headRefs(ctx context.Context, q store.ListQuery, before, since string, n int) ([]headRef, bool, error) {
	states := allStates
	if q.State != "" {
		states = []record.ExecState{q.State}
	}
	var refs []headRef
	seen := map[string]bool{}
	more := false
	var partitions []string
	for _, st := range states {
		for shard := range s.stateShards {
			partitions = append(partitions, statePartition(st, shard))
		}
	}
	for _, part := range partitions {
		cond := "#gpk = :gpk"
		nm := names(aStatePK)
		values := map[string]types.AttributeValue{":gpk": str(part)}
		if before != "" {
			cond += " AND #gsk < :before"
			nm["#"+aStateSK] = aStateSK
			values[":before"] = str(before)
		}
		in := &dynamodb.QueryInput{
			TableName:                 &s.table,
			IndexName:                 ptr(indexByState),
			KeyConditionExpression:    &cond,
			ExpressionAttributeNames:  nm,
			ExpressionAttributeValues: values,
			ScanIndexForward:          ptr(false),
			Limit:                     ptr(int32(n)),
			ReturnConsumedCapacity:    capacity,
		}
		var got int
	pages:
		for got < n {
			out, err := s.db.Query(ctx, in)
			if err != nil {
				return nil, false, fmt.Errorf("list executions in %s: %w", part, err)
			}
			for _, it := range out.Items {
				r := reader{it: it}
				sk := r.s(aStateSK)
				if sk < since {
					break pages
				}
				id := strings.TrimPrefix(r.s(aPK), "EX#")
				// A head that changed state between two of these
				// queries can be seen under both.
				if (q.TopLevel && r.s(aParent) != "") || seen[id] {
					continue
				}
				seen[id] = true
				refs = append(refs, headRef{id: id, sk: sk})
				if got++; got == n {
					more = true
					break pages
				}
			}
			if len(out.LastEvaluatedKey) == 0 {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	slices.SortFunc(refs, func(a, b headRef) int { return strings.Compare(b.sk, a.sk) })
	if len(refs) > n {
		refs, more = refs[:n], true
	}
	return refs, more, nil
}

// readHeads reads the heads refs name, in their order, keeping those that
// q asks for.
func (s *Store) readHeads(ctx context.Context, q store.ListQuery, refs []headRef) ([]listed, error) {
	keys := make([]item, len(refs))
	for i, r := range refs {
		keys[i] = key(execPK(r.id), metaSK)
	}
	items, err := s.batchGet(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("list executions: %w", err)
	}
	byID := make(map[string]*record.Execution, len(items))
	for _, it := range items {
		e, err := decodeExec(it)
		if err != nil {
			return nil, err
		}
		byID[e.ID] = e
	}
	out := make([]listed, 0, len(refs))
	for _, r := range refs {
		e, ok := byID[r.id]
		// The index is eventually consistent: a head that has moved to
		// another state since is listed under that state instead.
		if !ok || (q.State != "" && e.State != q.State) {
			continue
		}
		if q.Workflow != "" && e.DefName != q.Workflow && e.Workflow != q.Workflow {
			continue
		}
		out = append(out, listed{Execution: e, sk: r.sk})
	}
	return out, nil
}

// DueExecutions lists up to limit heads whose Due is at or before now,
// earliest first, from the by-due index (spread over the due shards), and
// reads each head: the index is eventually consistent, so a head whose Due
// has moved since is left out.
func (s *Store) DueExecutions(ctx context.Context, now time.Time, limit int) ([]*record.Execution, error) {
	if limit <= 0 {
		return nil, nil
	}
	var heads []*record.Execution
	// Start at a different shard each call, so that a backlog in one
	// shard does not hold up the others.
	first := int(s.sweeps.Add(1) % uint64(s.dueShards))
	for i := range s.dueShards {
		shard := (first + i) % s.dueShards
		in := &dynamodb.QueryInput{
			TableName:                &s.table,
			IndexName:                ptr(indexDue),
			KeyConditionExpression:   ptr("#dpk = :dpk AND #dsk <= :now"),
			ExpressionAttributeNames: names(aDuePK, aDueSK),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":dpk": str(fmt.Sprintf("DUE#%d", shard)),
				":now": num(now.UnixNano()),
			},
			ScanIndexForward:       ptr(true),
			ReturnConsumedCapacity: capacity,
		}
		for len(heads) < limit {
			in.Limit = ptr(int32(min(limit-len(heads), 100)))
			out, err := s.db.Query(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("due executions: %w", err)
			}
			var keys []item
			for _, it := range out.Items {
				// Tables written by earlier versions also indexed units.
				if attrS(it, aSK) == metaSK {
					keys = append(keys, key(attrS(it, aPK), metaSK))
				}
			}
			items, err := s.batchGet(ctx, keys)
			if err != nil {
				return nil, fmt.Errorf("due executions: %w", err)
			}
			for _, it := range items {
				e, err := decodeExec(it)
				if err != nil {
					return nil, err
				}
				if !e.Due.IsZero() && !e.Due.After(now) && len(heads) < limit {
					heads = append(heads, e)
				}
			}
			if len(out.LastEvaluatedKey) == 0 {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	slices.SortFunc(heads, func(a, b *record.Execution) int {
		return cmp.Or(a.Due.Compare(b.Due), strings.Compare(a.ID, b.ID))
	})
	return heads, nil
}

// SetDue moves a head's entry in the by-due index (or removes it), in one
// UpdateItem conditional on the head's version.
func (s *Store) SetDue(ctx context.Context, id string, version int64, due time.Time) error {
	up := &update{names: names(aVersion), values: map[string]types.AttributeValue{":v": num(version)}}
	up.cond = append(up.cond, "#ver = :v")
	tok := newToken()
	up.setAttr(aToken, tok)
	if due.IsZero() {
		up.removeAttr(aDuePK)
		up.removeAttr(aDueSK)
	} else {
		up.setAttr(aDuePK, str(dueShard(id, s.dueShards)))
		up.setAttr(aDueSK, num(due.UnixNano()))
	}
	in := up.input(s.table, key(execPK(id), metaSK), types.ReturnValueNone)
	_, err := s.db.UpdateItem(ctx, in)
	old, failed := conditionFailed(err)
	switch {
	case !failed && err != nil:
		return fmt.Errorf("set due of execution %s: %w", id, err)
	case !failed, ownWrite(old, tok):
		return nil
	case old == nil:
		return fmt.Errorf("set due of execution %s: %w", id, store.ErrNotFound)
	}
	r := reader{it: old}
	return fmt.Errorf("set due of execution %s at version %d: stored version is %d: %w", id, version, r.n(aVersion), store.ErrConflict)
}
