// Package dynamo is the DynamoDB adapter of the Store port: one table, every
// write a single-item conditional write (docs/design.md, "Records").
//
// Layout (pk, sk are strings):
//
//	EX#<id>     META                 execution head
//	EX#<id>     T#<task key>         task execution
//	EX#<id>     U#<task key>#<item>  unit; the item zero-padded to 9 digits
//	WF#<name>   V#<n>                definition version; n zero-padded to 10
//	                                 digits, so the latest is a descending
//	                                 query of one item
//
// Two sparse global secondary indexes:
//
//	by-state  gpk = ST#<state>[#<shard>], gsk = <created ns>#<id>   heads only;
//	          projects the parent id so that top-level listings filter in
//	          the index; shard 0 has no suffix
//	by-due    dpk = DUE#<shard>, dsk = due ns (number)    heads of unfinished
//	          executions with a Due; keys only
//
// Both indexes project few attributes, so the frequent writes that do not
// change an index key (engine commits, heartbeats of the same due shard)
// cost no index write. Listing fetches the full items with BatchGetItem.
//
// Finished executions, tasks and units get a ttl attribute (epoch seconds)
// when a retention is configured; CreateTable enables TTL on it.
package dynamo

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/borawf/bora/internal/store"
)

// DynamoDBAPI is the part of the DynamoDB client the store uses.
type DynamoDBAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// Store is a store.Store on one DynamoDB table.
type Store struct {
	db                     DynamoDBAPI
	table                  string
	retention              time.Duration
	dueShards, stateShards int
	now                    func() time.Time
	sweeps                 atomic.Uint64 // DueUnits calls, to rotate the first shard
}

var _ store.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithRetention sets how long finished executions, tasks and units are
// kept before DynamoDB's TTL deletes them. Zero (the default) keeps them.
func WithRetention(d time.Duration) Option { return func(s *Store) { s.retention = d } }

// WithDueShards spreads the due index over n partitions (default
// DefaultDueShards), so that the reconciler's index is not one hot
// partition. Every store and reconciler on a table must use the same n, or
// a larger one: heads filed under a shard beyond n are not found.
func WithDueShards(n int) Option { return func(s *Store) { s.dueShards = n } }

// WithStateShards spreads each state's heads in the by-state index over n
// partitions (default DefaultStateShards), so that the executions started
// and ended each second are not written to one partition. Every store on a
// table must use the same n, or a larger one: heads filed under a shard
// beyond n are not listed.
func WithStateShards(n int) Option { return func(s *Store) { s.stateShards = n } }

// WithClock sets the clock used for TTLs of items without a finish time.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// The indexes' partitions per key, unless WithDueShards and WithStateShards
// say otherwise. DynamoDB writes at most 1,000 units a second to one
// partition; an execution writes its by-state RUNNING partition twice
// (started, ended) and its due partition twice (filed, cleared), so 32
// shards take 10,000 executions started a second at under two thirds of
// that (docs/scale.md).
const (
	DefaultDueShards   = 32
	DefaultStateShards = 32
)

// New returns a store on table.
func New(client DynamoDBAPI, table string, opts ...Option) *Store {
	s := &Store{db: client, table: table}
	for _, o := range opts {
		o(s)
	}
	s.dueShards = cmp.Or(max(s.dueShards, 0), DefaultDueShards)
	s.stateShards = cmp.Or(max(s.stateShards, 0), DefaultStateShards)
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// conditionFailed reports whether err is a failed condition and returns the
// item DynamoDB found (ReturnValuesOnConditionCheckFailure ALL_OLD), nil if
// there was none.
func conditionFailed(err error) (old item, ok bool) {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ccf.Item, true
	}
	return nil, false
}

// translate maps DynamoDB errors that are not failed conditions: an item
// DynamoDB itself found too large becomes a *store.TooLargeError.
func translate(what string, err error) error {
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "ValidationException" &&
		strings.Contains(strings.ToLower(api.ErrorMessage()), "item size") {
		return &store.TooLargeError{What: what, Size: store.MaxItemBytes + 1, Limit: store.MaxItemBytes}
	}
	return err
}

// names builds ExpressionAttributeNames: every attribute is referred to as
// #name, which sidesteps DynamoDB's reserved words (state, name, items...).
func names(attrs ...string) map[string]string {
	m := make(map[string]string, len(attrs))
	for _, a := range attrs {
		m["#"+a] = a
	}
	return m
}

const capacity = types.ReturnConsumedCapacityTotal

func (s *Store) get(ctx context.Context, k item) (item, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:              &s.table,
		Key:                    k,
		ConsistentRead:         ptr(true),
		ReturnConsumedCapacity: capacity,
	})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// create puts a new item; ErrExists if its key is taken.
func (s *Store) create(ctx context.Context, what string, it item) error {
	if err := checkSize(what, it); err != nil {
		return err
	}
	tok := newToken()
	it[aToken] = tok
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           &s.table,
		Item:                                it,
		ConditionExpression:                 ptr("attribute_not_exists(#pk)"),
		ExpressionAttributeNames:            names(aPK),
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

// query runs in to the end (or until enough items are collected, when
// enough > 0), following LastEvaluatedKey.
func (s *Store) query(ctx context.Context, in *dynamodb.QueryInput, enough int) ([]item, error) {
	in.TableName = &s.table
	in.ReturnConsumedCapacity = capacity
	var items []item
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		items = append(items, out.Items...)
		if len(out.LastEvaluatedKey) == 0 || (enough > 0 && len(items) >= enough) {
			return items, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// batchGet reads items by key (any number), retrying unprocessed keys.
// Items that no longer exist are absent from the result.
func (s *Store) batchGet(ctx context.Context, keys []item) ([]item, error) {
	var items []item
	for len(keys) > 0 {
		n := min(len(keys), 100)
		pending := keys[:n]
		keys = keys[n:]
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt > 0 {
				if err := sleep(ctx, backoff(attempt)); err != nil {
					return nil, err
				}
			}
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
				RequestItems: map[string]types.KeysAndAttributes{
					s.table: {Keys: pending, ConsistentRead: ptr(true)},
				},
				ReturnConsumedCapacity: capacity,
			})
			if err != nil {
				return nil, err
			}
			items = append(items, out.Responses[s.table]...)
			pending = out.UnprocessedKeys[s.table].Keys
		}
	}
	return items, nil
}

// newToken returns a random write token. Every conditional write stores a
// new one in the item, so that when a write's condition fails the store
// can tell whether the item it finds is its own earlier attempt: the SDK
// retries a request whose response was lost, and the retry of a write that
// did land then fails its own condition.
func newToken() types.AttributeValue {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &types.AttributeValueMemberB{Value: b}
}

// ownWrite reports whether old carries tok: the write that found old was
// already applied by an earlier attempt of the same call.
func ownWrite(old item, tok types.AttributeValue) bool {
	a, ok1 := old[aToken].(*types.AttributeValueMemberB)
	b, ok2 := tok.(*types.AttributeValueMemberB)
	return ok1 && ok2 && bytes.Equal(a.Value, b.Value)
}

func backoff(attempt int) time.Duration {
	return min(time.Duration(1<<min(attempt, 10))*10*time.Millisecond, time.Second)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func ptr[T any](v T) *T { return &v }

func isAlreadyEnabled(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "ValidationException" &&
		strings.Contains(strings.ToLower(api.ErrorMessage()), "already enabled")
}
