package dynamo

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

// CreateUnit writes a unit; ErrExists if it is there already.
func (s *Store) CreateUnit(ctx context.Context, u *record.Unit) error {
	return s.create(ctx, "unit "+u.UnitKey.String(), s.encodeUnit(u))
}

// GetUnit reads one unit with a strongly consistent read.
func (s *Store) GetUnit(ctx context.Context, k record.UnitKey) (*record.Unit, error) {
	it, err := s.get(ctx, unitKey(k))
	if err != nil {
		return nil, fmt.Errorf("get unit %s: %w", k, err)
	}
	if it == nil {
		return nil, fmt.Errorf("unit %s: %w", k, store.ErrNotFound)
	}
	return decodeUnit(it)
}

// ListUnits reads every unit of a task execution, by item (the sort key
// holds the item zero-padded, so the query returns them in order).
func (s *Store) ListUnits(ctx context.Context, execID, task string) ([]*record.Unit, error) {
	items, err := s.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    ptr("#pk = :pk AND begins_with(#sk, :u)"),
		ExpressionAttributeNames:  names(aPK, aSK),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(execPK(execID)), ":u": str(unitPrefix(task))},
		ConsistentRead:            ptr(true),
	}, 0)
	if err != nil {
		return nil, fmt.Errorf("list units of %s/%s: %w", execID, task, err)
	}
	units := make([]*record.Unit, 0, len(items))
	for _, it := range items {
		u, err := decodeUnit(it)
		if err != nil {
			return nil, err
		}
		units = append(units, u)
	}
	return units, nil
}

// unitUpdate is one UpdateItem of a unit under construction.
type unitUpdate struct {
	set, remove []string
	cond        []string
	names       map[string]string
	values      map[string]types.AttributeValue
}

func (u *unitUpdate) setAttr(attr string, v types.AttributeValue) {
	u.names["#"+attr] = attr
	u.values[":"+attr] = v
	u.set = append(u.set, fmt.Sprintf("#%s = :%s", attr, attr))
}

func (u *unitUpdate) removeAttr(attr string) {
	u.names["#"+attr] = attr
	u.remove = append(u.remove, "#"+attr)
}

func (u *unitUpdate) expression() string {
	e := "SET " + strings.Join(u.set, ", ")
	if len(u.remove) > 0 {
		e += " REMOVE " + strings.Join(u.remove, ", ")
	}
	return e
}

