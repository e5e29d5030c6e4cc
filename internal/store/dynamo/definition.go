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
// reads the new latest and tries again. A source larger than an item is
// stored compressed, in parts (store.EncodeDefinition): the first in V#<n>,
// the others in items of their own (VP#...), written before it.
func (s *Store) PutDefinition(ctx context.Context, name string, src []byte) (int, error) {
	what := "definition " + name
	// Compressed parts are binary: DynamoDB counts their bytes, but some
	// emulators count their base64 text, a third more; parts are cut to
	// fit both.
	room := (store.MaxItemBytes - itemSize(map[string]types.AttributeValue{
		aPK: str(defPK(name)), aSK: str(defPartSK(0, "0123456789abcdef", 9999)), aToken: newToken(), aSource: raw(nil)}) - 64) * 3 / 4
	parts, err := store.EncodeDefinition(what, src, room)
	if err != nil {
		return 0, err
	}
	b := newItem(defPK(name), "")
	b.raw(aSource, parts.Parts[0])
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
		for i, p := range parts.Parts[1:] {
			pb := newItem(defPK(name), defPartSK(ver+1, parts.Hash, i+1))
			pb.raw(aSource, p)
			if err := s.put(ctx, fmt.Sprintf("%s v%d part %d", what, ver+1, i+1), pb.it); err != nil {
				return 0, fmt.Errorf("put %s: %w", what, err)
			}
		}
		b.it[aSK] = str(defSK(ver + 1))
		err = s.create(ctx, fmt.Sprintf("%s v%d", what, ver+1), b.it)
		if err == nil {
			return ver + 1, s.catalog(ctx, name, ver+1)
		}
		// Another writer took this version: parts written for it under
		// our hash stay, unread (its own have another hash).
		if !isExists(err) || attempt >= 20 {
			return 0, fmt.Errorf("put %s: %w", what, err)
		}
	}
}

// defPartSK names part i (from 1) of version ver of a definition whose
// source hashes to hash. Its prefix is not "V#", so that the query for the
// latest version never meets a part.
func defPartSK(ver int, hash string, i int) string {
	return fmt.Sprintf("VP#%010d#%s#%04d", ver, hash, i)
}

// put writes an item, replacing one of its key (a definition's part,
// which is the same whoever writes it).
func (s *Store) put(ctx context.Context, what string, it item) error {
	if err := checkSize(what, it); err != nil {
		return err
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: it, ReturnConsumedCapacity: capacity})
	if err != nil {
		return fmt.Errorf("put %s: %w", what, translate(what, err))
	}
	return nil
}

// source joins a definition's stored parts: the first as read, the
// others read by their keys.
func (s *Store) source(ctx context.Context, name string, ver int, first []byte) ([]byte, error) {
	n, hash, err := store.PartsOf(first)
	if err != nil || n == 1 {
		return store.DecodeDefinition([][]byte{first})
	}
	parts := [][]byte{first}
	for i := 1; i < n; i++ {
		it, err := s.get(ctx, key(defPK(name), defPartSK(ver, hash, i)))
		if err != nil {
			return nil, err
		}
		if it == nil {
			return nil, fmt.Errorf("part %d of %d is missing", i, n)
		}
		r := reader{it: it}
		parts = append(parts, r.bytes(aSource))
		if r.err != nil {
			return nil, r.err
		}
	}
	return store.DecodeDefinition(parts)
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
	first := r.bytes(aSource)
	if r.err != nil {
		return nil, 0, fmt.Errorf("decode definition %s v%d: %w", name, version, r.err)
	}
	src, err := s.source(ctx, name, version, first)
	if err != nil {
		return nil, 0, fmt.Errorf("read definition %s v%d: %w", name, version, err)
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
	first := r.bytes(aSource)
	if r.err != nil {
		return nil, 0, false, r.err
	}
	if src, err = s.source(ctx, name, ver, first); err != nil {
		return nil, 0, false, fmt.Errorf("read definition %s v%d: %w", name, ver, err)
	}
	return src, ver, false, nil
}
