package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/borawf/bora/internal/console/consoletest"
)

// The console's browser tests drive a headless Chromium against a real
// `bora serve`: what a user sees and does, checked in the page.

const consoleWorkflows = `version: '2.0'
gate:
  description: Holds its middle task until the test lets it go.
  input:
    - url
  tasks:
    first:
      action: std.echo output=1
      on-success: hold
    hold:
      action: std.http url=<% $.url %>
      on-success: after
    after:
      action: std.echo output="done"
`

const consoleFlaky = `version: '2.0'
flaky:
  input:
    - big: 0
  tasks:
    prepare:
      action: std.noop
      on-success: check
    check:
      action: std.echo output=<% env().ok %>
      fail-on: <% not task().result %>
      on-success: report
      on-error: cleanup
    cleanup:
      action: std.noop
      on-complete:
        - fail msg="check failed"
    report:
      action: std.noop
`

// markup is what the page must show as text and never run.
const markup = `<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"><b>bold</b>`

const consoleMarkup = `version: '2.0'
markup:
  description: <i>not a tag</i>
  tasks:
    "echo":
      action: std.echo
      input:
        output: '` + markup + `'
      publish:
        "<u>key</u>": <% task().result %>
      on-success: boom
    boom:
      action: std.fail
      input:
        error_data: '` + markup + `'
`

// gateServer answers std.http calls of the gate workflow: each request
// waits until released.
type gateServer struct {
	*httptest.Server
	mu      sync.Mutex
	release chan struct{}
	hits    int
}

func newGate(t *testing.T) *gateServer {
	g := &gateServer{release: make(chan struct{})}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.hits++
		ch := g.release
		g.mu.Unlock()
		select {
		case <-ch:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"released": true}`)
	}))
	t.Cleanup(func() {
		g.open()
		g.Close()
	})
	return g
}

// open lets every waiting and later request through.
func (g *gateServer) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.release:
	default:
		close(g.release)
	}
}

// apiCall sends one request to bora serve's API.
func apiCall(t *testing.T, method, url, ctype, body string, out any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
}

// consoleServer starts bora serve with the console's test workflows stored.
func consoleServer(t *testing.T) (base string, start func(workflow, id string, input any, env any)) {
	t.Helper()
	ep := serve(t)
	docs := []string{consoleWorkflows, consoleFlaky, consoleMarkup}
	for _, example := range []string{"showcase.yaml", "reverse.yaml"} {
		b, err := os.ReadFile("../../events/examples/" + example)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	for _, doc := range docs {
		apiCall(t, "POST", ep+"/v1/workflows", "application/yaml", doc, nil)
	}
	start = func(workflow, id string, input, env any) {
		t.Helper()
		q := map[string]any{"workflow": workflow, "id": id, "input": input, "env": env}
		if workflow == "report_pipeline" {
			q["task_name"] = "report"
		}
		b, _ := json.Marshal(q)
		apiCall(t, "POST", ep+"/v1/executions", "application/json", string(b), nil)
	}
	return ep, start
}

// browse is one test's tab, with what its steps need.
type browse struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string // screenshots
}

func newBrowse(t *testing.T, base string) *browse {
	t.Helper()
	ctx := consoletest.Tab(t)
	return &browse{t: t, ctx: ctx, base: base, dir: shotDir(t)}
}

// shotDir is where a test's screenshots go: $BORA_CONSOLE_SHOTS (make
// console-shots) or the test's artifact directory.
func shotDir(t *testing.T) string {
	if d := os.Getenv("BORA_CONSOLE_SHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.ArtifactDir()
}

// stepTimeout bounds one step (a wait, a click): generous, for a busy
// machine; a step that passes returns as soon as its condition holds.
const stepTimeout = 45 * time.Second

// do runs steps, failing the test with what it was doing.
func (b *browse) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v\npage text: %s", what, err, b.text("body"))
	}
}

// open goes to a view of the console (a fragment such as /executions).
func (b *browse) open(frag string) {
	b.t.Helper()
	b.do("open "+frag, chromedp.Navigate(b.base+"/#"+frag))
}

// wait waits until a JavaScript condition holds.
func (b *browse) wait(what, cond string) {
	b.t.Helper()
	b.do("wait until "+what, consoletest.WaitJS(cond))
}

// text is the text of the first element matching a selector ("" if none).
func (b *browse) text(sel string) string {
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	s, err := consoletest.Eval[string](ctx, fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? (e.innerText ?? e.textContent) || '' : ''; })()`, sel))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return s
}