// UpdateUnit applies c if the unit matches x, in one UpdateItem conditional
// on state, attempt and fence, and returns the unit as written (ALL_NEW).
// When the condition fails, DynamoDB returns the item it found (ALL_OLD),
// and the error says what differed.
//
// An outcome write (Result or Error) also carries a condition on the
// unit's base size, so that a result that would take the item over
// store.MaxItemBytes is refused by the same write; only when that part of
// the condition fails is the item measured exactly.
func (s *Store) UpdateUnit(ctx context.Context, k record.UnitKey, x record.Expect, c record.UnitChange) (*record.Unit, error) {
	what := "unit " + k.String()
	up := &unitUpdate{names: names(aPK), values: map[string]types.AttributeValue{}}
	up.cond = append(up.cond, "attribute_exists(#pk)")
	if len(x.States) > 0 {
		up.names["#"+aState] = aState
		var ph []string
		for i, st := range x.States {
			p := fmt.Sprintf(":x%d", i)
			up.values[p] = str(string(st))
			ph = append(ph, p)
		}
		up.cond = append(up.cond, "#state IN ("+strings.Join(ph, ", ")+")")
	}
	if x.Attempt != 0 {
		up.names["#"+aAttempt] = aAttempt
		up.values[":xatt"] = num(int64(x.Attempt))
		up.cond = append(up.cond, "#att = :xatt")
	}
	if x.Fence != "" {
		up.names["#"+aFence] = aFence
		up.values[":xfence"] = str(x.Fence)
		up.cond = append(up.cond, "#fence = :xfence")
	}

	tok := newToken()
	up.setAttr(aToken, tok)
	up.setAttr(aState, str(string(c.State)))
	if c.Due.IsZero() {
		up.removeAttr(aDue)
	} else {
		up.setAttr(aDue, num(c.Due.UnixNano()))
	}
	if store.Pending(c.State) && !c.Due.IsZero() {
		up.setAttr(aDuePK, str(dueShard(k.ExecID, s.shards)))
		up.setAttr(aDueSK, num(c.Due.UnixNano()))
	} else {
		up.removeAttr(aDuePK)
		up.removeAttr(aDueSK)
	}
	if c.Attempt != 0 {
		up.setAttr(aAttempt, num(int64(c.Attempt)))
	}
	if c.Fence != "" {
		up.setAttr(aFence, str(c.Fence))
	}
	if !c.Started.IsZero() {
		up.setAttr(aStarted, num(c.Started.UnixNano()))
	}
	if !c.Finished.IsZero() {
		up.setAttr(aFinished, num(c.Finished.UnixNano()))
	}
	if c.State.Terminal() && s.retention > 0 {
		up.setAttr(aTTL, num(s.expiry(c.Finished)))
	} else if s.retention > 0 {
		up.removeAttr(aTTL)
	}
	switch {
	case c.NoRetry:
		up.setAttr(aNoRetry, &types.AttributeValueMemberBOOL{Value: true})
	case c.ClearOutcome:
		up.removeAttr(aNoRetry)
	}

	// The outcome, and which outcome attributes an earlier write may have
	// left in place (they count towards the item's size).
	var kept []string
	added := 0
	for _, o := range []struct {
		attr string
		v    []byte
	}{{aResult, c.Result}, {aError, c.Error}} {
		switch {
		case o.v != nil:
			up.setAttr(o.attr, raw(o.v))
			added += len(o.attr) + len(o.v)
		case c.ClearOutcome:
			up.removeAttr(o.attr)
		default:
			kept = append(kept, o.attr)
		}
	}
	guard := added > 0
	base := slices.Clone(up.cond)
	if guard {
		up.names["#"+aBaseSize] = aBaseSize
		up.values[":room"] = num(int64(store.MaxItemBytes - added - len(c.Fence) - sizeSlack))
		up.cond = append(up.cond, "#bsz <= :room")
		for _, a := range kept {
			up.names["#"+a] = a
			up.cond = append(up.cond, "attribute_not_exists(#"+a+")")
		}
	}

	for attempt := 0; ; attempt++ {
		out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                           &s.table,
			Key:                                 unitKey(k),
			UpdateExpression:                    ptr(up.expression()),
			ConditionExpression:                 ptr(strings.Join(up.cond, " AND ")),
			ExpressionAttributeNames:            up.names,
			ExpressionAttributeValues:           up.values,
			ReturnValues:                        types.ReturnValueAllNew,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			ReturnConsumedCapacity:              capacity,
		})
		old, failed := conditionFailed(err)
		if !failed {
			if err != nil {
				return nil, fmt.Errorf("update %s: %w", what, translate(what, err))
			}
			return decodeUnit(out.Attributes)
		}
		if old == nil {
			return nil, fmt.Errorf("update %s: %w", what, store.ErrNotFound)
		}
		if ownWrite(old, tok) {
			return decodeUnit(old)
		}
		prev, err := decodeUnit(old)
		if err != nil {
			return nil, err
		}
		if err := store.Check(prev, x); err != nil {
			return nil, fmt.Errorf("update %s: %w", what, err)
		}
		if !guard || attempt >= 2 {
			// The expectation holds on what was read back, so the unit
			// changed between the write and the read: report it as a
			// conflict, which callers already handle.
			return nil, fmt.Errorf("update %s: unit changed during the write: %w", what, store.ErrConflict)
		}
		// The size guard failed: measure the item as it would be written.
		next := *prev
		store.Apply(&next, c)
		if err := checkSize(what, s.encodeUnit(&next)); err != nil {
			return nil, err
		}
		// It fits: pin what was measured (the base size and the size of
		// each kept outcome attribute) and write again.
		up.cond = slices.Clone(base)
		if v, ok := old[aBaseSize]; ok {
			up.values[":room"] = v
			up.cond = append(up.cond, "#bsz = :room")
		} else {
			delete(up.values, ":room")
			up.cond = append(up.cond, "attribute_not_exists(#bsz)")
		}
		for i, a := range kept {
			p := fmt.Sprintf(":kept%d", i)
			if v, ok := old[a]; ok {
				up.values[p] = num(int64(valueSize(v)))
				up.cond = append(up.cond, fmt.Sprintf("size(#%s) <= %s", a, p))
			} else {
				delete(up.values, p)
				up.cond = append(up.cond, "attribute_not_exists(#"+a+")")
			}
		}
	}
}

// DueUnits lists up to limit pending units due at or before now, oldest
// due first. It queries every shard of the by-due index, then reads the
// units themselves and keeps those still due (the index is eventually
// consistent).
func (s *Store) DueUnits(ctx context.Context, now time.Time, limit int) ([]*record.Unit, error) {
	if limit <= 0 {
		return nil, nil
	}
	type ref struct {
		k   item
		due int64
	}
	var refs []ref
	for shard := range s.shards {
		items, err := s.query(ctx, &dynamodb.QueryInput{
			IndexName:                ptr(indexDue),
			KeyConditionExpression:   ptr("#dpk = :dpk AND #dsk <= :now"),
			ExpressionAttributeNames: names(aDuePK, aDueSK),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":dpk": str(fmt.Sprintf("DUE#%d", shard)),
				":now": num(now.UnixNano()),
			},
			ScanIndexForward: ptr(true),
			Limit:            ptr(int32(min(limit, 1000))),
		}, limit)
		if err != nil {
			return nil, fmt.Errorf("due units: %w", err)
		}
		for _, it := range items {
			r := reader{it: it}
			refs = append(refs, ref{k: key(r.s(aPK), r.s(aSK)), due: r.n(aDueSK)})
		}
	}
	slices.SortFunc(refs, func(a, b ref) int { return cmp.Compare(a.due, b.due) })
	refs = refs[:min(len(refs), limit)]
	keys := make([]item, len(refs))
	for i, r := range refs {
		keys[i] = r.k
	}
	items, err := s.batchGet(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("due units: %w", err)
	}
	units := make([]*record.Unit, 0, len(items))
	for _, it := range items {
		u, err := decodeUnit(it)
		if err != nil {
			return nil, err
		}
		if store.Pending(u.State) && !u.Due.IsZero() && !u.Due.After(now) {
			units = append(units, u)
		}
	}
	slices.SortFunc(units, func(a, b *record.Unit) int { return a.Due.Compare(b.Due) })
	return units, nil
}
