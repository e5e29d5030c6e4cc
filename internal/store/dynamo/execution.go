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

// cursorRE matches a decoded cursor: the by-state sort key of the last head.
var cursorRE = regexp.MustCompile(`^[0-9]{20}#.+$`)

// ListExecutions pages through heads newest first. It merges the
// partitions of the by-state index (each state's shards; every state's
// without a state); the cursor is the index sort key of the last head
// listed, which orders heads across partitions.
func (s *Store) ListExecutions(ctx context.Context, q store.ListQuery) ([]*record.Execution, string, error) {
	limit := cmp.Or(max(q.Limit, 0), 100)
	var after string
	if q.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || !cursorRE.Match(b) {
			return nil, "", fmt.Errorf("list executions: malformed cursor %q", q.Cursor)
		}
		after = string(b)
	}
	states := allStates
	if q.State != "" {
		states = []record.ExecState{q.State}
	}
	type ref struct{ id, sk string }
	var refs []ref
	seen := map[string]bool{}
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
		if after != "" {
			cond += " AND #gsk < :after"
			nm["#"+aStateSK] = aStateSK
			values[":after"] = str(after)
		}
		in := &dynamodb.QueryInput{
			TableName:                 &s.table,
			IndexName:                 ptr(indexByState),
			KeyConditionExpression:    &cond,
			ExpressionAttributeNames:  nm,
			ExpressionAttributeValues: values,
			ScanIndexForward:          ptr(false),
			Limit:                     ptr(int32(limit + 1)),
			ReturnConsumedCapacity:    capacity,
		}
		// One more than the page, to know whether there is a next page.
		var n int
		for n <= limit {
			out, err := s.db.Query(ctx, in)
			if err != nil {
				return nil, "", fmt.Errorf("list executions in %s: %w", part, err)
			}
			for _, it := range out.Items {
				r := reader{it: it}
				id := strings.TrimPrefix(r.s(aPK), "EX#")
				// A head that changed state between two of these
				// queries can be seen under both.
				if (q.TopLevel && r.s(aParent) != "") || seen[id] {
					continue
				}
				seen[id] = true
				refs = append(refs, ref{id: id, sk: r.s(aStateSK)})
				n++
			}
			if len(out.LastEvaluatedKey) == 0 {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	slices.SortFunc(refs, func(a, b ref) int { return strings.Compare(b.sk, a.sk) })
	var next string
	if len(refs) > limit {
		refs = refs[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(refs[limit-1].sk))
	}
	keys := make([]item, len(refs))
	for i, r := range refs {
		keys[i] = key(execPK(r.id), metaSK)
	}
	items, err := s.batchGet(ctx, keys)
	if err != nil {
		return nil, "", fmt.Errorf("list executions: %w", err)
	}
	byID := make(map[string]*record.Execution, len(items))
	for _, it := range items {
		e, err := decodeExec(it)
		if err != nil {
			return nil, "", err
		}
		byID[e.ID] = e
	}
	page := make([]*record.Execution, 0, len(refs))
	for _, r := range refs {
		e, ok := byID[r.id]
		// The index is eventually consistent: a head that has moved to
		// another state since is listed under that state instead.
		if !ok || (q.State != "" && e.State != q.State) {
			continue
		}
		page = append(page, e)
	}
	return page, next, nil
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
