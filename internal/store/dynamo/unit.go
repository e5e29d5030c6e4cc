package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

// CreateUnit writes a unit; ErrExists if it is there already. A unit of
// item 0 is added to its task's item (ErrNotFound without the task).
func (s *Store) CreateUnit(ctx context.Context, u *record.Unit) error {
	if u.Item == 0 {
		return s.createUnitZero(ctx, u)
	}
	return s.create(ctx, "unit "+u.UnitKey.String(), s.encodeUnit(u))
}

// createUnitZero adds a unit of item 0 to its task's item: one UpdateItem
// conditional on the task being there without a unit, and on the item
// staying under the size limit.
func (s *Store) createUnitZero(ctx context.Context, u *record.Unit) error {
	what := "unit " + u.UnitKey.String()
	b := newItem("", "")
	s.putUnit(b, u, zeroNames)
	delete(b.it, aPK)
	delete(b.it, aSK)
	base := itemSize(without(b.it, zeroOutcomeAttrs...))
	if err := checkSize(what, b.it); err != nil {
		return err
	}
	tok := newToken()
	up := &update{names: names(aPK, aUnitState, aBaseSize), values: map[string]types.AttributeValue{}}
	up.cond = append(up.cond, "attribute_exists(#pk)", "attribute_not_exists(#us)")
	for a, v := range b.it {
		up.setAttr(a, v)
	}
	up.setAttr(aToken, tok)
	up.values[":base"] = num(int64(base))
	up.set = append(up.set, "#bsz = #bsz + :base")
	var found item
	for attempt := 0; ; attempt++ {
		in := up.clone()
		in.fits(found, itemSize(b.it), nil, taskVariableAttrs)
		_, err := s.db.UpdateItem(ctx, in.input(s.table, unitKey(u.UnitKey), types.ReturnValueNone))
		old, failed := conditionFailed(err)
		switch {
		case !failed && err != nil:
			return fmt.Errorf("create %s: %w", what, translate(what, err))
		case !failed:
			return nil
		case old == nil:
			return fmt.Errorf("create %s: task %s: %w", what, u.Task, store.ErrNotFound)
		case ownWrite(old, tok):
			return nil
		}
		if _, ok := old[aUnitState]; ok {
			return fmt.Errorf("create %s: %w", what, store.ErrExists)
		}
		next := without(old)
		for a, v := range b.it {
			next[a] = v
		}
		if err := checkSize(what, next); err != nil {
			return err
		}
		if attempt >= 2 {
			return fmt.Errorf("create %s: condition keeps failing on an item that fits: %w", what, store.ErrConflict)
		}
		found = old
	}
}

// GetUnit reads one unit with a strongly consistent read.
func (s *Store) GetUnit(ctx context.Context, k record.UnitKey) (*record.Unit, error) {
	it, err := s.get(ctx, unitKey(k))
	if err != nil {
		return nil, fmt.Errorf("get unit %s: %w", k, err)
	}
	if _, ok := it[namesOf(k).state]; !ok {
		return nil, fmt.Errorf("unit %s: %w", k, store.ErrNotFound)
	}
	return decodeUnit(it)
}

// ListUnits reads every unit of a task execution, by item: item 0 from the
// task's item, the others with a query (the sort key holds the item
// zero-padded, so the query returns them in order).
func (s *Store) ListUnits(ctx context.Context, execID, task string) ([]*record.Unit, error) {
	var units []*record.Unit
	zero, err := s.GetUnit(ctx, record.UnitKey{ExecID: execID, Task: task})
	switch {
	case err == nil:
		units = append(units, zero)
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("list units of %s/%s: %w", execID, task, err)
	}
	items, err := s.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    ptr("#pk = :pk AND begins_with(#sk, :u)"),
		ExpressionAttributeNames:  names(aPK, aSK),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(execPK(execID)), ":u": str(unitPrefix(task))},
		ConsistentRead:            ptr(true),
	}, 0)
	if err != nil {
		return nil, fmt.Errorf("list units of %s/%s: %w", execID, task, err)
	}
	for _, it := range items {
		u, err := decodeUnit(it)
		if err != nil {
			return nil, err
		}
		units = append(units, u)
	}
	return units, nil
}

