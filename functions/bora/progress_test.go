package main

import (
	"testing"

	"github.com/borawf/bora/internal/record"
)

func TestAttempts(t *testing.T) {
	t.Parallel()
	u := func(attempts ...int) []*record.Unit {
		var us []*record.Unit
		for _, a := range attempts {
			us = append(us, &record.Unit{Attempt: a})
		}
		return us
	}
	for _, tt := range []struct {
		name  string
		units []*record.Unit
		want  string
	}{
		{"one attempt", u(1), ""},
		{"retried", u(3), " (3 attempts)"},
		{"items, none retried", u(1, 1, 1), ""},
		{"items, some retried", u(1, 2, 1, 4), " (2 of 4 items retried)"},
		{"no units", nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := attempts(tt.units); got != tt.want {
				t.Errorf("attempts = %q, want %q", got, tt.want)
			}
		})
	}
}
