package dynamo

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/borawf/bora/internal/store"
)

// PutDefinition stores src as the next version of name, unless it equals the
// latest. Concurrent puts race on the conditional create of V#<n+1>; a loser
// reads the new latest and tries again.
func (s *Store) PutDefinition(ctx context.Context, name string, src []byte) (int, error) {
	what := "definition " + name
	b := newItem(defPK(name), "")
	b.raw(aSource, src)
	if err := checkSize(what, b.it); err != nil {
		return 0, err
	}
	for attempt := 0; ; attempt++ {
		latest, ver, err := s.latestDefinition(ctx, name)
		if err != nil {
			return 0, fmt.Errorf("put %s: %w", what, err)
		}
		if ver > 0 && bytes.Equal(latest, src) {
			return ver, nil
		}
		b.it[aSK] = str(defSK(ver + 1))
		err = s.create(ctx, fmt.Sprintf("%s v%d", what, ver+1), b.it)
		if err == nil {
			return ver + 1, nil
		}
		if !isExists(err) || attempt >= 20 {
			return 0, fmt.Errorf("put %s: %w", what, err)
		}
	}
}

// GetDefinition reads one version of name; version 0 is the latest.
func (s *Store) GetDefinition(ctx context.Context, name string, version int) ([]byte, int, error) {
	if version == 0 {
		src, ver, err := s.latestDefinition(ctx, name)
		if err != nil {
			return nil, 0, fmt.Errorf("get definition %s: %w", name, err)
		}
		if ver == 0 {
			return nil, 0, fmt.Errorf("definition %s: %w", name, store.ErrNotFound)
		}
		return src, ver, nil
	}
	it, err := s.get(ctx, key(defPK(name), defSK(version)))
	if err != nil {
		return nil, 0, fmt.Errorf("get definition %s v%d: %w", name, version, err)
	}
	if it == nil {
		return nil, 0, fmt.Errorf("definition %s v%d: %w", name, version, store.ErrNotFound)
	}
	r := reader{it: it}
	src := r.bytes(aSource)
	if r.err != nil {
		return nil, 0, fmt.Errorf("decode definition %s v%d: %w", name, version, r.err)
	}
	return src, version, nil
}

// latestDefinition returns the newest version of name, or version 0.
func (s *Store) latestDefinition(ctx context.Context, name string) ([]byte, int, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 &s.table,
		KeyConditionExpression:    ptr("#pk = :pk AND begins_with(#sk, :v)"),
		ExpressionAttributeNames:  names(aPK, aSK),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(defPK(name)), ":v": str("V#")},
		ScanIndexForward:          ptr(false),
		Limit:                     ptr[int32](1),
		ConsistentRead:            ptr(true),
		ReturnConsumedCapacity:    capacity,
	})
	if err != nil {
		return nil, 0, err
	}
	if len(out.Items) == 0 {
		return nil, 0, nil
	}
	r := reader{it: out.Items[0]}
	ver, err := strconv.Atoi(strings.TrimPrefix(r.s(aSK), "V#"))
	if err != nil {
		return nil, 0, fmt.Errorf("malformed definition key %q: %w", r.s(aSK), err)
	}
	src := r.bytes(aSource)
	return src, ver, r.err
}
