package store

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestDefinitionParts(t *testing.T) {
	t.Parallel()
	const room = 1000
	rng := rand.New(rand.NewPCG(3, 4))
	noise := make([]byte, 5000)
	for i := range noise {
		noise[i] = byte(rng.IntN(255) + 1)
	}
	tests := []struct {
		name  string
		src   []byte
		parts int
	}{
		{"fits", []byte("version: '2.0'\n"), 1},
		{"exactly a part", bytes.Repeat([]byte("a"), room), 1},
		{"compresses into one", []byte(strings.Repeat("task: std.echo\n", 500)), 1},
		{"several parts", noise, 6},
		{"looks like a header", []byte(partHeader + "1 00\n"), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := EncodeDefinition("definition d", tt.src, room)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Parts) != tt.parts {
				t.Errorf("%d parts, want %d", len(p.Parts), tt.parts)
			}
			for i, part := range p.Parts {
				if len(part) > room {
					t.Errorf("part %d is %d bytes, over %d", i, len(part), room)
				}
			}
			n, hash, err := PartsOf(p.Parts[0])
			if err != nil || n != len(p.Parts) || hash != p.Hash {
				t.Errorf("PartsOf = %d, %q, %v; want %d, %q", n, hash, err, len(p.Parts), p.Hash)
			}
			got, err := DecodeDefinition(p.Parts)
			if err != nil || !bytes.Equal(got, tt.src) {
				t.Fatalf("DecodeDefinition = %d bytes, %v; want the %d bytes put", len(got), err, len(tt.src))
			}
		})
	}
	p, err := EncodeDefinition("definition d", noise, room)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeDefinition(p.Parts[:3]); err == nil {
		t.Error("a definition missing parts decoded")
	}
	swapped := append([][]byte{p.Parts[0], p.Parts[2], p.Parts[1]}, p.Parts[3:]...)
	if _, err := DecodeDefinition(swapped); err == nil {
		t.Error("a definition with its parts out of order decoded")
	}
	var tl *TooLargeError
	if _, err := EncodeDefinition("definition d", make([]byte, MaxDefinitionBytes+1), room); !errors.As(err, &tl) {
		t.Errorf("a source over MaxDefinitionBytes: %v, want a *TooLargeError", err)
	}
}
