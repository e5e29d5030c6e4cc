package dynamo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

// Cron triggers live in one partition, TRIGGER / TR#<name>: there are few
// of them, the firer reads them all once a minute, and listing them by
// name is one query, with no index to keep.
//
// A deleted trigger becomes a tombstone (gone = true, with a ttl a day
// away, after which DynamoDB removes it) instead of being deleted, so that
// the functions need no DeleteItem on the table; every read skips
// tombstones, and a create may replace one.
const (
	triggerPK     = "TRIGGER"
	triggerPrefix = "TR#"

	aTriggerID = "tid"
	aPattern   = "pat"
	aWfName    = "wfn"
	aFirst     = "first"
	aRemaining = "rem"
	aNext      = "next"

	// tombstoneTTL is how long a deleted trigger's tombstone is kept.
	tombstoneTTL = 24 * time.Hour
)

func triggerKey(name string) item { return key(triggerPK, triggerPrefix+name) }

func encodeTrigger(t *record.Trigger) item {
	b := newItem(triggerPK, triggerPrefix+t.Name)
	b.s(aName, t.Name)
	b.s(aTriggerID, t.ID)
	b.s(aPattern, t.Pattern)
	b.s(aWfName, t.WorkflowName)
	b.s(aDefName, t.DefName)
	b.s(aWorkflow, t.Workflow)
	b.raw(aInput, t.Input)
	b.raw(aEnv, t.Env)
	b.t(aFirst, t.FirstExecution)
	b.n(aRemaining, int64(t.Remaining))
	b.it[aNext] = num(t.Next.UnixNano())
	b.t(aCreated, t.CreatedAt)
	return b.it
}

func decodeTrigger(it item) (*record.Trigger, error) {
	r := reader{it: it}
	t := &record.Trigger{
		Name: r.s(aName), ID: r.s(aTriggerID), Pattern: r.s(aPattern),
		WorkflowName: r.s(aWfName), DefName: r.s(aDefName), Workflow: r.s(aWorkflow),
		Input: r.raw(aInput), Env: r.raw(aEnv), FirstExecution: r.t(aFirst),
		Remaining: int(r.n(aRemaining)), Next: r.t(aNext), CreatedAt: r.t(aCreated),
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode trigger %s: %w", t.Name, r.err)
	}
	return t, nil
}

// gone reports whether it is absent or a tombstone.
func gone(it item) bool {
	if it == nil {
		return true
	}
	r := reader{it: it}
	return r.bool(aGone)
}

// CreateTrigger implements store.Store.
func (s *Store) CreateTrigger(ctx context.Context, t *record.Trigger) error {
	what := "trigger " + t.Name
	it := encodeTrigger(t)
	if err := checkSize(what, it); err != nil {
		return err
	}
	tok := newToken()
	it[aToken] = tok
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           &s.table,
		Item:                                it,
		ConditionExpression:                 ptr("attribute_not_exists(#pk) OR #gone = :true"),
		ExpressionAttributeNames:            names(aPK, aGone),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":true": &types.AttributeValueMemberBOOL{Value: true}},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		ReturnConsumedCapacity:              capacity,
	})
	if old, ok := conditionFailed(err); ok {
		if ownWrite(old, tok) {
			return nil
		}
		return fmt.Errorf("create %s: %w", what, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", what, translate(what, err))
	}
	return nil
}

// GetTrigger implements store.Store.
func (s *Store) GetTrigger(ctx context.Context, name string) (*record.Trigger, error) {
	it, err := s.get(ctx, triggerKey(name))
	if err != nil {
		return nil, fmt.Errorf("get trigger %s: %w", name, err)
	}
	if gone(it) {
		return nil, fmt.Errorf("trigger %s: %w", name, store.ErrNotFound)
	}
	return decodeTrigger(it)
}

