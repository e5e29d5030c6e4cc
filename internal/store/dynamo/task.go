package dynamo

import (
	"context"
	"fmt"
	"slices"

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
	t, err := decodeTask(it)
	if err != nil {
		return nil, err
	}
	t.Settle()
	return t, nil
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
		t.Settle()
		tasks = append(tasks, t)
	}
	slices.SortStableFunc(tasks, func(a, b *record.Task) int { return a.Seq - b.Seq })
	return tasks, nil
}

// FinishTask writes the final fields of a task that is not final yet, in
// one UpdateItem conditional on the stored state. A condition on the
// item's base size, and on the size of its unit's outcome (which it
// expects to be the one t.Unit holds), refuses in the same write a result
// that would take the item over the limit.
func (s *Store) FinishTask(ctx context.Context, t *record.Task) error {
	what := "task " + t.ExecID + "/" + t.Key
	fin := s.encodeTask(&record.Task{ExecID: t.ExecID, Key: t.Key, State: t.State, StateInfo: t.StateInfo,
		Published: t.Published, Result: t.Result, Error: t.Error, ChildID: t.ChildID, FinishedAt: t.FinishedAt})
	final := map[string]types.AttributeValue{aState: fin[aState]}
	for _, a := range taskFinalAttrs {
		if v, ok := fin[a]; ok {
			final[a] = v
		}
	}
	tok := newToken()
	final[aToken] = tok
	added := itemSize(final) - itemSize(map[string]types.AttributeValue{aState: fin[aState]})

	up := &update{names: names(aPK, aState), values: map[string]types.AttributeValue{
		":s1": str(string(record.Success)), ":s2": str(string(record.Error)), ":s3": str(string(record.Cancelled)),
		":s4": str(string(record.Skipped)),
	}}
	notFinal := "NOT (#state IN (:s1, :s2, :s3, :s4))"
	if t.State == record.Skipped {
		notFinal = "(" + notFinal + " OR #state = :s2)" // record.Task.Finishable
	}
	up.cond = append(up.cond, "attribute_exists(#pk)", notFinal)
	for _, a := range append([]string{aState, aToken}, taskFinalAttrs...) {
		if v, ok := final[a]; ok {
			up.setAttr(a, v)
		} else {
			up.removeAttr(a)
		}
	}
	// The unit's outcome is there already, most likely as the engine read it.
	guess := map[string]int{}
	if u := t.Unit; u != nil {
		if u.Result != nil {
			guess[aUnitResult] = valueSize(raw(u.Result))
		}
		if u.Error != nil {
			guess[aUnitError] = valueSize(raw(u.Error))
		}
	}
	var found item
	for attempt := 0; ; attempt++ {
		in := up.clone()
		in.fits(found, added, guess, zeroOutcomeAttrs)
		_, err := s.db.UpdateItem(ctx, in.input(s.table, key(execPK(t.ExecID), taskSK(t.Key)), types.ReturnValueNone))
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
		if !prev.Finishable(t.State) {
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
		found = old
	}
}

// sizeSlack covers, in the size conditions, the attributes a write changes
// besides the large ones it measures exactly (state, fence, times).
const sizeSlack = 256
