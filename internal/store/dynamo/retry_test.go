package dynamo

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

// landed is a DynamoDBAPI whose conditional writes fail their condition
// and report, as the item found, the item the write would have produced:
// what a retried request sees after its first attempt landed. When
// ownToken is false, the item carries someone else's write token.
type landed struct {
	DynamoDBAPI
	ownToken bool
	old      item // the item before the write (UpdateItem)
}

func (l *landed) token(v types.AttributeValue) types.AttributeValue {
	if l.ownToken {
		return v
	}
	return newToken()
}

func (l *landed) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	it := maps.Clone(in.Item)
	it[aToken] = l.token(in.Item[aToken])
	return nil, &types.ConditionalCheckFailedException{Message: ptr("failed"), Item: it}
}

func (l *landed) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	it := maps.Clone(l.old)
	it[aState] = in.ExpressionAttributeValues[":"+aState]
	it[aToken] = l.token(in.ExpressionAttributeValues[":"+aToken])
	return nil, &types.ConditionalCheckFailedException{Message: ptr("failed"), Item: it}
}

func TestRetriedWriteThatLanded(t *testing.T) {
	t.Parallel()
	at := time.Unix(1700000000, 0).UTC()
	u := &record.Unit{UnitKey: record.UnitKey{ExecID: "e", Task: "a#1", Item: 1}, State: record.Scheduled, Attempt: 1, Fence: "f", Due: at}
	claim := func(s *Store) error {
		_, err := s.UpdateUnit(t.Context(), u.UnitKey,
			record.Expect{States: []record.State{record.Scheduled}, Attempt: 1, Fence: "f"},
			record.UnitChange{State: record.Running, Due: at.Add(time.Minute)})
		return err
	}
	tests := []struct {
		name    string
		write   func(s *Store) error
		foreign error // the error when the item found is another writer's
	}{
		{"create", func(s *Store) error { return s.CreateUnit(t.Context(), u) }, store.ErrExists},
		{"commit", func(s *Store) error {
			return s.CommitExecution(t.Context(), &record.Execution{ID: "e", State: record.ExecRunning, Version: 1})
		}, store.ErrConflict},
		{"claim", claim, store.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			own := &landed{ownToken: true}
			own.old = New(own, "t").encodeUnit(u)
			if err := tt.write(New(own, "t")); err != nil {
				t.Errorf("write whose first attempt landed: %v, want success", err)
			}
			other := &landed{}
			other.old = New(other, "t").encodeUnit(u)
			if err := tt.write(New(other, "t")); !errors.Is(err, tt.foreign) {
				t.Errorf("write that lost to another writer: %v, want %v", err, tt.foreign)
			}
		})
	}
}
