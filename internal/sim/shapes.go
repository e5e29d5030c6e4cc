package sim

// Shape is a workflow the simulation runs.
type Shape struct {
	Name     string
	Workflow string // the workflow to run when the document holds several
	YAML     string
	Input    string // JSON; empty means {}
	// Want is the state the fault-free run ends in; empty means SUCCESS.
	Want string
}

// Shapes are the workflows every seed is spread across. Every task is
// safe-rerun, so that an attempt whose worker vanished runs again and the
// final result can equal the fault-free run's.
var Shapes = []Shape{
	{Name: "linear", YAML: `
version: '2.0'
linear:
  task-defaults:
    safe-rerun: true
  tasks:
    a:
      action: sim.work value=1
      publish: {a: <% task().result %>}
      on-success: b
    b:
      action: sim.work value=<% $.a + 1 %>
      publish: {b: <% task().result %>}
      on-success: c
    c:
      action: sim.work value=<% $.b + 1 %>
      publish: {c: <% task().result %>}
      on-success: d
    d:
      action: sim.work value=<% $.c + 1 %>
      publish: {d: <% task().result %>}
  output:
    total: <% $.a + $.b + $.c + $.d %>
`},
	{Name: "fan-out-join", YAML: `
version: '2.0'
fan:
  task-defaults:
    safe-rerun: true
  tasks:
    start:
      action: sim.work value="start"
      on-success: [b1, b2, b3, b4]
    b1:
      action: sim.work value=1
      publish: {v1: <% task().result %>}
      on-success: join
    b2:
      action: sim.work value=2
      publish: {v2: <% task().result %>}
      on-success: join
    b3:
      action: sim.work value=3
      publish: {v3: <% task().result %>}
      on-success: join
    b4:
      action: sim.work value=4
      publish: {v4: <% task().result %>}
      on-success: join
    join:
      join: all
      action: sim.work value=<% $.v1 + $.v2 + $.v3 + $.v4 %>
      publish: {sum: <% task().result %>}
  output:
    sum: <% $.sum %>
`},
	{Name: "with-items", YAML: `
version: '2.0'
items:
  task-defaults:
    safe-rerun: true
  tasks:
    each:
      with-items: x in <% range(8) %>
      concurrency: 3
      action: sim.work value=<% $.x * 10 %>
      publish: {all: <% task().result %>}
      on-success: after
    after:
      action: sim.work value=<% $.all.sum() %>
      publish: {sum: <% task().result %>}
  output:
    all: <% $.all %>
    sum: <% $.sum %>
`},
	{Name: "retry", YAML: `
version: '2.0'
retry:
  task-defaults:
    safe-rerun: true
  tasks:
    flaky:
      action: sim.flaky succeed_on=3 value="ok"
      retry:
        count: 4
        delay: 2
      publish: {v: <% task().result %>}
      on-success: last
    last:
      action: sim.work value=<% $.v %>
  output:
    v: <% $.v %>
`},
	{Name: "error-path", YAML: `
version: '2.0'
errors:
  task-defaults:
    safe-rerun: true
  tasks:
    bad:
      action: sim.flaky succeed_on=99 value="never"
      publish-on-error: {failed: true}
      on-error: recover
    recover:
      action: sim.work value="recovered"
      publish: {r: <% task().result %>}
  output:
    r: <% $.r %>
    failed: <% $.failed %>
`},
	{Name: "cycle", YAML: `
version: '2.0'
cycle:
  task-defaults:
    safe-rerun: true
  tasks:
    init:
      action: sim.work value=0
      publish: {n: <% task().result %>}
      on-success: step
    step:
      action: sim.work value=<% $.n + 1 %>
      publish: {n: <% task().result %>}
      on-success:
        - step: <% $.n < 4 %>
        - done: <% $.n >= 4 %>
    done:
      action: sim.work value=<% $.n %>
  output:
    n: <% $.n %>
`},
	{Name: "subworkflow", Workflow: "parent", YAML: `
version: '2.0'
parent:
  task-defaults:
    safe-rerun: true
  tasks:
    call:
      workflow: child
      input: {x: 5}
      publish: {y: <% task().result.y %>}
      on-success: after
    after:
      action: sim.work value=<% $.y %>
  output:
    y: <% $.y %>
child:
  input: [x]
  task-defaults:
    safe-rerun: true
  tasks:
    double:
      action: sim.work value=<% $.x * 2 %>
      publish: {y: <% task().result %>}
  output:
    y: <% $.y %>
`},
	{Name: "with-items-retry", YAML: `
version: '2.0'
items-retry:
  task-defaults:
    safe-rerun: true
  tasks:
    each:
      with-items: x in <% range(12) %>
      concurrency: 10
      action: sim.flaky succeed_on=2 value=<% $.x %>
      retry:
        count: 3
        delay: 1
      publish: {all: <% task().result %>}
      on-success: after
    after:
      action: sim.work value=<% $.all.sum() %>
      publish: {sum: <% task().result %>}
  output:
    sum: <% $.sum %>
`},
	{Name: "final-error", YAML: `
version: '2.0'
final:
  task-defaults:
    safe-rerun: true
  tasks:
    bad:
      action: sim.final
      retry:
        count: 5
        delay: 1
      publish-on-error: {failed: true}
      on-error: recover
    recover:
      action: sim.work value="recovered"
      publish: {r: <% task().result %>}
  output:
    r: <% $.r %>
    failed: <% $.failed %>
`},
	{Name: "async", YAML: `
version: '2.0'
async:
  task-defaults:
    safe-rerun: true
  tasks:
    call:
      # Completed from outside, maybe late: a missed heartbeat or the
      # timeout ends a wait and the retry waits again.
      action: sim.async value=7 heartbeat=15
      timeout: 30
      retry:
        count: 30
        delay: 1
      publish: {v: <% task().result %>}
      on-success: after
    after:
      action: sim.work value=<% $.v + 1 %>
      publish: {w: <% task().result %>}
  output:
    w: <% $.w %>
`},
	{Name: "oversized", Want: "ERROR", YAML: `
version: '2.0'
oversized:
  task-defaults:
    safe-rerun: true
  tasks:
    big:
      # A result larger than a task record holds: a final error at once.
      action: sim.big kib=400
      on-error: small
    small:
      action: sim.work value=<% 'y' * 1000 %>
      publish: {s: <% task().result %>}
      on-success: explode
    explode:
      # Published variables over the value limit: the task fails, and with
      # it the workflow.
      action: sim.work value=1
      publish:
        many: <% [$.s] * 200 %>
  output-on-error:
    big: <% task(big).state %>
`},
}