// update is one UpdateItem under construction.
type update struct {
	set, remove []string
	cond        []string
	names       map[string]string
	values      map[string]types.AttributeValue
}

func (u *update) setAttr(attr string, v types.AttributeValue) {
	u.names["#"+attr] = attr
	u.values[":"+attr] = v
	u.set = append(u.set, fmt.Sprintf("#%s = :%s", attr, attr))
}

func (u *update) removeAttr(attr string) {
	u.names["#"+attr] = attr
	u.remove = append(u.remove, "#"+attr)
}

func (u *update) clone() *update {
	c := &update{
		set: append([]string(nil), u.set...), remove: append([]string(nil), u.remove...),
		cond: append([]string(nil), u.cond...), names: make(map[string]string, len(u.names)),
		values: make(map[string]types.AttributeValue, len(u.values)),
	}
	for k, v := range u.names {
		c.names[k] = v
	}
	for k, v := range u.values {
		c.values[k] = v
	}
	return c
}

func (u *update) expression() string {
	e := "SET " + strings.Join(u.set, ", ")
	if len(u.remove) > 0 {
		e += " REMOVE " + strings.Join(u.remove, ", ")
	}
	return e
}

func (u *update) input(table string, k item, rv types.ReturnValue) *dynamodb.UpdateItemInput {
	return &dynamodb.UpdateItemInput{
		TableName:                           &table,
		Key:                                 k,
		UpdateExpression:                    ptr(u.expression()),
		ConditionExpression:                 ptr(strings.Join(u.cond, " AND ")),
		ExpressionAttributeNames:            u.names,
		ExpressionAttributeValues:           u.values,
		ReturnValues:                        rv,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		ReturnConsumedCapacity:              capacity,
	}
}

// fits adds to the condition that the item stays under store.MaxItemBytes
// once the write added added bytes (beyond what it removes): its base size
// (bsz) and the attributes in kept — those of the item's variable part the
// write leaves in place — fit in the room left.
//
// Without found (a first attempt), it guesses each kept attribute's size:
// guess[a] when given (at most that, or absent), else absent. With the
// item a failed attempt found and measured as fitting, it pins what it
// found: the same base size, each kept attribute no larger.
func (u *update) fits(found item, added int, guess map[string]int, kept []string) {
	u.names["#"+aBaseSize] = aBaseSize
	room := store.MaxItemBytes - added - sizeSlack
	for i, a := range kept {
		u.names["#"+a] = a
		p := fmt.Sprintf(":kept%d", i)
		var n int
		var ok bool
		if found == nil {
			n, ok = guess[a]
		} else if v, there := found[a]; there {
			n, ok = valueSize(v), true
		}
		if !ok {
			u.cond = append(u.cond, "attribute_not_exists(#"+a+")")
			continue
		}
		room -= len(a) + n
		u.values[p] = num(int64(n))
		u.cond = append(u.cond, fmt.Sprintf("(attribute_not_exists(#%s) OR size(#%s) <= %s)", a, a, p))
	}
	if found == nil {
		u.values[":room"] = num(int64(room))
		u.cond = append(u.cond, "#bsz <= :room")
		return
	}
	if v, ok := found[aBaseSize]; ok {
		u.values[":bsz"] = v
		u.cond = append(u.cond, "#bsz = :bsz")
	} else {
		u.cond = append(u.cond, "attribute_not_exists(#bsz)")
	}
}

// taskVariableAttrs are the attributes of a task's item that writes after
// its creation add: the task's final fields and its unit's outcome.
var taskVariableAttrs = []string{aStateInfo, aPublished, aResult, aError, aUnitResult, aUnitError}

