package expr

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// YAQL's dates and times: now(), datetime(), timespan() and the operations
// on them, as yaql's date_time library has them. A datetime or a timespan
// lives only while an expression is evaluated: what an evaluation returns
// holds a datetime as the text Mistral stores
// ("2020-01-02T03:04:05.000000", UTC offset dropped) and a timespan as
// Python's text of it ("1 day, 2:03:04").

// DateTime is a YAQL datetime: an instant with its UTC offset, to the
// microsecond.
type DateTime struct{ T time.Time }

// Timespan is a YAQL timespan, to the microsecond.
type Timespan struct{ D time.Duration }

// String is the text Mistral stores for a datetime.
func (d DateTime) String() string { return d.T.Format("2006-01-02T15:04:05.000000") }

// String is Python's str() of a timedelta.
func (t Timespan) String() string { return pyTimedelta(t.D) }

// pyDatetime is Python's str() of an aware datetime.
func pyDatetime(t time.Time) string {
	s := t.Format("2006-01-02 15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return s + t.Format("-07:00")
}

// pyTimedelta is Python's str() of a timedelta: "[-]D day[s], H:MM:SS[.ffffff]",
// days floored.
func pyTimedelta(d time.Duration) string {
	us := d.Microseconds()
	days := us / (86400 * 1e6)
	rest := us % (86400 * 1e6)
	if rest < 0 {
		days--
		rest += 86400 * 1e6
	}
	secs, frac := rest/1e6, rest%1e6
	s := fmt.Sprintf("%d:%02d:%02d", secs/3600, secs/60%60, secs%60)
	if frac != 0 {
		s += fmt.Sprintf(".%06d", frac)
	}
	if days != 0 {
		unit := "days"
		if days == 1 || days == -1 {
			unit = "day"
		}
		s = fmt.Sprintf("%d %s, %s", days, unit, s)
	}
	return s
}

func micro(d time.Duration) time.Duration { return d.Truncate(time.Microsecond) }

// timed marks an evaluation that made a datetime or a timespan: its result
// is made plain before it is returned.
func (x *evaluator) newTime(t time.Time) DateTime {
	x.timed = true
	return DateTime{t.Truncate(time.Microsecond)}
}

func (x *evaluator) newSpan(d time.Duration) Timespan {
	x.timed = true
	return Timespan{micro(d)}
}

// plain replaces the datetimes and timespans in v by their stored text.
func plain(v any) any {
	switch x := v.(type) {
	case DateTime, Timespan, Regex:
		return fmt.Sprint(x)
	case []any:
		var out []any
		for i, e := range x {
			if p := plain(e); out != nil || !sameScalar(p, e) {
				if out == nil {
					out = append(make([]any, 0, len(x)), x[:i]...)
				}
				out = append(out, p)
			}
		}
		if out == nil {
			return x
		}
		return out
	case map[string]any:
		var out map[string]any
		for k, e := range x {
			if p := plain(e); !sameScalar(p, e) {
				if out == nil {
					out = make(map[string]any, len(x))
					for k2, e2 := range x {
						out[k2] = e2
					}
				}
				out[k] = p
			}
		}
		if out == nil {
			return x
		}
		return out
	}
	return v
}

// sameScalar reports whether plain left a value as it was.
func sameScalar(p, e any) bool {
	switch e.(type) {
	case DateTime, Timespan, Regex:
		return false
	case []any, map[string]any:
		return same(p, e)
	}
	return true
}

// timeFixed is a zone of a UTC offset.
func timeFixed(offset time.Duration) *time.Location {
	if offset == 0 {
		return time.UTC
	}
	return time.FixedZone("", int(offset/time.Second))
}

func asTimespan(name string, v any) (time.Duration, error) {
	if t, ok := v.(Timespan); ok {
		return t.D, nil
	}
	return 0, errorf("%s() needs a timespan, not %s", name, typeName(v))
}

// kwInt reads an integer argument given by position or keyword.
func kwInt(name string, a []any, kw map[string]any, i int, key string, def int64) (int64, error) {
	v, ok := kw[key]
	if !ok {
		if i >= len(a) {
			return def, nil
		}
		v = a[i]
	}
	return asInt(name, v)
}

func init() {
	register(yaqlOnly,
		&function{name: "now", min: 0, max: 1, kw: true, call: func(x *evaluator, n *node, a []any, kw map[string]any, _ any) (any, error) {
			h, err := x.host(n, "now")
			if err != nil {
				return nil, err
			}
			var off time.Duration
			if v, ok := kw["offset"]; ok {
				a = append(a, v)
			}
			if len(a) > 0 {
				if off, err = asTimespan("now", a[0]); err != nil {
					return nil, err
				}
			}
			return x.newTime(h.Now().In(timeFixed(off))), nil
		}},
		fn("utctz", 0, 0, func(x *evaluator, n *node, a []any) (any, error) { return x.newSpan(0), nil }),
		fn("localtz", 0, 0, func(x *evaluator, n *node, a []any) (any, error) { return x.newSpan(0), nil }),
		&function{name: "datetime", min: 0, max: 8, kw: true, call: yaqlDatetime},
		&function{name: "timespan", min: 0, max: 6, kw: true, call: func(x *evaluator, n *node, a []any, kw map[string]any, _ any) (any, error) {
			var d time.Duration
			for i, u := range []struct {
				key  string
				unit time.Duration
			}{{"days", 24 * time.Hour}, {"hours", time.Hour}, {"minutes", time.Minute}, {"seconds", time.Second},
				{"milliseconds", time.Millisecond}, {"microseconds", time.Microsecond}} {
				k, err := kwInt("timespan", a, kw, i, u.key, 0)
				if err != nil {
					return nil, err
				}
				if k != 0 && (k > math.MaxInt64/int64(u.unit) || k < math.MinInt64/int64(u.unit)) {
					return nil, errorf("timespan(): %d %s is out of range", k, u.key)
				}
				d += time.Duration(k) * u.unit
			}
			return x.newSpan(d), nil
		}},
		fn("isDatetime", 1, 1, func(x *evaluator, n *node, a []any) (any, error) { _, ok := a[0].(DateTime); return ok, nil }),
		fn("isTimespan", 1, 1, func(x *evaluator, n *node, a []any) (any, error) { _, ok := a[0].(Timespan); return ok, nil }),
	)
}

// yaqlDatetime is datetime(): from its parts (year, month, day, hour,
// minute, second, microsecond, offset), from a Unix timestamp (and an
// offset), or from a string (and a strptime format).
func yaqlDatetime(x *evaluator, n *node, a []any, kw map[string]any, _ any) (any, error) {
	first := any(nil)
	if len(a) > 0 {
		first = a[0]
	}
	offset := func(i int) (*time.Location, error) {
		v, ok := kw["offset"]
		if !ok && i < len(a) {
			v, ok = a[i], true
		}
		if !ok {
			return time.UTC, nil
		}
		d, err := asTimespan("datetime", v)
		return timeFixed(d), err
	}
	switch f := first.(type) {
	case string:
		if len(a) > 1 || kw["format"] != nil {
			format, _ := kw["format"].(string)
			if len(a) > 1 {
				var err error
				if format, err = asString("datetime", a[1]); err != nil {
					return nil, err
				}
			}
			t, err := strptime(f, format)
			if err != nil {
				return nil, err
			}
			return x.newTime(t), nil
		}
		t, err := parseDatetime(f)
		if err != nil {
			return nil, err
		}
		return x.newTime(t), nil
	case float64:
		loc, err := offset(1)
		if err != nil {
			return nil, err
		}
		sec, frac := math.Modf(f)
		return x.newTime(time.Unix(int64(sec), int64(frac*1e9)).In(loc)), nil
	}
	if len(a) == 1 && len(kw) == 0 || len(a) == 2 && len(kw) == 0 {
		if ts, ok := first.(int64); ok && (len(a) == 1 || isSpan(a[1])) {
			loc, err := offset(1)
			if err != nil {
				return nil, err
			}
			return x.newTime(time.Unix(ts, 0).In(loc)), nil
		}
	}
	parts := [7]int64{}
	for i, key := range []string{"year", "month", "day", "hour", "minute", "second", "microsecond"} {
		def := int64(0)
		if i == 0 {
			def = -1
		}
		k, err := kwInt("datetime", a, kw, i, key, def)
		if err != nil {
			return nil, err
		}
		parts[i] = k
	}
	if parts[0] < 1 || parts[1] < 1 || parts[1] > 12 || parts[2] < 1 || parts[2] > 31 || parts[3] < 0 || parts[3] > 23 ||
		parts[4] < 0 || parts[4] > 59 || parts[5] < 0 || parts[5] > 59 || parts[6] < 0 || parts[6] > 999999 || parts[0] > 9999 {
		return nil, errorf("datetime(): %d-%d-%d %d:%d:%d.%d is not a valid date and time", parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], parts[6])
	}
	loc, err := offset(7)
	if err != nil {
		return nil, err
	}
	t := time.Date(int(parts[0]), time.Month(parts[1]), int(parts[2]), int(parts[3]), int(parts[4]), int(parts[5]), int(parts[6])*1000, loc)
	if t.Day() != int(parts[2]) {
		return nil, errorf("datetime(): day %d is out of range for month %d", parts[2], parts[1])
	}
	return x.newTime(t), nil
}

