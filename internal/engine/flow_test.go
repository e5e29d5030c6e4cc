package engine

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/record"
)

// flowCase is a workflow whose outcome must not depend on the order in
// which its parallel branches run.
type flowCase struct {
	name  string
	src   string
	input string
	out   string            // expected output
	pub   map[string]string // expected published variables of a task execution key
	res   map[string]string // expected result of a task execution key
}

var flowCases = []flowCase{
	{
		// Mistral's default output is what the tasks published: neither
		// the input nor the vars.
		name: "default output leaves out input and vars",
		src: `
version: '2.0'
wf:
  input: [{a: 1}]
  vars: {v: vee}
  tasks:
    t1:
      action: std.echo output="hello"
      publish:
        p1: <% task().result %>
        seen: <% [$.a, $.v] %>
      on-success: t2
    t2:
      action: std.noop
      publish: {p2: <% $.p1 %> again}
`,
		out: `{"p1":"hello","p2":"hello again","seen":[1,"vee"]}`,
	},
	{
		name: "default output of a handled error that published nothing",
		src: `
version: '2.0'
wf:
  input: [{retryable: false}]
  tasks:
    risky:
      action: std.fail
      on-error:
        - recover: <% $.retryable %>
        - give_up: <% not $.retryable %>
    recover: {action: std.noop}
    give_up: {action: std.echo output="gave up"}
`,
		out: `{}`,
	},
	{
		// A publish replaces a variable as a whole, and shadows an input
		// or a var of the same name as a whole: nothing is deep-merged.
		name: "publish replaces a variable as a whole",
		src: `
version: '2.0'
wf:
  input: [{x: {p: 1}}, {y: 5}]
  vars: {y: 7}
  tasks:
    t1:
      action: std.noop
      publish: {obj: {a: 1, b: [1, 2]}, x: {r: 2}, yy: <% $.y %>}
      on-success: t2
    t2:
      action: std.noop
      publish: {obj: {c: 3}, xx: <% $.x %>}
`,
		out: `{"obj":{"c":3},"x":{"r":2},"xx":{"r":2},"yy":7}`,
	},
	{
		// Each branch sees its own value; the final context takes, of
		// equal versions, the branch that comes first in the document.
		name: "branch-local publish",
		src: `
version: '2.0'
wf:
  tasks:
    A:
      action: std.noop
      publish: {my_var: 1}
      on-success: A1
    A1: {action: std.echo output=<% $.my_var %>}
    B:
      action: std.noop
      publish: {my_var: 2}
      on-success: B1
    B1: {action: std.echo output=<% $.my_var %>}
`,
		out: `{"my_var":1}`,
		res: map[string]string{"A1#1": `1`, "B1#1": `2`},
	},
	{
		name: "branch-local publish, branches declared the other way round",
		src: `
version: '2.0'
wf:
  tasks:
    B:
      action: std.noop
      publish: {my_var: 2}
      on-success: B1
    B1: {action: std.echo output=<% $.my_var %>}
    A:
      action: std.noop
      publish: {my_var: 1}
      on-success: A1
    A1: {action: std.echo output=<% $.my_var %>}
`,
		out: `{"my_var":2}`,
		res: map[string]string{"A1#1": `1`, "B1#1": `2`},
	},
	{
		// Equal versions at the end: the longer branch wins, as it ends
		// last in Mistral.
		name: "final context: a longer branch wins a tie",
		src: `
version: '2.0'
wf:
  tasks:
    A:
      action: std.noop
      publish: {v: a}
    B:
      action: std.noop
      publish: {v: b}
      on-success: B1
    B1: {action: std.noop}
`,
		out: `{"v":"b"}`,
	},
	{
		name: "final context: depth counts tasks, not publishes",
		src: `
version: '2.0'
wf:
  tasks:
    A:
      action: std.noop
      publish: {v: a}
      on-success: A1
    A1: {action: std.noop, on-success: A2}
    A2: {action: std.noop}
    B: {action: std.noop, on-success: B1}
    B1:
      action: std.noop
      publish: {v: b}
`,
		out: `{"v":"a"}`,
	},
	{
		// HEAD's context versioning: the value updated on a branch, even
		// several tasks before the join, beats the older one the other
		// branch still carries.
		name: "join takes the most recently updated value",
		src: `
version: '2.0'
wf:
  output: {a: <% $.a %>, b: <% $.b %>}
  tasks:
    task_start:
      action: std.noop
      publish: {a: 0, b: 0}
      on-success: [task1_left, task1_right]
    task1_left:
      action: std.noop
      publish: {a: 1}
      on-success: task2_left
    task1_right:
      action: std.noop
      publish: {b: 1}
      on-success: task2_right
    task2_left: {action: std.noop, on-success: task_final}
    task2_right: {action: std.noop, on-success: task_final}
    task_final:
      action: std.noop
      join: all
      publish:
        seen: <% [$.a, $.b] %>
`,
		out: `{"a":1,"b":1}`,
		pub: map[string]string{"task_final#1": `{"seen":[1,1]}`},
	},
	{
		// A branch that published a variable more often wins even though
		// it is later in the document; nested maps merge key by key.
		name: "join: more versions win over document order",
		src: `
version: '2.0'
wf:
  tasks:
    start:
      action: std.noop
      publish: {v: 0, cfg: {x: 0}}
      on-success: [left, right]
    left:
      action: std.noop
      publish: {cfg: {l: 1}}
      on-success: done
    right:
      action: std.noop
      publish: {v: 1, cfg: {r: 1}}
      on-success: right2
    right2:
      action: std.noop
      publish: {v: 2}
      on-success: done
    done:
      join: all
      action: std.noop
      publish:
        seen: <% [$.v, $.cfg] %>
`,
		out: `{"v":2,"cfg":{"l":1,"r":1},"seen":[2,{"l":1,"r":1}]}`,
	},
	{
		name: "join: equal versions fall back to document order",
		src: `
version: '2.0'
wf:
  tasks:
    start: {action: std.noop, on-success: [p, q]}
    q:
      action: std.noop
      publish: {v: q}
      on-success: j
    p:
      action: std.noop
      publish: {v: p}
      on-success: j
    j:
      join: all
      action: std.noop
      publish: {seen: <% $.v %>}
`,
		out: `{"v":"q","seen":"q"}`,
	},
}

