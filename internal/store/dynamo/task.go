package dynamo

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

// CreateTask writes a task execution; ErrExists if its key is taken.
func (s *Store) CreateTask(ctx context.Context, t *record.Task) error {
	return s.create(ctx, "task "+t.ExecID+"/"+t.Key, s.encodeTask(t))
}

// GetTask reads one task execution with a strongly consistent read.
func (s *Store) GetTask(ctx context.Context, execID, k string) (*record.Task, error) {
	it, err := s.get(ctx, key(execPK(execID), taskSK(k)))
	if err != nil {
		return nil, fmt.Errorf("get task %s/%s: %w", execID, k, err)
	}
	if it == nil {
		return nil, fmt.Errorf("task %s/%s: %w", execID, k, store.ErrNotFound)
	}
	return decodeTask(it)
}

// ListTasks reads every task execution of an execution, by Seq.
func (s *Store) ListTasks(ctx context.Context, execID string) ([]*record.Task, error) {
	items, err := s.query(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    ptr("#pk = :pk AND begins_with(#sk, :t)"),
		ExpressionAttributeNames:  names(aPK, aSK),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(execPK(execID)), ":t": str("T#")},
		ConsistentRead:            ptr(true),
	}, 0)
	if err != nil {
		return nil, fmt.Errorf("list tasks of %s: %w", execID, err)
	}
	tasks := make([]*record.Task, 0, len(items))
	for _, it := range items {
		t, err := decodeTask(it)
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, t)
	}
	slices.SortStableFunc(tasks, func(a, b *record.Task) int { return a.Seq - b.Seq })
	return tasks, nil
}

// FinishTask writes the final fields of a task that is not final yet, in
// one UpdateItem conditional on the stored state. A condition on the
// item's base size refuses, in the same write, a result that would take the
// item over the limit.
func (s *Store) FinishTask(ctx context.Context, t *record.Task) error {
	what := "task " + t.ExecID + "/" + t.Key
	fin := s.encodeTask(t)
	final := map[string]types.AttributeValue{aState: fin[aState]}
	for _, a := range taskFinalAttrs {
		if v, ok := fin[a]; ok {
			final[a] = v
		}
	}
	tok := newToken()
	final[aToken] = tok
	added := itemSize(final) - itemSize(map[string]types.AttributeValue{aState: fin[aState]})
	room := store.MaxItemBytes - added - sizeSlack

	var set, remove []string
	nm := names(aPK, aState, aBaseSize)
	values := map[string]types.AttributeValue{
		":s1": str(string(record.Success)), ":s2": str(string(record.Error)), ":s3": str(string(record.Cancelled)),
		":room": num(int64(room)),
	}
	for _, a := range append([]string{aState, aToken}, taskFinalAttrs...) {
		nm["#"+a] = a
		if v, ok := final[a]; ok {
			set = append(set, fmt.Sprintf("#%s = :%s", a, a))
			values[":"+a] = v
		} else {
			remove = append(remove, "#"+a)
		}
	}
	update := "SET " + strings.Join(set, ", ")
	if len(remove) > 0 {
		update += " REMOVE " + strings.Join(remove, ", ")
	}
	cond := "attribute_exists(#pk) AND NOT (#state IN (:s1, :s2, :s3)) AND #bsz <= :room"
	for attempt := 0; ; attempt++ {
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                           &s.table,
			Key:                                 key(execPK(t.ExecID), taskSK(t.Key)),
			UpdateExpression:                    &update,
			ConditionExpression:                 &cond,
			ExpressionAttributeNames:            nm,
			ExpressionAttributeValues:           values,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			ReturnConsumedCapacity:              capacity,
		})
		old, failed := conditionFailed(err)
		if !failed {
			if err != nil {
				return fmt.Errorf("finish %s: %w", what, translate(what, err))
			}
			return nil
		}
		if old == nil {
			return fmt.Errorf("finish %s: %w", what, store.ErrNotFound)
		}
		if ownWrite(old, tok) {
			return nil
		}
		prev, err := decodeTask(old)
		if err != nil {
			return err
		}
		if prev.Final() {
			return fmt.Errorf("finish %s: already final (%s): %w", what, prev.State, store.ErrConflict)
		}
		// The size condition failed: measure the item exactly.
		next := without(old, taskFinalAttrs...)
		for a, v := range final {
			next[a] = v
		}
		if err := checkSize(what, next); err != nil {
			return err
		}
		if attempt >= 2 {
			return fmt.Errorf("finish %s: condition keeps failing on an item that fits: %w", what, store.ErrConflict)
		}
		// It fits after all (the slack was too cautious): pin the base
		// size that was measured and write.
		cond = "attribute_exists(#pk) AND NOT (#state IN (:s1, :s2, :s3)) AND attribute_not_exists(#bsz)"
		delete(values, ":room")
		if v, ok := old[aBaseSize]; ok {
			cond = "attribute_exists(#pk) AND NOT (#state IN (:s1, :s2, :s3)) AND #bsz = :room"
			values[":room"] = v
		}
	}
}

// sizeSlack covers, in the size conditions, the attributes a write changes
// besides the large ones it measures exactly (state, fence, times).
const sizeSlack = 256
