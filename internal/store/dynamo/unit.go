package dynamo

import (
	"context"
	"fmt"
	"slices"
	"strconv"
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
// Two more parts of the condition keep the common writes to one request
// and few write units; when one of them fails, the write is built again
// from the item found:
//   - The due index holds a lower bound of the unit's due time (see
//     DueUnits). A write whose new due is not earlier than the indexed one
//     keeps the index entry where it is, so that a claim or a heartbeat,
//     which move the due time later, cost no index write.
//   - An outcome write (Result or Error) is refused in the same request if
//     it would take the item over store.MaxItemBytes, by a condition on the
//     unit's base size.
func (s *Store) UpdateUnit(ctx context.Context, k record.UnitKey, x record.Expect, c record.UnitChange) (*record.Unit, error) {
	what := "unit " + k.String()
	tok := newToken()
	var found item // the item a failed attempt found; nil on the first attempt
	for attempt := 0; ; attempt++ {
		in := s.unitUpdate(k, x, c, tok, found)
		in.TableName = &s.table
		out, err := s.db.UpdateItem(ctx, in)
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
		if c.Result != nil || c.Error != nil {
			next := *prev
			store.Apply(&next, c)
			if err := checkSize(what, s.encodeUnit(&next)); err != nil {
				return nil, err
			}
		}
		if attempt >= 3 {
			// The expectation holds on what was read back each time, so
			// the unit keeps changing under the write: report it as a
			// conflict, which callers already handle.
			return nil, fmt.Errorf("update %s: unit changed during the write: %w", what, store.ErrConflict)
		}
		found = old
	}
}

// unitUpdate builds the UpdateItem of UpdateUnit. Without found (the first
// attempt) it guesses: the index entry can stay, the outcome fits. With the
// item a failed attempt found, it pins what it measured on that item.
func (s *Store) unitUpdate(k record.UnitKey, x record.Expect, c record.UnitChange, tok types.AttributeValue, found item) *dynamodb.UpdateItemInput {
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

	up.setAttr(aToken, tok)
	up.setAttr(aState, str(string(c.State)))
	if c.Due.IsZero() {
		up.removeAttr(aDue)
	} else {
		up.setAttr(aDue, num(c.Due.UnixNano()))
	}
	if store.Pending(c.State) && !c.Due.IsZero() {
		up.setAttr(aDuePK, str(dueShard(k.ExecID, s.shards)))
		due := num(c.Due.UnixNano())
		idx, ok := found[aDueSK].(*types.AttributeValueMemberN)
		switch {
		case found == nil:
			// Keep the entry if it is no later than the new due time.
			up.names["#"+aDueSK] = aDueSK
			up.values[":"+aDueSK] = due
			up.set = append(up.set, "#dsk = if_not_exists(#dsk, :dsk)")
			up.cond = append(up.cond, "(attribute_not_exists(#dsk) OR #dsk <= :dsk)")
		case ok && idx.Value != "" && !laterThan(idx, c.Due):
			// Keep the entry that was found.
			up.names["#"+aDueSK] = aDueSK
			up.values[":dskFound"] = idx
			up.cond = append(up.cond, "#dsk = :dskFound")
		default:
			up.setAttr(aDueSK, due)
		}
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
	if added > 0 {
		up.names["#"+aBaseSize] = aBaseSize
		for _, a := range kept {
			up.names["#"+a] = a
		}
		if found == nil {
			up.values[":room"] = num(int64(store.MaxItemBytes - added - len(c.Fence) - sizeSlack))
			up.cond = append(up.cond, "#bsz <= :room")
			for _, a := range kept {
				up.cond = append(up.cond, "attribute_not_exists(#"+a+")")
			}
		} else {
			// UpdateUnit measured the item found and it fits: pin the
			// base size and the size of each kept outcome attribute.
			if v, ok := found[aBaseSize]; ok {
				up.values[":bsz"] = v
				up.cond = append(up.cond, "#bsz = :bsz")
			} else {
				up.cond = append(up.cond, "attribute_not_exists(#bsz)")
			}
			for i, a := range kept {
				if v, ok := found[a]; ok {
					p := fmt.Sprintf(":kept%d", i)
					up.values[p] = num(int64(valueSize(v)))
					up.cond = append(up.cond, fmt.Sprintf("size(#%s) <= %s", a, p))
				} else {
					up.cond = append(up.cond, "attribute_not_exists(#"+a+")")
				}
			}
		}
	}
	return &dynamodb.UpdateItemInput{
		Key:                                 unitKey(k),
		UpdateExpression:                    ptr(up.expression()),
		ConditionExpression:                 ptr(strings.Join(up.cond, " AND ")),
		ExpressionAttributeNames:            up.names,
		ExpressionAttributeValues:           up.values,
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		ReturnConsumedCapacity:              capacity,
	}
}

// laterThan reports whether the index time n is after t.
func laterThan(n *types.AttributeValueMemberN, t time.Time) bool {
	v, err := strconv.ParseInt(n.Value, 10, 64)
	return err != nil || v > t.UnixNano()
}

// DueUnits lists up to limit pending units due at or before now.
//
// The by-due index holds, for every pending unit, a time no later than its
// due time (UpdateUnit leaves the entry in place when a write moves the due
// time later). So the index finds every unit that is due, and may also
// find units whose due time has since moved on: DueUnits reads the units
// themselves, keeps the due ones, and moves the others' index entries to
// their current due time, so that each is looked at again only then.
func (s *Store) DueUnits(ctx context.Context, now time.Time, limit int) ([]*record.Unit, error) {
	if limit <= 0 {
		return nil, nil
	}
	var units []*record.Unit
	// Start at a different shard each call, so that a backlog in one
	// shard does not hold up the others.
	first := int(s.sweeps.Add(1) % uint64(s.shards))
	for i := range s.shards {
		shard := (first + i) % s.shards
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
		for len(units) < limit {
			in.Limit = ptr(int32(min(limit-len(units), 100)))
			out, err := s.db.Query(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("due units: %w", err)
			}
			keys := make([]item, len(out.Items))
			for j, it := range out.Items {
				keys[j] = key(attrS(it, aPK), attrS(it, aSK))
			}
			items, err := s.batchGet(ctx, keys)
			if err != nil {
				return nil, fmt.Errorf("due units: %w", err)
			}
			for _, it := range items {
				u, err := decodeUnit(it)
				if err != nil {
					return nil, err
				}
				switch {
				case !store.Pending(u.State) || u.Due.IsZero():
					// Gone from the index since the query.
				case u.Due.After(now):
					if err := s.raiseDue(ctx, it); err != nil {
						return nil, err
					}
				case len(units) < limit:
					units = append(units, u)
				}
			}
			if len(out.LastEvaluatedKey) == 0 {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	slices.SortFunc(units, func(a, b *record.Unit) int { return a.Due.Compare(b.Due) })
	return units, nil
}

// raiseDue moves a unit's index entry to its due time, unless the unit has
// changed since it was read.
func (s *Store) raiseDue(ctx context.Context, it item) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       key(attrS(it, aPK), attrS(it, aSK)),
		UpdateExpression:          ptr("SET #dsk = :due"),
		ConditionExpression:       ptr("#due = :due AND #dsk = :dsk"),
		ExpressionAttributeNames:  names(aDue, aDueSK),
		ExpressionAttributeValues: map[string]types.AttributeValue{":due": it[aDue], ":dsk": it[aDueSK]},
		ReturnConsumedCapacity:    capacity,
	})
	if _, ok := conditionFailed(err); ok || err == nil {
		return nil
	}
	return fmt.Errorf("move due index entry: %w", err)
}

func attrS(it item, name string) string {
	r := reader{it: it}
	return r.s(name)
}