func isSpan(v any) bool { _, ok := v.(Timespan); return ok }

// datetimeLayouts are the forms datetime(string) reads without a format:
// ISO 8601 and RFC 3339 with a `T` or a space, with or without seconds,
// fractions and an offset; a date alone; RFC 1123 and 850; and dates with
// an English month name. Without an offset the time is UTC.
var datetimeLayouts = []string{
	"2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999Z0700", "2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02", "20060102T150405Z0700", "20060102T150405", "20060102",
	time.RFC1123Z, time.RFC1123, time.RFC850, time.ANSIC, time.UnixDate,
	"Jan 2 2006", "January 2 2006", "Jan 2, 2006", "January 2, 2006", "2 Jan 2006", "2 January 2006",
	"Jan 2 2006 15:04:05", "January 2 2006 15:04:05", "Jan 2, 2006 15:04:05", "2 Jan 2006 15:04:05",
	"01/02/2006", "01/02/2006 15:04:05", "01/02/2006 15:04",
}

func parseDatetime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range datetimeLayouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errorf("datetime(): %s is not a date and time Bora reads; give its format: datetime(string, format)", pyQuote(s))
}

// strptime parses s by a Python strptime format.
func strptime(s, format string) (time.Time, error) {
	layout, err := goLayout(format, true)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.ParseInLocation(layout, s, time.UTC)
	if err != nil {
		return time.Time{}, errorf("datetime(): %s does not match format %s", pyQuote(s), pyQuote(format))
	}
	return t, nil
}

