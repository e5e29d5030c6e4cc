package store

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A workflow definition may be larger than one item (a big workbook is; a
// DynamoDB item holds 400 KB). Adapters store such a definition compressed,
// and in parts when even compressed it is larger than an item: the parts
// EncodeDefinition gives, the first in the definition's own item, the
// others in items of their own named by the first part's header.

// MaxDefinitionBytes bounds a definition's source, whatever its parts.
const MaxDefinitionBytes = 4 << 20

// partHeader starts the first part of a definition that is stored
// compressed: "\x00bora-def gzip <parts> <hash>\n". YAML never starts
// with a NUL byte, so a source stored as it is never looks like one.
const partHeader = "\x00bora-def gzip "

// DefinitionParts is a definition's source as stored.
type DefinitionParts struct {
	// Parts are the stored values; Parts[0] goes in the definition's
	// item. A source that fits is stored as it is, in one part.
	Parts [][]byte
	// Hash names the parts beyond the first (the first's header holds
	// it): writers of different sources for one version never overwrite
	// each other's parts. Empty for a definition in one part.
	Hash string
}

// EncodeDefinition splits src into parts of at most room bytes each: src
// itself when it fits, else its gzip compression, cut into as many parts as
// it needs, the first led by a header. It refuses a source over
// MaxDefinitionBytes.
func EncodeDefinition(what string, src []byte, room int) (*DefinitionParts, error) {
	if len(src) > MaxDefinitionBytes {
		return nil, &TooLargeError{What: what, Size: len(src), Limit: MaxDefinitionBytes}
	}
	if len(src) <= room && !bytes.HasPrefix(src, []byte(partHeader)) {
		return &DefinitionParts{Parts: [][]byte{src}}, nil
	}
	var z bytes.Buffer
	w, err := gzip.NewWriterLevel(&z, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("compress %s: %w", what, err)
	}
	if _, err := w.Write(src); err != nil {
		return nil, fmt.Errorf("compress %s: %w", what, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("compress %s: %w", what, err)
	}
	sum := sha256.Sum256(src)
	hash := hex.EncodeToString(sum[:8])
	data := z.Bytes()
	// The header's part count has at most 4 digits at these sizes.
	first := room - len(partHeader) - len("0000 ") - len(hash) - 1
	if first <= 0 {
		return nil, fmt.Errorf("store %s: an item of %d bytes cannot hold a part", what, room)
	}
	n := 1
	if len(data) > first {
		n += (len(data) - first + room - 1) / room
	}
	head := fmt.Sprintf("%s%d %s\n", partHeader, n, hash)
	parts := make([][]byte, 0, n)
	cut := min(first, len(data))
	parts = append(parts, append([]byte(head), data[:cut]...))
	for data = data[cut:]; len(data) > 0; {
		k := min(room, len(data))
		parts = append(parts, data[:k])
		data = data[k:]
	}
	return &DefinitionParts{Parts: parts, Hash: hash}, nil
}

// PartsOf reads the header of a definition's first stored part: how many
// parts it has and the hash that names the others. A source stored as it
// is has one part and no hash.
func PartsOf(first []byte) (n int, hash string, err error) {
	if !bytes.HasPrefix(first, []byte(partHeader)) {
		return 1, "", nil
	}
	line, _, ok := bytes.Cut(first[len(partHeader):], []byte("\n"))
	fields := strings.Fields(string(line))
	if !ok || len(fields) != 2 {
		return 0, "", fmt.Errorf("a stored definition has a malformed header")
	}
	if n, err = strconv.Atoi(fields[0]); err != nil || n < 1 {
		return 0, "", fmt.Errorf("a stored definition has a malformed part count %q", fields[0])
	}
	return n, fields[1], nil
}

// DecodeDefinition joins a definition's stored parts back into its source.
func DecodeDefinition(parts [][]byte) ([]byte, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("a stored definition has no parts")
	}
	n, hash, err := PartsOf(parts[0])
	if err != nil {
		return nil, err
	}
	if hash == "" {
		return parts[0], nil
	}
	if len(parts) != n {
		return nil, fmt.Errorf("a stored definition has %d of its %d parts", len(parts), n)
	}
	_, data, _ := bytes.Cut(parts[0], []byte("\n"))
	all := bytes.Join(append([][]byte{data}, parts[1:]...), nil)
	r, err := gzip.NewReader(bytes.NewReader(all))
	if err != nil {
		return nil, fmt.Errorf("decompress a stored definition: %w", err)
	}
	src, err := io.ReadAll(io.LimitReader(r, MaxDefinitionBytes+1))
	if err != nil {
		return nil, fmt.Errorf("decompress a stored definition: %w", err)
	}
	if len(src) > MaxDefinitionBytes {
		return nil, fmt.Errorf("a stored definition decompresses to more than %d bytes", MaxDefinitionBytes)
	}
	sum := sha256.Sum256(src)
	if hex.EncodeToString(sum[:8]) != hash {
		return nil, fmt.Errorf("a stored definition's parts do not match its hash")
	}
	return src, nil
}
