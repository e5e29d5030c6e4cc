package action

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestJavaScript(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		params  map[string]any
		want    any
		wantErr string
	}{
		{name: "number", params: map[string]any{"script": "return 6 * 7;"}, want: int64(42)},
		{name: "float", params: map[string]any{"script": "return 1 / 4;"}, want: 0.25},
		{name: "string", params: map[string]any{"script": "return 'a' + 'b';"}, want: "ab"},
		{name: "no return", params: map[string]any{"script": "var x = 1;"}, want: nil},
		{name: "null", params: map[string]any{"script": "return null;"}, want: nil},
		{name: "function", params: map[string]any{"script": "return function () {};"}, want: nil},
		{name: "object", params: map[string]any{"script": "return {b: [1, 'two', true], a: null, u: undefined};"},
			want: map[string]any{"a": nil, "b": []any{int64(1), "two", true}}},
		{name: "date", params: map[string]any{"script": "return new Date(Date.UTC(2015, 6, 12, 10, 32, 12, 460));"},
			want: "2015-07-12T10:32:12.460Z"},
		{name: "NaN is null", params: map[string]any{"script": "return [NaN, 1/0];"}, want: []any{nil, nil}},
		{name: "context", params: map[string]any{"script": "return $.radix * 2 + $.list.length;", "context": map[string]any{"radix": int64(16), "list": []any{"a"}}},
			want: int64(33)},
		{name: "context absent", params: map[string]any{"script": "return $ === null;"}, want: true},
		{name: "reference uuid", params: map[string]any{"script": `return 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, function(c) {
				var r = Math.random() * 16 | 0, v = c == 'x' ? r : (r&0x3|0x8);
				return v.toString($.radix);
			}).length;`, "context": map[string]any{"radix": int64(16)}}, want: int64(36)},
		{name: "no require", params: map[string]any{"script": "return [typeof require, typeof process, typeof module, typeof setTimeout, typeof fetch];"},
			want: []any{"undefined", "undefined", "undefined", "undefined", "undefined"}},
		{name: "arrays still work", params: map[string]any{"script": "var a = new Array(3); a.fill(1); return [a, Array.isArray(a), a instanceof Array, Array(2).length, Array.from('ab')];"},
			want: []any{[]any{int64(1), int64(1), int64(1)}, true, true, int64(2), []any{"a", "b"}}},
		{name: "throw", params: map[string]any{"script": "throw new Error('boom');"}, wantErr: "JavaScriptAction failed: Error: boom"},
		{name: "throw value", params: map[string]any{"script": "throw 'bad';"}, wantErr: "JavaScriptAction failed: bad"},
		{name: "syntax", params: map[string]any{"script": "return (;"}, wantErr: "JavaScriptAction failed: SyntaxError"},
		{name: "repeat bomb", params: map[string]any{"script": "return 'x'.repeat(1e12).length;"}, wantErr: "RangeError: repeat would make"},
		{name: "padStart bomb", params: map[string]any{"script": "return 'x'.padStart(1e12).length;"}, wantErr: "RangeError: padStart would make"},
		{name: "join bomb", params: map[string]any{"script": "var a = []; a.length = 1e9; return a.join('--').length;"}, wantErr: "RangeError: join would make"},
		{name: "fill bomb", params: map[string]any{"script": "var a = []; a.length = 1e9; a.fill(0); return 1;"}, wantErr: "RangeError: fill would make"},
		{name: "array bomb", params: map[string]any{"script": "return new Array(1e9).length;"}, wantErr: "RangeError: Array would make"},
		{name: "buffer bomb", params: map[string]any{"script": "return new ArrayBuffer(1e12).byteLength;"}, wantErr: "RangeError: ArrayBuffer would make"},
		{name: "typed array bomb", params: map[string]any{"script": "return new Float64Array(1e11).length;"}, wantErr: "RangeError: Float64Array would make"},
		{name: "deep recursion", params: map[string]any{"script": "function r(n) { return r(n + 1) + 1; } return r(0);"}, wantErr: "JavaScriptAction failed"},
		{name: "script not a string", params: map[string]any{"script": int64(1)}, wantErr: `parameter "script" must be a string`},
		{name: "missing script", params: map[string]any{}, wantErr: `missing required parameter "script"`},
	}
	for _, name := range []string{"std.javascript", "std.js"} {
		a, ok := NewRegistry().Lookup(name)
		if !ok {
			t.Fatalf("%s is not registered", name)
		}
		for _, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				got, err := a.Run(context.Background(), Input{Params: tt.params})
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("result (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestJavaScriptBudgets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		script string
		limit  time.Duration
		memory uint64
		want   error
	}{
		{name: "endless loop", script: "for (;;) {}", limit: 50 * time.Millisecond, memory: JSMemoryLimit, want: errJSTime},
		{name: "growing list", script: "var a = []; for (;;) a.push('x'.repeat(1000) + a.length);", limit: time.Minute, memory: 8 << 20, want: errJSMemory},
		{name: "doubling string", script: "var s = 'x'; for (;;) s += s + 'y';", limit: time.Minute, memory: 8 << 20, want: errJSMemory},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := evalJS(context.Background(), tt.script, nil, tt.limit, tt.memory)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "JavaScriptAction failed: ") {
				t.Errorf("error = %q, want the JavaScriptAction prefix", err)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancelCause(context.Background())
		cause := errors.New("task timed out")
		go cancel(cause)
		_, err := evalJS(ctx, "for (;;) {}", nil, time.Minute, JSMemoryLimit)
		if !errors.Is(err, cause) {
			t.Fatalf("error = %v, want the context's cause", err)
		}
	})
}