// strftime formats t by a Python strftime format.
func strftime(t time.Time, format string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		switch format[i] {
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 'w':
			fmt.Fprintf(&b, "%d", int(t.Weekday()))
		case 'u':
			fmt.Fprintf(&b, "%d", (int(t.Weekday())+6)%7+1)
		case 'Z':
			if _, off := t.Zone(); off == 0 && t.Location() == time.UTC {
				b.WriteString("UTC")
			} else if name, _ := t.Zone(); name != "" {
				b.WriteString(name)
			} else {
				b.WriteString("UTC" + t.Format("-07:00"))
			}
		case 'c':
			b.WriteString(t.Format("Mon Jan _2 15:04:05 2006"))
		case 'f':
			fmt.Fprintf(&b, "%06d", t.Nanosecond()/1000)
		default:
			layout, err := goLayout("%"+string(format[i]), false)
			if err != nil {
				return "", err
			}
			b.WriteString(t.Format(layout))
		}
	}
	return b.String(), nil
}

// goLayout translates the directives of a Python time format into a Go
// layout.
func goLayout(format string, parse bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(format) {
			return "", errorf("format %s ends with a lone %%", pyQuote(format))
		}
		i++
		l, ok := map[byte]string{
			'Y': "2006", 'y': "06", 'm': "01", 'd': "02", 'H': "15", 'I': "03", 'M': "04", 'S': "05",
			'f': ".000000", 'p': "PM", 'b': "Jan", 'h': "Jan", 'B': "January", 'a': "Mon", 'A': "Monday",
			'z': "-0700", 'Z': "MST", 'x': "01/02/06", 'X': "15:04:05", 'D': "01/02/06", 'T': "15:04:05",
			'F': "2006-01-02", 'e': "_2", '%': "%",
		}[format[i]]
		if !ok {
			return "", errorf("format directive %%%c is not supported", format[i])
		}
		if format[i] == 'f' {
			// Go reads a fraction only right after the seconds' dot.
			str := b.String()
			if !parse || !strings.HasSuffix(str, ".") {
				return "", errorf("format directive %%f is supported only after a dot when reading a date")
			}
			b.Reset()
			b.WriteString(str[:len(str)-1])
			l = ".999999"
		}
		b.WriteString(l)
	}
	return b.String(), nil
}

