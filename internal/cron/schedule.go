package cron

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/borawf/bora/internal/record"
)

// Plan checks a new trigger as Mistral checks one and sets when it first
// fires (Next), and its Remaining when it fires once:
//
//   - it needs a Pattern, a FirstExecution, or both;
//   - a FirstExecution must be in the future; the trigger first fires then,
//     and after that as its pattern says;
//   - without a pattern it fires once, at FirstExecution;
//   - Remaining may not be negative (0 is no limit).
func Plan(t *record.Trigger, now time.Time) error {
	var errs []error
	var p *Pattern
	if t.Pattern != "" {
		var err error
		if p, err = Parse(t.Pattern); err != nil {
			errs = append(errs, err)
		} else {
			t.Pattern = p.String()
		}
	}
	switch {
	case t.Pattern == "" && t.FirstExecution.IsZero():
		errs = append(errs, errors.New("a trigger needs a pattern, a first execution time, or both"))
	case !t.FirstExecution.IsZero() && !t.FirstExecution.After(now):
		errs = append(errs, fmt.Errorf("the first execution time %s is not in the future (it is %s, UTC)",
			t.FirstExecution.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)))
	}
	switch {
	case t.Remaining < 0:
		errs = append(errs, fmt.Errorf("remaining executions %d: want a positive count, or none for no limit", t.Remaining))
	case t.Pattern == "" && t.Remaining > 1:
		errs = append(errs, fmt.Errorf("a trigger without a pattern fires once, at its first execution time: %d remaining executions need a pattern", t.Remaining))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	t.FirstExecution = t.FirstExecution.UTC()
	switch {
	case !t.FirstExecution.IsZero():
		t.Next = t.FirstExecution
	default:
		t.Next = p.Next(now)
	}
	if t.Pattern == "" {
		t.Remaining = 1
	}
	return nil
}

// After returns when t fires next once its fire at t.Next is recorded, at
// now; zero when that fire is its last. A trigger that missed fires (the
// firer was down) fires once for the earliest of them, then at its first
// time after now: a missed fire starts one execution, not a burst.
func After(t *record.Trigger, now time.Time) (time.Time, error) {
	if t.Remaining == 1 || t.Pattern == "" {
		return time.Time{}, nil
	}
	p, err := Parse(t.Pattern)
	if err != nil {
		return time.Time{}, fmt.Errorf("trigger %s: %w", t.Name, err)
	}
	next := p.Next(t.Next)
	if !next.After(now) {
		next = p.Next(now)
	}
	return next, nil
}

// ExecutionID is the id of the execution that t's fire at `at` starts: the
// same for every firer that records that fire, different for every other
// fire and for a trigger created again under the same name.
func ExecutionID(t *record.Trigger, at time.Time) string {
	h := sha256.Sum256(fmt.Appendf(nil, "bora cron trigger\x00%s\x00%s\x00%d", t.Name, t.ID, at.UnixNano()))
	h[6] = h[6]&0x0f | 0x80 // a version-8 (custom) UUID
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