// TestDataFlow runs each case under many delivery orders: the result is
// always the same.
func TestDataFlow(t *testing.T) {
	t.Parallel()
	for _, tc := range flowCases {
		for seed := range int64(12) {
			t.Run(fmt.Sprintf("%s/seed %d", tc.name, seed), func(t *testing.T) {
				t.Parallel()
				w := newWorld(t, tc.src)
				if seed > 0 {
					w.rng = rand.New(rand.NewSource(seed))
				}
				w.crash = seed%3 == 1
				id := w.start("", tc.input)
				w.run()
				if s := w.execs[id].State; s != record.ExecSuccess {
					t.Fatalf("state %s (%s), tasks %v", s, w.execs[id].StateInfo, w.taskList(id))
				}
				if diff := cmp.Diff(mustJSON(t, tc.out), w.output(id)); diff != "" {
					t.Errorf("output (-want +got):\n%s", diff)
				}
				for key, want := range tc.pub {
					got, _ := decode(w.task(id, key).Published)
					if diff := cmp.Diff(mustJSON(t, want), got); diff != "" {
						t.Errorf("%s published (-want +got):\n%s", key, diff)
					}
				}
				for key, want := range tc.res {
					got, _ := decode(w.task(id, key).Result)
					if diff := cmp.Diff(mustJSON(t, want), got); diff != "" {
						t.Errorf("%s result (-want +got):\n%s", key, diff)
					}
				}
			})
		}
	}
}

// TestVersionsStayBounded runs a loop that publishes the same variables
// many times: a task's stored versions name only those variables, and the
// head carries none of them.
func TestVersionsStayBounded(t *testing.T) {
	t.Parallel()
	w := newWorld(t, `
version: '2.0'
wf:
  vars: {limit: 200}
  tasks:
    init:
      action: std.noop
      publish: {i: 0, log: {}}
      on-success: step
    step:
      action: std.noop
      publish: {i: <% $.i + 1 %>, log: {last: <% $.i %>}}
      on-success:
        - step: <% $.i < $.limit %>
`)
	id := w.start("", "")
	w.run()
	if s := w.execs[id].State; s != record.ExecSuccess {
		t.Fatalf("state %s: %s", s, w.execs[id].StateInfo)
	}
	if diff := cmp.Diff(mustJSON(t, `{"i":200,"log":{"last":199}}`), w.output(id)); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	in := decodeFlow(w.task(id, "step#200").Inbound)
	if diff := cmp.Diff(map[string]int{"i": 200, "log": 200}, in.ver); diff != "" {
		t.Errorf("versions of step#200 (-want +got):\n%s", diff)
	}
	if _, ok := in.vars["limit"]; ok {
		t.Errorf("a var is carried in a task's flow: %s", w.task(id, "step#200").Inbound)
	}
	if n := len(w.execs[id].Engine); n > 400 {
		t.Errorf("head's engine state is %d bytes: %s", n, w.execs[id].Engine)
	}
}

// TestVarsEvaluatedOnce proves that every task sees the vars evaluated at
// the start, not a new evaluation (uuid() in vars keeps one value).
func TestVarsEvaluatedOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, `
version: '2.0'
wf:
  vars: {id: <% uuid() %>}
  output: {same: <% $.first = $.id %>}
  tasks:
    a:
      action: std.noop
      publish: {first: <% $.id %>}
      on-success: b
    b: {action: std.noop}
`)
	id := w.start("", "")
	w.run()
	if diff := cmp.Diff(mustJSON(t, `{"same":true}`), w.output(id)); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

// TestGlobalPublish: a `global` publish is merged into the execution's
// context beneath every later task's flow, deep-merged with the vars, and
// is not part of the default output (Mistral 15 gives the same).
func TestGlobalPublish(t *testing.T) {
	t.Parallel()
	w := newWorld(t, `
version: '2.0'
wf:
  vars:
    g: {x: 0}
  tasks:
    t1:
      action: std.noop
      on-success:
        publish:
          branch: {b: 1}
          global: {g: {y: 1}, h: 2}
        next: t2
    t2:
      action: std.noop
      publish:
        seen: <% [$.g, $.h] %>
`)
	id := w.start("", "")
	w.run()
	if s := w.execs[id].State; s != record.ExecSuccess {
		t.Fatalf("state %s: %s", s, w.execs[id].StateInfo)
	}
	want := `{"b":1,"seen":[{"x":0,"y":1},2]}`
	if diff := cmp.Diff(mustJSON(t, want), w.output(id)); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
