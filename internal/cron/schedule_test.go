package cron

import (
	"strings"
	"testing"
	"time"

	"github.com/borawf/bora/internal/record"
)

func TestPlan(t *testing.T) {
	t.Parallel()
	now := at("2026-03-01 10:00").Add(30 * time.Second)
	tests := []struct {
		name          string
		pattern       string
		first         string
		remaining     int
		wantNext      string
		wantRemaining int
		wantErr       string
	}{
		{name: "pattern", pattern: "*/15 * * * *", wantNext: "2026-03-01 10:15"},
		{name: "pattern and count", pattern: "0 * * * *", remaining: 3, wantNext: "2026-03-01 11:00", wantRemaining: 3},
		{name: "first time, then the pattern", pattern: "0 * * * *", first: "2026-03-01 10:20", wantNext: "2026-03-01 10:20"},
		{name: "first time alone fires once", first: "2026-03-02 08:00", wantNext: "2026-03-02 08:00", wantRemaining: 1},
		{name: "first time alone, count 1", first: "2026-03-02 08:00", remaining: 1, wantNext: "2026-03-02 08:00", wantRemaining: 1},
		{name: "the fields are tidied", pattern: "  0   * * * *", wantNext: "2026-03-01 11:00"},
		{name: "nothing", wantErr: "a trigger needs a pattern, a first execution time, or both"},
		{name: "bad pattern", pattern: "* * *", wantErr: "has 3 fields"},
		{name: "first time past", pattern: "* * * * *", first: "2026-03-01 09:59", wantErr: "the first execution time 2026-03-01T09:59:00Z is not in the future"},
		{name: "negative count", pattern: "* * * * *", remaining: -1, wantErr: "remaining executions -1"},
		{name: "count without pattern", first: "2026-03-02 08:00", remaining: 2, wantErr: "2 remaining executions need a pattern"},
		{name: "every error at once", pattern: "x", remaining: -2, wantErr: "remaining executions -2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &record.Trigger{Name: "t", Pattern: tt.pattern, Remaining: tt.remaining}
			if tt.first != "" {
				tr.FirstExecution = at(tt.first)
			}
			err := Plan(tr, now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Plan = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tr.Next.Equal(at(tt.wantNext)) || tr.Remaining != tt.wantRemaining {
				t.Errorf("next %s, remaining %d; want %s, %d", tr.Next, tr.Remaining, tt.wantNext, tt.wantRemaining)
			}
		})
	}
}

func TestAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		pattern   string
		next, now string
		remaining int
		want      string // "" for no next fire
	}{
		{name: "on time", pattern: "*/5 * * * *", next: "2026-03-01 10:05", now: "2026-03-01 10:05", want: "2026-03-01 10:10"},
		{name: "late within the period", pattern: "*/5 * * * *", next: "2026-03-01 10:05", now: "2026-03-01 10:09", want: "2026-03-01 10:10"},
		{name: "missed fires are skipped", pattern: "*/5 * * * *", next: "2026-03-01 10:05", now: "2026-03-01 13:02", want: "2026-03-01 13:05"},
		{name: "missed up to now", pattern: "*/5 * * * *", next: "2026-03-01 10:05", now: "2026-03-01 13:05", want: "2026-03-01 13:10"},
		{name: "last remaining", pattern: "*/5 * * * *", next: "2026-03-01 10:05", now: "2026-03-01 10:05", remaining: 1},
		{name: "some remaining", pattern: "*/5 * * * *", next: "2026-03-01 10:05", now: "2026-03-01 10:05", remaining: 2, want: "2026-03-01 10:10"},
		{name: "no pattern", next: "2026-03-01 10:05", now: "2026-03-01 10:05"},
		{name: "a first time off the pattern", pattern: "0 * * * *", next: "2026-03-01 10:20", now: "2026-03-01 10:20", want: "2026-03-01 11:00"},
	}
	for _, tt := range tests {
		tr := &record.Trigger{Pattern: tt.pattern, Next: at(tt.next), Remaining: tt.remaining}
		got, err := After(tr, at(tt.now))
		if err != nil {
			t.Fatal(err)
		}
		var want time.Time
		if tt.want != "" {
			want = at(tt.want)
		}
		if !got.Equal(want) {
			t.Errorf("%s: After = %s, want %s", tt.name, got, want)
		}
	}
}

func TestExecutionID(t *testing.T) {
	t.Parallel()
	a := &record.Trigger{Name: "n", ID: "1"}
	fire := at("2026-03-01 10:00")
	ids := map[string]bool{}
	for _, id := range []string{
		ExecutionID(a, fire),
		ExecutionID(a, fire.Add(time.Minute)),
		ExecutionID(&record.Trigger{Name: "n", ID: "2"}, fire),
		ExecutionID(&record.Trigger{Name: "m", ID: "1"}, fire),
	} {
		if ids[id] || len(id) != 36 {
			t.Errorf("id %q repeats or is not a UUID", id)
		}
		ids[id] = true
	}
	if ExecutionID(a, fire) != ExecutionID(&record.Trigger{Name: "n", ID: "1", Pattern: "x"}, fire.In(time.FixedZone("X", 3600))) {
		t.Error("the same fire of the same trigger has two ids")
	}
}