// UpdateUnit applies c if the unit matches x, in one UpdateItem conditional
// on state (and, with x.Awaiting, a RUNNING unit's result), attempt and fence, and returns the unit as written (ALL_NEW).
// When the condition fails, DynamoDB returns the item it found (ALL_OLD),
// and the error says what differed.
//
// An outcome write (Result or Error) is refused in the same request if it
// would take the item over store.MaxItemBytes, by a condition on the
// item's base size and the outcome attributes it keeps; when that part of
// the condition fails, the item found is measured and the write built
// again from it.
func (s *Store) UpdateUnit(ctx context.Context, k record.UnitKey, x record.Expect, c record.UnitChange) (*record.Unit, error) {
	what := "unit " + k.String()
	tok := newToken()
	var found item // the item a failed attempt found; nil on the first attempt
	for attempt := 0; ; attempt++ {
		in := s.unitUpdate(k, x, c, tok, found)
		out, err := s.db.UpdateItem(ctx, in)
		old, failed := conditionFailed(err)
		if !failed {
			if err != nil {
				return nil, fmt.Errorf("update %s: %w", what, translate(what, err))
			}
			return decodeUnit(out.Attributes)
		}
		if _, ok := old[namesOf(k).state]; !ok {
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
			next := without(old)
			n := namesOf(k)
			store.Apply(prev, c)
			for _, a := range []string{n.result, n.err} {
				delete(next, a)
			}
			if prev.Result != nil {
				next[n.result] = raw(prev.Result)
			}
			if prev.Error != nil {
				next[n.err] = raw(prev.Error)
			}
			if err := checkSize(what, next); err != nil {
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
// attempt) it guesses that the outcome fits; with the item a failed attempt
// found, it pins what it measured on that item.
func (s *Store) unitUpdate(k record.UnitKey, x record.Expect, c record.UnitChange, tok types.AttributeValue, found item) *dynamodb.UpdateItemInput {
	n := namesOf(k)
	up := &update{names: names(n.state), values: map[string]types.AttributeValue{}}
	up.cond = append(up.cond, "attribute_exists(#"+n.state+")")
	if len(x.States) > 0 {
		var ph []string
		for i, st := range x.States {
			p := fmt.Sprintf(":x%d", i)
			up.values[p] = str(string(st))
			ph = append(ph, p)
		}
		up.cond = append(up.cond, "#"+n.state+" IN ("+strings.Join(ph, ", ")+")")
	}
	if x.Awaiting {
		// A RUNNING unit must hold a result: the marker of an attempt
		// that awaits its completion (record.Unit.Awaiting).
		up.names["#"+n.result] = n.result
		up.values[":xrun"] = str(string(record.Running))
		up.values[":xnone"] = num(0)
		up.cond = append(up.cond, fmt.Sprintf("(#%s <> :xrun OR (attribute_exists(#%s) AND size(#%s) > :xnone))", n.state, n.result, n.result))
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
	up.setAttr(n.state, str(string(c.State)))
	if c.Due.IsZero() {
		up.removeAttr(aDue)
	} else {
		up.setAttr(aDue, num(c.Due.UnixNano()))
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
		up.setAttr(n.finished, num(c.Finished.UnixNano()))
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

	// The outcome, and which variable attributes of the item the write
	// leaves in place (they count towards its size).
	variable := []string{n.result, n.err}
	if k.Item == 0 {
		variable = taskVariableAttrs
	}
	var kept []string
	added := 0
	for _, a := range variable {
		var v []byte
		switch a {
		case n.result:
			v = c.Result
		case n.err:
			v = c.Error
		default:
			kept = append(kept, a)
			continue
		}
		switch {
		case v != nil:
			up.setAttr(a, raw(v))
			added += len(a) + len(v)
		case c.ClearOutcome:
			up.removeAttr(a)
		default:
			kept = append(kept, a)
		}
	}
	if added > 0 {
		up.fits(found, added+len(c.Fence), nil, kept)
	}
	return up.input(s.table, unitKey(k), types.ReturnValueAllNew)
}

func attrS(it item, name string) string {
	r := reader{it: it}
	return r.s(name)
}
