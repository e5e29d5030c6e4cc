package cron

import (
	"strings"
	"testing"
	"time"
)

func at(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestNext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, after string
		want           []string // the next fires, in order
	}{
		{"* * * * *", "2026-01-01 10:00", []string{"2026-01-01 10:01", "2026-01-01 10:02"}},
		{"*/15 * * * *", "2026-01-01 10:07", []string{"2026-01-01 10:15", "2026-01-01 10:30", "2026-01-01 10:45", "2026-01-01 11:00"}},
		{"5 * * * *", "2026-01-01 10:05", []string{"2026-01-01 11:05", "2026-01-01 12:05"}},
		{"0 9-17/4 * * *", "2026-01-01 10:00", []string{"2026-01-01 13:00", "2026-01-01 17:00", "2026-01-02 09:00"}},
		{"30 2 1,15 * *", "2026-01-10 00:00", []string{"2026-01-15 02:30", "2026-02-01 02:30"}},
		{"0 0 * * mon-fri", "2026-01-02 12:00", []string{"2026-01-05 00:00", "2026-01-06 00:00"}}, // Friday → Monday
		{"0 0 * * 7", "2026-01-01 00:00", []string{"2026-01-04 00:00", "2026-01-11 00:00"}},       // 7 is Sunday
		{"0 0 13 * fri", "2026-02-01 00:00", []string{"2026-02-06 00:00", "2026-02-13 00:00", "2026-02-20 00:00"}},
		{"0 0 31 * *", "2026-01-31 00:00", []string{"2026-03-31 00:00", "2026-05-31 00:00"}},
		{"0 0 29 feb *", "2026-01-01 00:00", []string{"2028-02-29 00:00", "2032-02-29 00:00"}},
		{"0 12 * JAN,Jul *", "2026-01-31 12:00", []string{"2026-07-01 12:00"}},
		{"10/20 * * * *", "2026-01-01 10:00", []string{"2026-01-01 10:10", "2026-01-01 10:30", "2026-01-01 10:50", "2026-01-01 11:10"}},
		{"@hourly", "2026-01-01 10:00", []string{"2026-01-01 11:00"}},
		{"@daily", "2026-01-01 10:00", []string{"2026-01-02 00:00"}},
		{"@weekly", "2026-01-01 10:00", []string{"2026-01-04 00:00"}},
		{"@monthly", "2026-01-01 10:00", []string{"2026-02-01 00:00"}},
		{"@yearly", "2026-01-01 10:00", []string{"2027-01-01 00:00"}},
		{"59 23 31 12 *", "2026-12-31 23:59", []string{"2027-12-31 23:59"}},
	}
	for _, tt := range tests {
		p, err := Parse(tt.pattern)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.pattern, err)
			continue
		}
		cur := at(tt.after)
		for _, w := range tt.want {
			cur = p.Next(cur)
			if !cur.Equal(at(w)) {
				t.Errorf("%q after %s: got %s, want %s", tt.pattern, tt.after, cur.Format("2006-01-02 15:04 Mon"), w)
				break
			}
		}
	}
}

func TestNextIsAfterAndWhole(t *testing.T) {
	t.Parallel()
	p, err := Parse("* * * * *")
	if err != nil {
		t.Fatal(err)
	}
	base := at("2026-03-01 10:00")
	for _, off := range []time.Duration{0, time.Second, 59 * time.Second, time.Minute - time.Nanosecond} {
		if got := p.Next(base.Add(off)); !got.Equal(at("2026-03-01 10:01")) {
			t.Errorf("Next(10:00 + %v) = %s, want 10:01", off, got)
		}
	}
	// A time in another zone is read as the same instant, the answer in UTC.
	zone := time.FixedZone("X", 5*3600+1800)
	if got := p.Next(base.In(zone)); !got.Equal(at("2026-03-01 10:01")) || got.Location() != time.UTC {
		t.Errorf("Next in another zone = %s", got)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ pattern, want string }{
		{"", "has 0 fields, want 5"},
		{"* * * *", "has 4 fields, want 5"},
		{"0 * * * * *", "has 6 fields: cron triggers fire at minute resolution"},
		{"60 * * * *", `minute field "60": "60" is not a number from 0 to 59`},
		{"* 24 * * *", `hour field "24": "24" is not a number from 0 to 23`},
		{"* * 0 * *", `day of month field "0"`},
		{"* * * 13 *", `month field "13": "13" is not a number from 1 to 12 or a name (jan-dec)`},
		{"* * * * 8", `day of week field "8": "8" is not a number from 0 to 7 or a name (sun-sat)`},
		{"* * * * funday", `"funday" is not a number`},
		{"*/0 * * * *", `step "0" is not a positive number`},
		{"5-1 * * * *", "range 5-1 runs backwards"},
		{"0 0 30 2 *", "never matches a date"},
		{"@often", "has 1 fields, want 5"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.pattern)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tt.pattern, err, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"* * * * *", "*/5 1-3 1,15 jan-mar mon", "@daily", "0 0 29 2 *", "1-59/7 */3 ? * 7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		after := at("2026-01-01 00:00")
		n := p.Next(after)
		if n.IsZero() || !n.After(after) || n.Second() != 0 || n.Nanosecond() != 0 {
			t.Fatalf("Parse(%q).Next = %v", s, n)
		}
		if again, err := Parse(p.String()); err != nil || !again.Next(after).Equal(n) {
			t.Fatalf("%q does not read back as itself: %v", p.String(), err)
		}
	})
}
