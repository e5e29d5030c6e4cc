package expr

import (
	"errors"
	"strings"
	"testing"
)

func TestJinjaTemplateBudgets(t *testing.T) {
	t.Parallel()
	data := map[string]any{"l": []any{int64(1), int64(2)}, "s": strings.Repeat("x", 1000)}
	tests := []struct {
		name string
		src  string
		ctx  Context
		want error
	}{
		{name: "output over the byte budget", src: "{% for i in range(100000) %}{{ _.s }}{% endfor %}", ctx: Context{MaxBytes: 1 << 20, MaxSteps: 10_000_000}, want: ErrByteLimit},
		{name: "text repeated over the byte budget", src: strings.Repeat("y", 1000) + "{% for i in range(100000) %}" + strings.Repeat("z", 100) + "{% endfor %}", ctx: Context{MaxBytes: 1 << 20, MaxSteps: 10_000_000}, want: ErrByteLimit},
		{name: "loops over the step budget", src: "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", ctx: Context{MaxSteps: 10000}, want: ErrStepLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tmpl, err := Compile(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			tt.ctx.Data = data
			_, err = tmpl.Eval(&tt.ctx)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestJinjaTemplateErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src    string
		msg    string
		offset int
	}{
		{"{% if _.missing %}x{% endif %}", "'dict object' has no attribute 'missing'", 8},
		{"{% for x in _.n %}{{ x }}{% endfor %}", "'integer' object is not iterable", 14},
		{"{% set a, b = _.l %}{{ a }}", "cannot unpack 3 values into 2 variables", 16},
		{"a {{ nope }} b {% if true %}{% endif %}", "'nope' is undefined", 5},
	}
	for _, tt := range tests {
		tmpl, err := Compile(tt.src)
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		_, err = tmpl.Eval(&Context{Data: map[string]any{"n": int64(1), "l": []any{int64(1), int64(2), int64(3)}}})
		var ee *EvalError
		if !errors.As(err, &ee) {
			t.Fatalf("%s: error %v, want an *EvalError", tt.src, err)
		}
		if ee.Lang != "Jinja" || !strings.Contains(ee.Msg, tt.msg) || ee.Offset != tt.offset {
			t.Errorf("%s: got %s %q at %d, want Jinja %q at %d", tt.src, ee.Lang, ee.Msg, ee.Offset, tt.msg, tt.offset)
		}
	}
}

func TestJinjaTemplateRefs(t *testing.T) {
	t.Parallel()
	tmpl := MustCompile("{% for x in _.items if x != _.skip %}{{ task('t').result }}{% set y = x %}{% endfor %}{{ y | json_dump }}")
	r := tmpl.Refs()
	if strings.Join(r.Vars, ",") != "items,skip" || strings.Join(r.Tasks, ",") != "t" {
		t.Errorf("refs = %+v", r)
	}
	if !strings.Contains(strings.Join(r.Functions, ","), "json_dump") {
		t.Errorf("functions = %v", r.Functions)
	}
}
