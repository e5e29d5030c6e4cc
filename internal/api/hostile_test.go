package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/borawf/bora/internal/api"
	"github.com/borawf/bora/internal/store"
)

// hostile are request bodies a careless or malicious client may send.
var hostile = []struct {
	name       string
	ctype      string
	body       string
	wantStatus int
}{
	{"nested arrays", "", `{"workflow": "hello", "input": {"a": ` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}}`, 400},
	{"nested objects in env", "", `{"workflow": "hello", "env": ` + strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat("}", 5000) + `}`, 0},
	{"number too large for a float", "", `{"workflow": "hello", "input": {"name": 1e400}}`, 422},
	{"version too large", "", `{"workflow": "hello", "version": 99999999999999999999}`, 400},
	{"negative version", "", `{"workflow": "hello", "version": -1}`, 400},
	{"invalid UTF-8", "", "{\"workflow\": \"hel\xfflo\"}", 400},
	{"NUL in the name", "", `{"workflow": "hel\u0000lo"}`, 400},
	{"byte order mark", "", "\ufeff{\"workflow\": \"hello\"}", 400},
	{"duplicate keys", "", `{"workflow": "nope", "workflow": "hello"}`, 201},
	{"a key that differs in case", "", `{"Workflow": "hello"}`, 201},
	{"long name", "", `{"workflow": "` + strings.Repeat("w", 10000) + `"}`, 400},
	{"name with a newline", "", `{"workflow": "hello\n"}`, 400},
	{"id with a slash", "", `{"workflow": "hello", "id": "../etc"}`, 400},
	{"id that is too long", "", `{"workflow": "hello", "id": "` + strings.Repeat("a", 129) + `"}`, 400},
	{"id a number", "", `{"workflow": "hello", "id": 7}`, 400},
	{"input a string of JSON", "", `{"workflow": "hello", "input": "{\"name\": 1}"}`, 400},
	{"input null", "", `{"workflow": "hello", "input": null}`, 201},
	{"task_name on a direct workflow", "", `{"workflow": "hello", "task_name": "greet"}`, 201},
	{"input over the value limit", "", `{"workflow": "hello", "input": {"name": "` + strings.Repeat("x", 200<<10) + `"}}`, 422},
	{"only white space", "", " \n\t ", 400},
	{"a bare string", "", `"hello"`, 400},
	{"trailing comma", "", `{"workflow": "hello",}`, 400},
	{"trailing garbage", "", `{"workflow": "hello"}garbage`, 400},
	{"yaml to the JSON route", "application/yaml", `workflow: hello`, 415},
	{"JSON with parameters", "application/json; charset=utf-8", `{"workflow": "hello"}`, 201},
	{"vendor JSON", "application/vnd.bora+json", `{"workflow": "hello"}`, 201},
	{"content type with a bad parameter", "application/json; charset", `{"workflow": "hello"}`, 415},
}

// TestHostileBodies: no request body makes the handler fail (5xx), and a
// refused start writes nothing and sends nothing.
func TestHostileBodies(t *testing.T) {
	t.Parallel()
	for _, tc := range hostile {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.submit(t, hello)
			r := f.do(t, req{method: "POST", path: "/v1/executions", body: tc.body, ctype: tc.ctype})
			if r.status >= 500 || (tc.wantStatus != 0 && r.status != tc.wantStatus) {
				t.Fatalf("status %d, want %d: %.300s", r.status, tc.wantStatus, r.body)
			}
			page, _, err := f.store.ListExecutions(context.Background(), store.ListQuery{})
			if err != nil {
				t.Fatal(err)
			}
			created := r.status == http.StatusCreated
			if created != (len(page) == 1) || created != (f.sent() == 1) {
				t.Errorf("status %d, but %d executions and %d messages sent", r.status, len(page), f.sent())
			}
			if !created {
				r.problem(t)
			}
		})
	}
}

// FuzzHandler sends arbitrary requests: the handler answers every one with
// JSON (a problem when it refuses), never fails on its own account, and
// writes nothing for a request it refuses.
func FuzzHandler(f *testing.F) {
	seeds := []struct{ method, path, ctype, body string }{
		{"POST", "/v1/executions", "application/json", `{"workflow": "hello", "input": {"name": "x"}}`},
		{"POST", "/v1/executions", "application/json", `{"workflow": "hello", "version": 1, "env": {}, "id": "a.b-c_d"}`},
		{"POST", "/v1/executions", "", `{"workflow": "rev", "task_name": "a"}`},
		{"POST", "/v1/workflows", "application/yaml", hello},
		{"POST", "/v1/workflows", "application/json", `{"definition": "version: '2.0'\nx:\n  tasks: {}\n"}`},
		{"POST", "/v1/workflows/validate", "application/yaml", "version: '2.0'\nwf:\n  tasks:\n    a:\n      action: std.noop\n      on-success: [b]\n"},
		{"GET", "/v1/executions?state=RUNNING&limit=3&since=2026-01-01T00:00:00Z", "", ""},
		{"GET", "/v1/workflows?prefix=h&cursor=a", "", ""},
		{"GET", "/v1/workflows/hello/versions/1", "", ""},
		{"DELETE", "/v1/workflows/hello", "", ""},
		{"POST", "/v1/executions/x/rerun", "application/json", `{"task": "a", "env": {"k": 1}}`},
		{"POST", "/v1/executions/x/pause", "", ``},
		{"PUT", "/v1//executions/../x", "text/plain", "\x00"},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.ctype, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, method, path, ctype string, body []byte) {
		if _, err := url.ParseRequestURI(path); err != nil || !validMethod(method) || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\x00#") {
			return // not a request net/http would hand over
		}
		fx := newFixture(t)
		fx.submit(t, hello)
		fx.submit(t, "version: '2.0'\nrev:\n  type: reverse\n  tasks:\n    a:\n      action: std.noop\n")
		before, _, _ := fx.store.ListExecutions(context.Background(), store.ListQuery{})
		sent := fx.sent()
		r := fx.do(t, req{method: method, path: path, body: string(body), ctype: ctype})
		if r.status >= 500 {
			t.Fatalf("%s %s: %d %s", method, path, r.status, r.body)
		}
		switch ct := r.header.Get("Content-Type"); {
		case r.status == http.StatusNoContent:
		case ct == "application/problem+json":
			var p api.Problem
			if err := json.Unmarshal(r.body, &p); err != nil || p.Status != r.status || p.Type == "" {
				t.Fatalf("%s %s: a problem that is not one: %d %s", method, path, r.status, r.body)
			}
		case ct == "application/json", ct == "application/yaml":
		default:
			t.Fatalf("%s %s: %d with Content-Type %q", method, path, r.status, ct)
		}
		if r.status >= 400 {
			after, _, _ := fx.store.ListExecutions(context.Background(), store.ListQuery{})
			if len(after) != len(before) || fx.sent() != sent {
				t.Fatalf("%s %s refused with %d, yet wrote or sent something", method, path, r.status)
			}
		}
	})
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}