// eval evaluates a JavaScript expression.
func eval[T any](b *browse, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := consoletest.Eval[T](ctx, expr)
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// click clicks the first element matching a CSS selector, as a mouse does.
func (b *browse) click(sel string) {
	b.t.Helper()
	b.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// clickText clicks the button or link whose text is text.
func (b *browse) clickText(text string) {
	b.t.Helper()
	b.wait("a button "+text, fmt.Sprintf(`[...document.querySelectorAll('button, a')].some((e) => e.textContent.trim() === %q && e.offsetParent)`, text))
	sel := fmt.Sprintf(`[...document.querySelectorAll('button, a')].find((e) => e.textContent.trim() === %q && e.offsetParent)`, text)
	// Mark it, then click it with the mouse.
	eval[chromedp.Void](b, sel+`.setAttribute('data-click-me', '1')`)
	b.click(`[data-click-me]`)
	eval[chromedp.Void](b, `document.querySelector('[data-click-me]')?.removeAttribute('data-click-me')`)
}

// typeInto replaces a field's text as a paste does (input events fire).
func (b *browse) typeInto(sel, text string) {
	b.t.Helper()
	b.do("type into "+sel, chromedp.Click(chromedp.CSS(sel)))
	eval[chromedp.Void](b, fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.focus(); e.select(); document.execCommand('insertText', false, %q); })()`, sel, text))
}

// shot saves a screenshot of the window.
func (b *browse) shot(name string) {
	b.t.Helper()
	b.do("screenshot "+name, consoletest.Shot(b.dir, name))
}

// nodeState is a task node's state in the execution graph.
func nodeIs(task, state string) string {
	return fmt.Sprintf(`document.querySelector('.node.task[data-task=%q]')?.dataset.state === %q`, task, state)
}

func execIs(state string) string {
	return fmt.Sprintf(`document.querySelector('.exec-title .badge')?.textContent.trim() === %q`, strings.ToLower(state))
}

// TestConsole drives the console through what a user does: the list and
// its filters, an execution's graph while it runs, pause and resume,
// cancel, a failed task and its rerun, the start form, the editor, and
// data with markup in it.
func TestConsole(t *testing.T) {
	t.Parallel()
	base, start := consoleServer(t)
	gate := newGate(t)

	t.Run("graph while it runs, pause, resume", func(t *testing.T) {
		t.Parallel()
		b := newBrowse(t, base)
		start("gate", "gate-1", map[string]any{"url": gate.URL}, nil)
		b.open("/executions/gate-1")
		b.wait("hold runs", nodeIs("hold", "RUNNING"))
		b.wait("first succeeded", nodeIs("first", "SUCCESS"))
		b.wait("after has not run", nodeIs("after", "NOTRUN"))
		if got := b.text(`.node.task[data-task="hold"] .facts`); !strings.Contains(got, "running") {
			t.Errorf("the running node says %q: its state must be in words, not only in colour", got)
		}
		b.shot("execution-running")

		b.clickText("Pause")
		b.wait("the execution is paused", execIs("PAUSED"))
		gate.open()
		b.wait("hold finished while paused", nodeIs("hold", "SUCCESS"))
		if st := eval[string](b, `document.querySelector('.node.task[data-task="after"]').dataset.state`); st == "SUCCESS" || st == "RUNNING" {
			t.Errorf("after is %s while the execution is paused", st)
		}
		b.clickText("Resume")
		b.wait("the execution succeeds", execIs("SUCCESS"))
		b.wait("after ran", nodeIs("after", "SUCCESS"))
		b.shot("execution-graph")
		if n := eval[int](b, `document.querySelectorAll('.tl-row').length`); n != 3 {
			t.Errorf("the timeline has %d rows, want one per task execution (3)", n)
		}
	})

	t.Run("fork, join, with-items, retry", func(t *testing.T) {
		t.Parallel()
		b := newBrowse(t, base)
		start("showcase", "showcase-1", nil, nil)
		b.open("/executions/showcase-1")
		b.wait("the execution succeeds", execIs("SUCCESS"))
		for task, state := range map[string]string{"prepare": "SUCCESS", "greet_all": "SUCCESS", "check_ready": "SUCCESS", "big_team": "SUCCESS", "small_team": "NOTRUN", "summarize": "SUCCESS"} {
			b.wait(task+" is "+state, nodeIs(task, state))
		}
		for sel, want := range map[string]string{
			`.node.task[data-task="greet_all"] .facts`:   "3 of 3 done",
			`.node.task[data-task="check_ready"] .facts`: "attempt 2 of 2",
			`.node.task[data-task="summarize"] .tags`:    "join all",
			`.node[data-command="fail"] .cmd-text`:       "fail",
		} {
			if got := b.text(sel); !strings.Contains(got, want) {
				t.Errorf("%s says %q, want %q", sel, got, want)
			}
		}
		for kind, n := range map[string]int{"on-success": 6, "on-error": 1, "on-complete": 1} {
			if got := eval[int](b, fmt.Sprintf(`document.querySelectorAll('.edges .edge.k-%s').length`, kind)); got != n {
				t.Errorf("%d %s edges, want %d", got, kind, n)
			}
		}
		b.click(`.node.task[data-task="greet_all"]`)
		b.wait("the items", `document.querySelectorAll('.side tr.unit').length === 3`)
		b.shot("execution-showcase")
	})

	t.Run("reverse workflow through requires", func(t *testing.T) {
		t.Parallel()
		b := newBrowse(t, base)
		start("report_pipeline", "reverse-1", nil, nil)
		b.open("/executions/reverse-1")
		b.wait("the execution succeeds", execIs("SUCCESS"))
		for task, state := range map[string]string{"fetch_users": "SUCCESS", "fetch_orders": "SUCCESS", "join_data": "SUCCESS", "report": "SUCCESS", "cleanup": "NOTRUN"} {
			b.wait(task+" is "+state, nodeIs(task, state))
		}
		if n := eval[int](b, `document.querySelectorAll('.edges .edge.k-requires').length`); n != 4 {
			t.Errorf("%d requires edges, want 4", n)
		}
		if got := b.text(".graph-title"); !strings.Contains(got, "reverse") {
			t.Errorf("the graph says %q", got)
		}
	})

	t.Run("cancel asks first", func(t *testing.T) {
		t.Parallel()
		b := newBrowse(t, base)
		g := newGate(t)
		start("gate", "gate-2", map[string]any{"url": g.URL}, nil)
		b.open("/executions/gate-2")
		b.wait("hold runs", nodeIs("hold", "RUNNING"))
		b.clickText("Cancel…")
		b.wait("a confirmation", `!!document.querySelector('dialog.confirm[open]')`)
		b.shot("cancel-confirm")
		b.clickText("Back")
		b.wait("the dialog closed", `!document.querySelector('dialog')`)
		if st := b.text(".exec-title .badge"); !strings.Contains(st, "running") {
			t.Fatalf("backing out of the dialog changed the execution: %q", st)
		}
		b.clickText("Cancel…")
		b.typeInto("#f-reason", "not needed")
		b.clickText("Cancel execution")
		b.wait("the execution is cancelled", execIs("CANCELLED"))
		b.wait("the reason is its state info", `document.querySelector('.state-info')?.textContent.includes('not needed')`)
	})

	t.Run("a failed task's error, and rerun", func(t *testing.T) {
		t.Parallel()
		b := newBrowse(t, base)
		start("flaky", "flaky-1", nil, map[string]any{"ok": false})
		b.open("/executions/flaky-1")
		b.wait("the execution fails", execIs("ERROR"))
		b.wait("check failed", nodeIs("check", "ERROR"))
		b.wait("report did not run", nodeIs("report", "NOTRUN"))
		b.wait("the error handler ran", nodeIs("cleanup", "SUCCESS"))
		b.click(`.node.task[data-task="check"]`)
		b.wait("the task's error", `document.querySelector('.side .task-error')?.textContent.length > 0`)
		b.shot("failed-task")
		b.clickText("Rerun this task…")
		b.wait("the rerun form", `!!document.querySelector('dialog.confirm[open] #f-env')`)
		b.typeInto("#f-env", `{"ok": tru}`)
		b.clickText("Rerun")
		b.wait("bad env JSON is caught", `document.querySelector('#f-env-msg')?.textContent.includes('line 1, column')`)
		b.typeInto("#f-env", `{"ok": true}`)
		b.clickText("Rerun")
		b.wait("the rerun succeeds", execIs("SUCCESS"))
		b.wait("check's second run succeeded", nodeIs("check", "SUCCESS"))
		b.wait("report ran", nodeIs("report", "SUCCESS"))
		if got := b.text(`.node.task[data-task="check"] .facts`); !strings.Contains(got, "run 2 of 2") {
			t.Errorf("check's node says %q, want its second run", got)
		}
	})

	t.Run("markup in data is text", func(t *testing.T) {
		t.Parallel()
		b := newBrowse(t, base)
		start("markup", "markup-1", nil, nil)
		b.open("/executions/markup-1?task=echo")
		b.wait("the execution fails", execIs("ERROR"))
		b.wait("the result is shown", `document.querySelector('.side pre.code')?.textContent.includes('<script>')`)
		b.wait("the error is shown", `document.querySelector('.state-info pre')?.textContent.includes('<img src=x')`)
		for _, sel := range []string{"#main script", "#main img", "#main b", "#main i", "#main u"} {
			if n := eval[int](b, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)); n != 0 {
				t.Errorf("%d elements %q came from the data", n, sel)
			}
		}
		b.open("/executions/markup-1?task=boom")
		b.wait("boom's error is shown", `document.querySelector('.side .task-error')?.textContent.includes('onerror')`)
		b.open("/workflows/markup")
		b.wait("the YAML is shown", `document.querySelector('.code-view')?.textContent.includes('window.__xss')`)
		if v := eval[string](b, `String(window.__xss)`); v != "undefined" {
			t.Errorf("script from the data ran: window.__xss = %s", v)
		}
		if n := eval[int](b, `document.querySelectorAll('#main script, #main img, #main b, #main i, #main u').length`); n != 0 {
			t.Errorf("%d elements came from the data", n)
		}
	})

	t.Run("start form checks the input", func(t *testing.T) {
		t.Parallel()
		b := newBrowse(t, base)
		b.open("/executions")
		b.click("#start-button")
		b.wait("the form", `!!document.querySelector('dialog.start[open]')`)
		b.wait("the workflows", `[...document.querySelectorAll('#f-definition option')].some((o) => o.value === 'flaky')`)
		b.do("choose flaky", chromedp.SetValue(chromedp.CSS("#f-definition"), "flaky"))
		eval[chromedp.Void](b, `document.querySelector('#f-definition').dispatchEvent(new Event('change'))`)
		b.typeInto("#f-input", "{\n  \"big\": 1,\n  \"b\": [1, 2,]\n}")
		b.wait("the input's mistake", `document.querySelector('#f-input-msg')?.textContent.includes('line 3, column')`)
		b.typeInto("#f-env", `{"ok": true}`)
		b.typeInto("#f-id", "started-from-form")
		b.shot("start-form")
		b.clickText("Start")
		b.wait("the form refuses", `document.querySelector('dialog.start .form-errors')?.textContent.includes('not a JSON object')`)
		b.typeInto("#f-input", `{"big": 42}`)
		b.clickText("Start")
		b.wait("the new execution", `location.hash === '#/executions/started-from-form'`)
		b.wait("it succeeds", execIs("SUCCESS"))
		b.wait("its input", `document.querySelector('.io pre')?.textContent.includes('"big": 42')`)
	})

	t.Run("editor shows diagnostics", func(t *testing.T) {
		t.Parallel()
		b := newBrowse(t, base)
		b.open("/new")
		b.wait("the editor", `!!document.querySelector('#yaml')`)
		b.typeInto("#yaml", "version: '2.0'\nbroken:\n  tasks:\n    a:\n      action: std.echo output=1\n      on-success: nowhere\n    b:\n      acton: std.noop\n")
		b.wait("the diagnostics", `document.querySelectorAll('.diag.error').length >= 2`)
		diags := b.text(".diagnostics")
		for _, want := range []string{"6:19", "nowhere", "8:7", "did you mean `action`"} {
			if !strings.Contains(diags, want) {
				t.Errorf("diagnostics %q lack %q", diags, want)
			}
		}
		if !eval[bool](b, `document.querySelectorAll('.gutter li')[5].classList.contains('mark-error')`) {
			t.Error("line 6 is not marked in the gutter")
		}
		b.shot("editor-diagnostics")
		b.clickText("Save as a new version")
		b.wait("nothing was stored", `document.querySelector('.diagnostics')?.textContent.includes('nowhere')`)
		b.typeInto("#yaml", "version: '2.0'\nfixed:\n  tasks:\n    a:\n      action: std.echo output=1\n")
		b.wait("valid", `document.querySelector('.diagnostics .ok')?.textContent.includes('Valid')`)
		b.clickText("Save as a new version")
		b.wait("the stored workflow", `location.hash.startsWith('#/workflows/fixed')`)
		b.wait("its graph", `!!document.querySelector('.node.task[data-task="a"]')`)
	})

	t.Run("list, filter, narrow window", func(t *testing.T) {
		t.Parallel()
		b := newBrowse(t, base)
		start("flaky", "list-ok", nil, map[string]any{"ok": true})
		start("flaky", "list-bad", nil, map[string]any{"ok": false})
		b.open("/executions")
		b.wait("both rows", `['list-ok', 'list-bad'].every((id) => document.querySelector('tr[data-id="' + id + '"]'))`)
		b.wait("list-bad failed", `document.querySelector('tr[data-id="list-bad"]')?.dataset.state === 'ERROR'`)
		b.shot("executions")
		b.do("filter on ERROR", chromedp.SetValue(chromedp.CSS("#x-state"), "ERROR"))
		eval[chromedp.Void](b, `document.querySelector('#x-state').dispatchEvent(new Event('change'))`)
		b.wait("only failed executions", `location.hash.includes('state=ERROR') && !!document.querySelector('tr[data-id="list-bad"]') && !document.querySelector('tr[data-id="list-ok"]') && [...document.querySelectorAll('tbody tr[data-state]')].every((r) => r.dataset.state === 'ERROR')`)
		b.typeInto("#x-workflow", "gate")
		b.click(".filters button[type=submit]")
		b.wait("no failed gate", `document.querySelector('tbody td.empty')?.textContent.includes('No execution matches')`)
		b.open("/executions?workflow=flaky")
		b.wait("flaky's executions only", `!!document.querySelector('tr[data-id="list-ok"]') && [...document.querySelectorAll('tbody tr[data-id]')].every((r) => r.textContent.includes('flaky'))`)
		b.click(`tr[data-id="list-bad"] a`)
		b.wait("the execution", `location.hash === '#/executions/list-bad'`)
		b.do("narrow window", chromedp.EmulateViewport(400, 860))
		b.wait("its graph", nodeIs("check", "ERROR"))
		if w := eval[int](b, `document.documentElement.scrollWidth`); w > 420 {
			t.Errorf("at 400 px wide the page is %d px wide: it scrolls sideways", w)
		}
		b.shot("execution-narrow")
	})
}

var consoleAt = regexp.MustCompile(`is at (http://\S+)/\?key=(\S+) `)

// runConsole starts bora console with args and returns its address and key.
func runConsole(t *testing.T, env []string, args ...string) (base, key string) {
	t.Helper()
	cmd := exec.Command(boraBinary(t), append([]string{"console", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), append([]string{envToken + "=", envEndpoint + "=", envSigV4 + "="}, env...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	m := consoleAt.FindStringSubmatch(line)
	if err != nil || m == nil {
		t.Fatalf("bora console printed %q (%v); stderr: %s", line, err, stderr.String())
	}
	return m[1], m[2]
}

// TestConsoleCommand: bora console serves the console of another server
// and calls its API with the user's credentials — a bearer token here,
// SigV4 below — which never reach the browser.
func TestConsoleCommand(t *testing.T) {
	t.Parallel()
	ep := serve(t, "--token", "s3cret")
	req, _ := http.NewRequest("POST", ep+"/v1/workflows", strings.NewReader(consoleFlaky))
	req.Header.Set("Content-Type", "application/yaml")
	req.Header.Set("Authorization", "Bearer s3cret")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("submit: %v %v", resp, err)
	}
	base, key := runConsole(t, nil, "--endpoint", ep, "--token", "s3cret")

	// Without the key's cookie the proxy refuses: the user's credentials
	// are for the user's browser only.
	if resp, err := http.Get(base + "/v1/workflows"); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("API call without the key: %v %v, want 403", resp, err)
	}

	b := newBrowse(t, base)
	b.do("open the printed address", chromedp.Navigate(base+"/?key="+key))
	b.open("/workflows")
	b.wait("the workflows of the server", `!!document.querySelector('tr[data-name="flaky"]')`)
	if v := eval[string](b, `document.cookie + '|' + JSON.stringify(sessionStorage)`); strings.Contains(v, "s3cret") || strings.Contains(v, key) {
		t.Errorf("a credential is readable in the page: %s", v)
	}
	if n := eval[int](b, `document.querySelectorAll('dialog.token').length`); n != 0 {
		t.Error("the console asked the browser for the server's token")
	}
}

// TestConsoleSigV4: against an API Gateway endpoint, bora console signs
// each call with SigV4 (the credentials of the environment).
func TestConsoleSigV4(t *testing.T) {
	t.Parallel()
	got := make(chan http.Header, 4)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- r.Header.Clone():
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"workflows": []}`)
	}))
	defer gw.Close()
	base, key := runConsole(t, []string{"AWS_ACCESS_KEY_ID=AKIDCONSOLETEST", "AWS_SECRET_ACCESS_KEY=secret", "AWS_REGION=eu-west-1", "AWS_PROFILE=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"},
		"--endpoint", gw.URL+"/_aws/execute-api/abc123/$default")
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	if _, err := c.Get(base + "/?key=" + key); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", base+"/v1/workflows", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("API call through the console: %v %v", resp, err)
	}
	h := <-got
	if a := h.Get("Authorization"); !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential=AKIDCONSOLETEST/") || !strings.Contains(a, "/eu-west-1/execute-api/aws4_request") || h.Get("X-Amz-Date") == "" {
		t.Errorf("the call reached the endpoint unsigned: Authorization %q", a)
	}
}

// TestConsoleToken: against bora serve --token, the console asks for the
// token, keeps it for the tab, and asks again when it is wrong.
func TestConsoleToken(t *testing.T) {
	t.Parallel()
	ep := serve(t, "--token", "s3cret")
	b := newBrowse(t, ep)
	b.open("/executions")
	b.wait("the token dialog", `!!document.querySelector('dialog.token[open] #f-token')`)
	b.typeInto("#f-token", "wrong")
	b.clickText("Use this token")
	b.wait("the token refused", `document.querySelector('dialog.token[open]')?.textContent.includes('refused')`)
	b.typeInto("#f-token", "s3cret")
	b.clickText("Use this token")
	b.wait("the list", `!document.querySelector('dialog.token') && document.querySelector('tbody td.empty')?.textContent.includes('No executions yet')`)
	if v := eval[string](b, `sessionStorage.getItem('bora.token') + '|' + localStorage.length + '|' + document.cookie`); v != "s3cret|0|" {
		t.Errorf("the token is kept as %q, want in this tab's session storage only", v)
	}
}
