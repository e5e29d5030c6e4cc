package expr

import (
	"encoding/json"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"
)

// hostileData is the data the budget tests evaluate over: a string of 10 KB
// and a list of a thousand of them, as a large task result would be.
var hostileData = map[string]any{
	"s": strings.Repeat("x", 10_000),
	"l": func() []any {
		l := make([]any, 1000)
		for i := range l {
			l[i] = strings.Repeat("y", 10_000)
		}
		return l
	}(),
}

// TestByteBudget evaluates expressions that build far more than they cost
// in steps. Each must fail with ErrByteLimit, having allocated a bounded
// amount of memory, instead of building gigabytes.
func TestByteBudget(t *testing.T) {
	// Not parallel: the test reads the process's allocation counter.
	tests := []struct {
		name string
		src  string
	}{
		{"str of a repeated list", "<% str([$.s] * 5000) %>"},
		{"json_dump of a repeated list", "<% json_dump([$.s] * 5000) %>"},
		{"format of a repeated list", "<% '{0}'.format([$.s] * 5000) %>"},
		{"join of a repeated list", "<% ([$.s] * 5000).join(',') %>"},
		{"concatenation of a repeated list", "<% 'a' + str([$.s] * 5000) %>"},
		{"jinja string of a repeated list", "{{ ([_.s] * 5000) | string }}"},
		{"jinja tojson", "{{ ([_.s] * 5000) | tojson }}"},
		{"jinja join", "{{ ([_.s] * 5000) | join(',') }}"},
		{"interpolation", "a <% [$.s] * 5000 %> b"},
		{"nested repeats", "<% [[[[$.s] * 100] * 100] * 100] * 100 %>"},
		{"doubling lists", "<% let(a => [$.l, $.l]) -> let(b => [$a, $a]) -> let(c => [$b, $b]) -> [$c, $c] %>"},
		{"repeated result", "<% [$.s] * 5000 %>"},
		{"select of the data", "<% let(l => $.l) -> range(1000).select($l) %>"},
		{"string repeat", "{{ 'x' * 100000000 }}"},
		{"string repeat of data", "<% $.s * 5000 %>"},
		{"replace blowup", "<% $.s.replace('', $.s) %>"},
		{"dict of the data", "<% let(l => $.l) -> dict(range(2000).select([str($), $l])) %>"},
		{"yaml_dump", "<% yaml_dump([$.l] * 100) %>"},
		{"whole data", "<% [$, $, $, $, $, $, $, $, $, $] %>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := MustCompile(tc.src).Eval(&Context{Data: hostileData})
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrByteLimit) {
				t.Errorf("Eval = %v, want ErrByteLimit", err)
			}
			if err != nil && !strings.Contains(err.Error(), "4 MiB") {
				t.Errorf("error %q does not name the limit", err)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 {
				t.Errorf("evaluation allocated %d MiB before failing", got>>20)
			}
		})
	}
}

// TestByteBudgetFits checks that values within the budget are built, and
// that referring to data costs nothing: only what an evaluation builds
// counts.
func TestByteBudgetFits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		src      string
		maxBytes int
	}{
		{"data by reference", "<% $.l %>", 1000},
		{"part of the data", "<% $.l[3] %>", 1000},
		{"whole data", "<% $ %>", 1000},
		{"small build", "<% str(range(100)) %>", 1000},
		{"length of data", "<% len($.l) + len($.s) %>", 100},
		{"many small steps", "<% range(10000).select($ * 2).sum() %>", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := MustCompile(tc.src).Eval(&Context{Data: hostileData, MaxBytes: tc.maxBytes}); err != nil {
				t.Errorf("Eval = %v, want success", err)
			}
		})
	}
	// The limit is configurable: a smaller one refuses what the default allows.
	_, err := MustCompile("<% str(range(1000)) %>").Eval(&Context{MaxBytes: 1000})
	if !errors.Is(err, ErrByteLimit) || !strings.Contains(err.Error(), "1000 bytes") {
		t.Errorf("Eval with MaxBytes 1000 = %v, want ErrByteLimit naming 1000 bytes", err)
	}
}

// TestNumbers checks that a number an expression cannot represent is an
// error, never a silently different value: integer overflow, infinity and
// NaN.
func TestNumbers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
	}{
		{"add overflows", "<% 9223372036854775807 + 1 %>"},
		{"sub overflows", "<% -9223372036854775807 - 2 %>"},
		{"mul overflows", "{{ 4611686018427387904 * 4 }}"},
		{"pow overflows", "<% pow(2, 64) %>"},
		{"jinja pow overflows", "{{ 2 ** 64 }}"},
		{"negation overflows", "<% -(-9223372036854775807 - 1) %>"},
		{"abs overflows", "<% abs(-9223372036854775807 - 1) %>"},
		{"floor division overflows", "<% (-9223372036854775807 - 1) / -1 %>"},
		{"sum overflows", "<% [9223372036854775807, 1].sum() %>"},
		{"float overflows", "<% float('1e308') * 10 %>"},
		{"float pow overflows", "{{ 10.0 ** 400 }}"},
		{"float of inf", "<% float('inf') %>"},
		{"float of nan", "<% float('nan') %>"},
		{"float of a huge literal", "<% float('1e999') %>"},
		{"jinja float of inf", "{{ 'inf' | float }}"},
		{"nan arithmetic", "<% float('inf') - float('inf') %>"},
		{"round overflows", "{{ 1.5 | round(400) }}"},
		{"yaml nan in a list", "<% yaml_parse('[.nan]') %>"},
		{"yaml inf", "<% yaml_parse('.inf') %>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := MustCompile(tc.src).Eval(nil)
			if !errors.Is(err, ErrNumber) {
				t.Errorf("Eval = %v, %v; want ErrNumber", v, err)
			}
		})
	}
}

// TestSize checks Size against encoding/json, and that it stops early.
func TestSize(t *testing.T) {
	t.Parallel()
	values := []any{
		nil, true, false, int64(0), int64(-42), int64(math.MaxInt64), int64(math.MinInt64),
		0.0, -0.0, 1.5, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, -2.5e-300, math.MaxFloat64,
		"", "plain", "quote \" backslash \\ newline \n tab \t cr \r", "\b\f\x01\x1f", "<a href='x'>&</a>",
		"héllo wörld ✓ 𝄞", "\u2028\u2029", "bad \xff utf-8", []any{}, map[string]any{},
		[]any{int64(1), "two", 3.5, nil, []any{true, map[string]any{"k<": "v&"}}},
		map[string]any{"a": []any{}, "b\n": map[string]any{"c": "d"}, "": nil},
	}
	for _, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%#v): %v", v, err)
		}
		got, err := Size(v, 1<<20)
		if err != nil || got != len(b) {
			t.Errorf("Size(%#v) = %d, %v; json.Marshal writes %d bytes: %s", v, got, err, len(b), b)
		}
	}
	huge := []any{strings.Repeat("x", 1000)}
	for range 40 {
		huge = []any{huge, huge} // 2^40 copies by reference
	}
	if got, err := Size(huge, 10_000); err != nil || got <= 10_000 || got > 20_000 {
		t.Errorf("Size(2^40 copies, limit 10000) = %d, %v; want just over the limit", got, err)
	}
	for _, f := range []float64{math.Inf(1), math.Inf(-1), math.NaN()} {
		if _, err := Size([]any{f}, 1000); err == nil {
			t.Errorf("Size([%v]) = no error, want one", f)
		}
	}
}
