// Package cron holds Mistral's cron triggers: their patterns (Pattern),
// the schedule of a trigger's fires (Schedule), and the firing (Firer),
// which starts exactly one execution per fire however often it runs and
// wherever it stops (docs/triggers.md).
package cron

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// Pattern is a parsed cron pattern: five fields — minute, hour, day of
// month, month, day of week — of minute resolution, read in UTC, as
// Mistral's cron triggers read them.
//
// A field is `*`, a number, a range `a-b`, a step `*/s`, `a-b/s` or `a/s`
// (from a to the field's end), or a comma-separated list of those. Months
// and days of the week may be named (`jan`-`dec`, `sun`-`sat`); Sunday is
// 0 or 7. When both the day of the month and the day of the week are
// restricted, a day that matches either matches, as cron does. The macros
// @yearly (@annually), @monthly, @weekly, @daily (@midnight) and @hourly
// stand for their five fields.
type Pattern struct {
	text                          string
	minute, hour, dom, month, dow uint64 // bit i set: value i matches
	domStar, dowStar              bool
}

// field describes one field of a pattern.
type field struct {
	name     string
	min, max int
	names    []string // names of min, min+1, ...
}

var fields = [5]field{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{name: "day of week", min: 0, max: 7, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

var macros = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
	"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}

// Parse reads a cron pattern. Its errors say which field is wrong and
// what it may hold.
func Parse(text string) (*Pattern, error) {
	src := strings.TrimSpace(text)
	if m, ok := macros[strings.ToLower(src)]; ok {
		src = m
	}
	parts := strings.Fields(src)
	switch {
	case len(parts) == 6:
		return nil, fmt.Errorf("cron pattern %q has 6 fields: cron triggers fire at minute resolution, so a pattern has 5 (minute hour day-of-month month day-of-week)", text)
	case len(parts) != 5:
		return nil, fmt.Errorf("cron pattern %q has %d fields, want 5: minute hour day-of-month month day-of-week (or @hourly, @daily, @weekly, @monthly, @yearly)", text, len(parts))
	}
	p := &Pattern{text: strings.Join(parts, " ")}
	sets := [5]*uint64{&p.minute, &p.hour, &p.dom, &p.month, &p.dow}
	for i, part := range parts {
		set, err := fields[i].parse(part)
		if err != nil {
			return nil, fmt.Errorf("cron pattern %q: %s field %q: %w", text, fields[i].name, part, err)
		}
		*sets[i] = set
	}
	p.domStar = parts[2] == "*" || parts[2] == "?"
	p.dowStar = parts[4] == "*" || parts[4] == "?"
	if p.dow&(1<<7) != 0 { // Sunday is 0 or 7
		p.dow = p.dow&^(1<<7) | 1
	}
	if p.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("cron pattern %q never matches a date", text)
	}
	return p, nil
}

// String returns the pattern's fields, separated by single spaces.
func (p *Pattern) String() string { return p.text }

func (f field) parse(s string) (uint64, error) {
	var set uint64
	for _, item := range strings.Split(s, ",") {
		lo, hi, step := f.min, f.max, 1
		rng, stepText, hasStep := strings.Cut(item, "/")
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 {
				return 0, fmt.Errorf("step %q is not a positive number", stepText)
			}
			step = n
		}
		switch {
		case rng == "*" || rng == "?":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if lo, err = f.value(a); err != nil {
				return 0, err
			}
			if hi, err = f.value(b); err != nil {
				return 0, err
			}
			if lo > hi {
				return 0, fmt.Errorf("range %s runs backwards", rng)
			}
		default:
			v, err := f.value(rng)
			if err != nil {
				return 0, err
			}
			lo = v
			if !hasStep {
				hi = v
			}
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << v
		}
	}
	return set, nil
}

// value reads one number or name of the field.
func (f field) value(s string) (int, error) {
	for i, n := range f.names {
		if strings.EqualFold(s, n) {
			return f.min + i, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < f.min || v > f.max {
		what := fmt.Sprintf("a number from %d to %d", f.min, f.max)
		if len(f.names) > 0 {
			what += fmt.Sprintf(" or a name (%s-%s)", f.names[0], f.names[len(f.names)-1])
		}
		return 0, fmt.Errorf("%q is not %s", s, what)
	}
	return v, nil
}

// searchYears bounds the search for a matching time: a pattern that
// matches at all matches within 8 years (29 February of a leap year).
const searchYears = 9

// Next returns the first time after t, at a whole minute, that the pattern
// matches, in UTC; zero if there is none.
func (p *Pattern) Next(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Minute).Add(time.Minute)
	end := t.AddDate(searchYears, 0, 0)
	for t.Before(end) {
		switch {
		case p.month&(1<<int(t.Month())) == 0:
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		case !p.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
		case p.hour&(1<<t.Hour()) == 0:
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, time.UTC)
		case p.minute&(1<<t.Minute()) == 0:
			// The next matching minute of this hour, else the next hour.
			rest := p.minute >> t.Minute()
			if rest == 0 {
				t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, time.UTC)
			} else {
				t = t.Add(time.Duration(bits.TrailingZeros64(rest)) * time.Minute)
			}
		default:
			return t
		}
	}
	return time.Time{}
}

func (p *Pattern) dayMatches(t time.Time) bool {
	dom := p.dom&(1<<t.Day()) != 0
	dow := p.dow&(1<<int(t.Weekday())) != 0
	switch {
	case p.domStar:
		return dow
	case p.dowStar:
		return dom
	}
	return dom || dow
}
