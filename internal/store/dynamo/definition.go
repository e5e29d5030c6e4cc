package dynamo

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/borawf/bora/internal/store"
)

// Definitions live in two places. Each version is an immutable item
// (pk WF#<name>, sk V#<version, 10 digits>). A deletion is a marker item
// right after the version it deleted (sk V#<version>~, which sorts after
// V#<version> and before V#<version+1>), so that the one query that reads
// the latest version also says whether the definition was deleted since,
// and the next version is numbered on. And the catalog (pk WF, sk <name>)
// holds one item per definition with its latest version, for listing by
// name; a deleted definition's item has gone (the version deleted).
const (
	catalogPK   = "WF"
	deletedMark = "~"
	aLatest     = "latest"
	aGone       = "gone"
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
		latest, ver, deleted, err := s.latestDefinition(ctx, name)
		if err != nil {
			return 0, fmt.Errorf("put %s: %w", what, err)
		}
		if ver > 0 && !deleted && bytes.Equal(latest, src) {
			// The catalog is written after the version: make sure an
			// interrupted put is listed.
			return ver, s.catalog(ctx, name, ver)
		}
		b.it[aSK] = str(defSK(ver + 1))
		err = s.create(ctx, fmt.Sprintf("%s v%d", what, ver+1), b.it)
		if err == nil {
			return ver + 1, s.catalog(ctx, name, ver+1)
		}
		if !isExists(err) || attempt >= 20 {
			return 0, fmt.Errorf("put %s: %w", what, err)
		}
	}
}

// catalog records ver as the latest version of name in the catalog,
// unless a later one is recorded already.
func (s *Store) catalog(ctx context.Context, name string, ver int) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       key(catalogPK, name),
		UpdateExpression:          ptr("SET #latest = :v, #updated = :t REMOVE #gone"),
		ConditionExpression:       ptr("attribute_not_exists(#latest) OR #latest < :v"),
		ExpressionAttributeNames:  names(aLatest, aUpdated, aGone),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": num(int64(ver)), ":t": num(s.now().UnixNano())},
		ReturnConsumedCapacity:    capacity,
	})
	if _, ok := conditionFailed(err); ok {
		return nil
	}
	if err != nil {
		return fmt.Errorf("catalog definition %s v%d: %w", name, ver, err)
	}
	return nil
}

// uncatalog marks name as deleted through version ver in the catalog,
// unless a later version is recorded.
func (s *Store) uncatalog(ctx context.Context, name string, ver int) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       key(catalogPK, name),
		UpdateExpression:          ptr("SET #gone = :v"),
		ConditionExpression:       ptr("attribute_exists(#latest) AND #latest <= :v"),
		ExpressionAttributeNames:  names(aLatest, aGone),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": num(int64(ver))},
		ReturnConsumedCapacity:    capacity,
	})
	if _, ok := conditionFailed(err); ok {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete definition %s from the catalog: %w", name, err)
	}
	return nil
}

// GetDefinition reads one version of name; version 0 is the latest.
func (s *Store) GetDefinition(ctx context.Context, name string, version int) ([]byte, int, error) {
	if version == 0 {
		src, ver, deleted, err := s.latestDefinition(ctx, name)
		if err != nil {
			return nil, 0, fmt.Errorf("get definition %s: %w", name, err)
		}
		if ver == 0 || deleted {
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

// ListDefinitions pages through the catalog, by name.
func (s *Store) ListDefinitions(ctx context.Context, q store.DefinitionQuery) ([]store.DefinitionInfo, string, error) {
	limit := cmp.Or(max(q.Limit, 0), 100)
	cond := "#pk = :pk"
	nm := names(aPK, aGone)
	values := map[string]types.AttributeValue{":pk": str(catalogPK)}
	if q.Prefix != "" {
		cond += " AND begins_with(#sk, :prefix)"
		nm["#"+aSK] = aSK
		values[":prefix"] = str(q.Prefix)
	}
	in := &dynamodb.QueryInput{
		TableName:                 &s.table,
		KeyConditionExpression:    &cond,
		FilterExpression:          ptr("attribute_not_exists(#gone)"),
		ExpressionAttributeNames:  nm,
		ExpressionAttributeValues: values,
		ConsistentRead:            ptr(true),
		Limit:                     ptr(int32(limit + 1)),
		ReturnConsumedCapacity:    capacity,
	}
	if q.Cursor != "" {
		in.ExclusiveStartKey = key(catalogPK, q.Cursor)
	}
	var page []store.DefinitionInfo
	for len(page) <= limit {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, "", fmt.Errorf("list definitions: %w", err)
		}
		for _, it := range out.Items {
			r := reader{it: it}
			d := store.DefinitionInfo{Name: r.s(aSK), Latest: int(r.n(aLatest)), UpdatedAt: r.t(aUpdated)}
			if r.err != nil {
				return nil, "", fmt.Errorf("list definitions: %w", r.err)
			}
			page = append(page, d)
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	next := ""
	if len(page) > limit {
		page = page[:limit]
		next = page[limit-1].Name
	}
	return page, next, nil
}

// DeleteDefinition writes the deletion marker after the latest version,
// then marks the catalog's item.
func (s *Store) DeleteDefinition(ctx context.Context, name string) error {
	_, ver, deleted, err := s.latestDefinition(ctx, name)
	if err != nil {
		return fmt.Errorf("delete definition %s: %w", name, err)
	}
	if ver == 0 {
		return fmt.Errorf("definition %s: %w", name, store.ErrNotFound)
	}
	if deleted {
		// Finish a deletion that was interrupted before the catalog.
		if err := s.uncatalog(ctx, name, ver); err != nil {
			return err
		}
		return fmt.Errorf("definition %s: %w", name, store.ErrNotFound)
	}
	b := newItem(defPK(name), defSK(ver)+deletedMark)
	if err := s.create(ctx, fmt.Sprintf("deletion of definition %s", name), b.it); isExists(err) {
		return fmt.Errorf("definition %s: %w", name, store.ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("delete definition %s: %w", name, err)
	}
	return s.uncatalog(ctx, name, ver)
}

// latestDefinition returns the newest version of name, or version 0, and
// whether the definition was deleted after it.
func (s *Store) latestDefinition(ctx context.Context, name string) (src []byte, ver int, deleted bool, err error) {
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
		return nil, 0, false, err
	}
	if len(out.Items) == 0 {
		return nil, 0, false, nil
	}
	r := reader{it: out.Items[0]}
	sk := r.s(aSK)
	num, deleted := strings.CutSuffix(strings.TrimPrefix(sk, "V#"), deletedMark)
	ver, err = strconv.Atoi(num)
	if err != nil {
		return nil, 0, false, fmt.Errorf("malformed definition key %q: %w", sk, err)
	}
	if deleted {
		return nil, ver, true, nil
	}
	src = r.bytes(aSource)
	return src, ver, false, r.err
}
