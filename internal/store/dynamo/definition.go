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
// reads the new latest and tries again. A source larger than an item is
// stored compressed, in parts (store.EncodeDefinition): the first in V#<n>,
// the others in items of their own, written before it.
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
	for attempt := 0; ; attempt++ {
		latest, ver, err := s.latestDefinition(ctx, name)
		if err != nil {
			return 0, fmt.Errorf("put %s: %w", what, err)
		}
		if ver > 0 && bytes.Equal(latest, src) {
			return ver, nil
		}
		next := ver + 1
		for i, p := range parts.Parts[1:] {
			b := newItem(defPK(name), defPartSK(next, parts.Hash, i+1))
			b.raw(aSource, p)
			if err := s.put(ctx, fmt.Sprintf("%s v%d part %d", what, next, i+1), b.it); err != nil {
				return 0, fmt.Errorf("put %s: %w", what, err)
			}
		}
		b := newItem(defPK(name), defSK(next))
		b.raw(aSource, parts.Parts[0])
		err = s.create(ctx, fmt.Sprintf("%s v%d", what, next), b.it)
		if err == nil {
			return next, nil
		}
		// Another writer took this version: the parts written for it
		// under our hash stay, unread (its own have another hash).
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
	first := r.bytes(aSource)
	if r.err != nil {
		return nil, 0, r.err
	}
	src, err := s.source(ctx, name, ver, first)
	if err != nil {
		return nil, 0, fmt.Errorf("read definition %s v%d: %w", name, ver, err)
	}
	return src, ver, nil
}