// dtAttr reads a property of a datetime.
func (x *evaluator) dtAttr(n *node, d DateTime, name string) (any, error) {
	t := d.T
	switch name {
	case "year":
		return int64(t.Year()), nil
	case "month":
		return int64(t.Month()), nil
	case "day":
		return int64(t.Day()), nil
	case "hour":
		return int64(t.Hour()), nil
	case "minute":
		return int64(t.Minute()), nil
	case "second":
		return int64(t.Second()), nil
	case "microsecond":
		return int64(t.Nanosecond() / 1000), nil
	case "weekday":
		return int64((int(t.Weekday()) + 6) % 7), nil
	case "date":
		y, m, dd := t.Date()
		return x.newTime(time.Date(y, m, dd, 0, 0, 0, 0, t.Location())), nil
	case "time":
		y, m, dd := t.Date()
		return x.newSpan(t.Sub(time.Date(y, m, dd, 0, 0, 0, 0, t.Location()))), nil
	case "utc":
		return x.newTime(t.UTC()), nil
	case "offset":
		_, off := t.Zone()
		return x.newSpan(time.Duration(off) * time.Second), nil
	case "timestamp":
		return float64(t.UnixMicro()) / 1e6, nil
	}
	return nil, x.fail(n, "a datetime has no property %s (year, month, day, hour, minute, second, microsecond, weekday, date, time, utc, offset, timestamp)", pyQuote(name))
}

// spanAttr reads a property of a timespan: each is the whole span in that
// unit.
func (x *evaluator) spanAttr(n *node, s Timespan, name string) (any, error) {
	us := float64(s.D.Microseconds())
	unit, ok := map[string]float64{"days": 86400e6, "hours": 3600e6, "minutes": 60e6, "seconds": 1e6, "milliseconds": 1e3, "microseconds": 1}[name]
	if !ok {
		return nil, x.fail(n, "a timespan has no property %s (days, hours, minutes, seconds, milliseconds, microseconds)", pyQuote(name))
	}
	if name == "microseconds" {
		return int64(us), nil
	}
	return us / unit, nil
}

// timeArith applies an arithmetic operator to datetimes and timespans;
// ok is false when neither operand is one.
func (x *evaluator) timeArith(n *node, a, b any) (any, bool, error) {
	da, aDT := a.(DateTime)
	db, bDT := b.(DateTime)
	sa, aTS := a.(Timespan)
	sb, bTS := b.(Timespan)
	if !aDT && !bDT && !aTS && !bTS {
		return nil, false, nil
	}
	switch {
	case n.op == nAdd && aDT && bTS:
		return x.newTime(da.T.Add(sb.D)), true, nil
	case n.op == nAdd && aTS && bDT:
		return x.newTime(db.T.Add(sa.D)), true, nil
	case n.op == nSub && aDT && bTS:
		return x.newTime(da.T.Add(-sb.D)), true, nil
	case n.op == nSub && aDT && bDT:
		return x.newSpan(da.T.Sub(db.T)), true, nil
	case n.op == nAdd && aTS && bTS:
		return x.newSpan(sa.D + sb.D), true, nil
	case n.op == nSub && aTS && bTS:
		return x.newSpan(sa.D - sb.D), true, nil
	case (n.op == nDiv || n.op == nTrueDiv) && aTS && bTS:
		if sb.D == 0 {
			return nil, true, x.fail(n, "division by a zero timespan")
		}
		v, err := x.finite(n, float64(sa.D)/float64(sb.D))
		return v, true, err
	case n.op == nMul && aTS:
		if f, ok := num(b); ok {
			return x.newSpan(time.Duration(math.Round(float64(sa.D) * f))), true, nil
		}
	case n.op == nMul && bTS:
		if f, ok := num(a); ok {
			return x.newSpan(time.Duration(math.Round(float64(sb.D) * f))), true, nil
		}
	case (n.op == nDiv || n.op == nTrueDiv) && aTS:
		if f, ok := num(b); ok && f != 0 {
			return x.newSpan(time.Duration(math.Round(float64(sa.D) / f))), true, nil
		}
	}
	return nil, true, x.fail(n, "unsupported operand types for %s: %s and %s", opNames[n.op], typeName(a), typeName(b))
}

// dtReplace is replace() of a datetime: the same instant with the parts
// given changed.
func (x *evaluator) dtReplace(d DateTime, a []any, kw map[string]any) (any, error) {
	t := d.T
	y, mo, dd := t.Date()
	parts := []int64{int64(y), int64(mo), int64(dd), int64(t.Hour()), int64(t.Minute()), int64(t.Second()), int64(t.Nanosecond() / 1000)}
	for i, key := range []string{"year", "month", "day", "hour", "minute", "second", "microsecond"} {
		k, err := kwInt("replace", a, kw, i, key, parts[i])
		if err != nil {
			return nil, err
		}
		parts[i] = k
	}
	loc := t.Location()
	if v, ok := kw["offset"]; ok {
		off, err := asTimespan("replace", v)
		if err != nil {
			return nil, err
		}
		loc = timeFixed(off)
	}
	return x.newTime(time.Date(int(parts[0]), time.Month(parts[1]), int(parts[2]), int(parts[3]), int(parts[4]), int(parts[5]), int(parts[6])*1000, loc)), nil
}