// ListTriggers implements store.Store. The cursor is the last name of the
// previous page.
func (s *Store) ListTriggers(ctx context.Context, q store.TriggerQuery) ([]*record.Trigger, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	items, err := s.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:   ptr("#pk = :pk AND #sk > :after"),
		FilterExpression:         ptr("attribute_not_exists(#gone)"),
		ExpressionAttributeNames: names(aPK, aSK, aGone),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(triggerPK), ":after": str(triggerPrefix + q.Cursor),
		},
		ConsistentRead: ptr(true),
	}, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list triggers: %w", err)
	}
	var page []*record.Trigger
	for _, it := range items {
		if len(page) == limit+1 {
			break
		}
		r := reader{it: it}
		if !strings.HasPrefix(r.s(aSK), triggerPrefix) {
			continue
		}
		t, err := decodeTrigger(it)
		if err != nil {
			return nil, "", err
		}
		page = append(page, t)
	}
	next := ""
	if len(page) > limit {
		page = page[:limit]
		next = page[limit-1].Name
	}
	return page, next, nil
}

// tombstone turns a trigger into a tombstone, with cond on top of its
// being there and not one already.
func (s *Store) tombstone(ctx context.Context, name string, up *update) (old item, err error) {
	up.cond = append(up.cond, "attribute_exists(#pk)", "attribute_not_exists(#gone)")
	up.names["#pk"] = aPK
	tok := newToken()
	up.setAttr(aToken, tok)
	up.setAttr(aGone, &types.AttributeValueMemberBOOL{Value: true})
	up.setAttr(aTTL, num(s.now().Add(tombstoneTTL).Unix()))
	_, err = s.db.UpdateItem(ctx, up.input(s.table, triggerKey(name), types.ReturnValueNone))
	old, failed := conditionFailed(err)
	switch {
	case !failed && err != nil:
		return nil, err
	case !failed, ownWrite(old, tok):
		return nil, nil
	}
	if old == nil {
		old = item{}
	}
	return old, nil
}

// DeleteTrigger implements store.Store.
func (s *Store) DeleteTrigger(ctx context.Context, name string) error {
	old, err := s.tombstone(ctx, name, &update{names: map[string]string{}, values: map[string]types.AttributeValue{}})
	switch {
	case err != nil:
		return fmt.Errorf("delete trigger %s: %w", name, err)
	case old != nil:
		return fmt.Errorf("delete trigger %s: %w", name, store.ErrNotFound)
	}
	return nil
}

// AdvanceTrigger implements store.Store. The fire's condition is the
// trigger's ID and next fire time; since its remaining count changes only
// with its next fire time, the count t holds is the stored one.
func (s *Store) AdvanceTrigger(ctx context.Context, t *record.Trigger, next time.Time) error {
	what := fmt.Sprintf("trigger %s fired at %s", t.Name, t.Next.UTC().Format(time.RFC3339))
	up := &update{names: names(aTriggerID, aNext), values: map[string]types.AttributeValue{
		":tid": str(t.ID), ":at": num(t.Next.UnixNano()),
	}}
	up.cond = append(up.cond, "#tid = :tid", "#next = :at")
	var old item
	var err error
	if next.IsZero() || t.Remaining == 1 {
		old, err = s.tombstone(ctx, t.Name, up)
	} else {
		up.cond = append(up.cond, "attribute_not_exists(#gone)")
		up.names["#gone"] = aGone
		tok := newToken()
		up.setAttr(aToken, tok)
		up.setAttr(aNext, num(next.UnixNano()))
		if t.Remaining > 1 {
			up.setAttr(aRemaining, num(int64(t.Remaining-1)))
		}
		_, err = s.db.UpdateItem(ctx, up.input(s.table, triggerKey(t.Name), types.ReturnValueNone))
		var failed bool
		if old, failed = conditionFailed(err); failed {
			err = nil
			if ownWrite(old, tok) {
				old = nil
			} else if old == nil {
				old = item{}
			}
		}
	}
	switch {
	case err != nil:
		return fmt.Errorf("record %s: %w", what, err)
	case old == nil:
		return nil
	case len(old) == 0 || gone(old):
		return fmt.Errorf("record %s: %w", what, store.ErrNotFound)
	}
	r := reader{it: old}
	return fmt.Errorf("record %s: it fires next at %s: %w", what, r.t(aNext).Format(time.RFC3339), store.ErrConflict)
}
