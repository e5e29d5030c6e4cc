package apigw_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/action"
	"github.com/borawf/bora/internal/api"
	"github.com/borawf/bora/internal/apigw"
	qmem "github.com/borawf/bora/internal/queue/memory"
	"github.com/borawf/bora/internal/runtime"
	smem "github.com/borawf/bora/internal/store/memory"
)

// sample reads a sample event from the repository's events/apigw.
func sample(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", "apigw", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// seen is what a handler saw of a request.
type seen struct {
	Method, Path, Query, Host, RemoteAddr string
	Header                                map[string]string
	Body                                  string
}

func TestRequest(t *testing.T) {
	t.Parallel()
	wf, err := base64.StdEncoding.DecodeString(sample(t, "post-workflow.json").Body)
	if err != nil {
		t.Fatal(err)
	}
	host := "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"
	for _, tc := range []struct {
		event string
		want  seen
	}{
		{"post-workflow.json", seen{
			Method: "POST", Path: "/v1/workflows", Host: host, RemoteAddr: "203.0.113.7",
			Header: map[string]string{"Content-Type": "application/yaml", "X-Request-Id": "Jx1tRgK4IAMEVQA=", "Cookie": ""},
			Body:   string(wf),
		}},
		{"post-execution.json", seen{
			Method: "POST", Path: "/v1/executions", Host: host, RemoteAddr: "203.0.113.7",
			Header: map[string]string{"Content-Type": "application/json", "X-Request-Id": "Jx1tVhJ7IAMEVPw=", "Cookie": "", "Idempotency-Key": "order-1042"},
			Body:   `{"workflow": "hello", "input": {"name": "Bora"}, "id": "order-1042"}`,
		}},
		{"get-execution.json", seen{
			// The named stage is cut off the path; cookies come back as a header.
			Method: "GET", Path: "/v1/executions/order-1042", Query: "view=full&x=1&x=2", Host: host, RemoteAddr: "203.0.113.7",
			Header: map[string]string{"Content-Type": "", "X-Request-Id": "Jx1tYjK2IAMEVRg=", "Cookie": "a=1; b=2"},
		}},
		{"get-unknown.json", seen{
			Method: "GET", Path: "/v1/workflows/no such/versions/3", Host: host, RemoteAddr: "203.0.113.7",
			Header: map[string]string{"Content-Type": "", "X-Request-Id": "Jx1tbkL9IAMEVSA=", "Cookie": ""},
		}},
	} {
		t.Run(tc.event, func(t *testing.T) {
			t.Parallel()
			var got seen
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got = seen{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Host: r.Host, RemoteAddr: r.RemoteAddr, Body: string(b), Header: map[string]string{}}
				for k := range tc.want.Header {
					got.Header[k] = r.Header.Get(k)
				}
				w.Header().Set("Content-Type", "application/json")
				w.Header().Add("Set-Cookie", "c=3")
				w.Header().Add("Vary", "Accept")
				w.Header().Add("Vary", "Authorization")
				w.WriteHeader(http.StatusTeapot)
				_, _ = w.Write([]byte(`{"ok":true}`))
			})
			resp, err := apigw.Handler(h)(context.Background(), sample(t, tc.event))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("request (-want +got):\n%s", d)
			}
			want := events.APIGatewayV2HTTPResponse{
				StatusCode: http.StatusTeapot,
				Headers:    map[string]string{"Content-Type": "application/json", "Vary": "Accept, Authorization"},
				Body:       `{"ok":true}`,
				Cookies:    []string{"c=3"},
			}
			if d := cmp.Diff(want, resp); d != "" {
				t.Errorf("response (-want +got):\n%s", d)
			}
		})
	}
}

func TestBinaryResponseIsBase64(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write([]byte{0, 0xff, 1})
	})
	resp, err := apigw.Handler(h)(context.Background(), sample(t, "get-unknown.json"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !resp.IsBase64Encoded || resp.Body != base64.StdEncoding.EncodeToString([]byte{0, 0xff, 1}) {
		t.Errorf("response %+v, want 200 and the bytes in base64", resp)
	}
}

func TestMalformedEvent(t *testing.T) {
	t.Parallel()
	for _, ev := range []events.APIGatewayV2HTTPRequest{
		{}, // no method: not an HTTP API event
		{RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}}, Body: "!!", IsBase64Encoded: true},
		{RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET \n"}}},
	} {
		called := false
		resp, err := apigw.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))(context.Background(), ev)
		if err != nil || called || resp.StatusCode != 400 || resp.Headers["Content-Type"] != "application/problem+json" {
			t.Errorf("event %+v: %+v, %v (handler called: %v), want a 400 problem", ev, resp, err, called)
		}
	}
}

// TestAPIOnSampleEvents runs Bora's API behind the adapter on the sample
// events: the workflow is stored, the execution started, and read back.
func TestAPIOnSampleEvents(t *testing.T) {
	t.Parallel()
	st := smem.New()
	rt := &runtime.Runtime{Store: st, Events: qmem.New(qmem.Options{FIFO: true}), Tasks: qmem.New(qmem.Options{}), Timers: qmem.New(qmem.Options{})}
	if err := rt.Validate(); err != nil {
		t.Fatal(err)
	}
	h, err := api.New(api.Options{Store: st, Runtime: rt, Actions: action.NewRegistry().Specs()})
	if err != nil {
		t.Fatal(err)
	}
	serve := apigw.Handler(h)
	for _, tc := range []struct {
		event      string
		wantStatus int
		wantBody   string
	}{
		{"post-workflow.json", 201, `"name":"hello","version":1`},
		{"post-execution.json", 201, `"id":"order-1042"`},
		{"post-execution.json", 200, `"id":"order-1042"`},
		{"get-execution.json", 200, `"state":"RUNNING"`},
		{"get-unknown.json", 404, `"type":"` + api.ProblemBase + api.TypeWorkflowNotFound + `"`},
	} {
		resp, err := serve(context.Background(), sample(t, tc.event))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tc.wantStatus || !strings.Contains(resp.Body, tc.wantBody) || resp.IsBase64Encoded {
			t.Errorf("%s: %d %s, want %d with %s", tc.event, resp.StatusCode, resp.Body, tc.wantStatus, tc.wantBody)
		}
		if resp.Headers[apigw.RequestIDHeader] == "" {
			t.Errorf("%s: no request id in the response", tc.event)
		}
	}
}

// FuzzHandler: whatever the event holds, the adapter answers without
// panicking, and a request it hands over is one net/http could serve.
func FuzzHandler(f *testing.F) {
	f.Add("GET", "/v1/executions/x", "a=1&b=2", "$default", "", false)
	f.Add("POST", "/prod/v1/workflows", "", "prod", "dmVyc2lvbjogJzIuMCc=", true)
	f.Add("GET", "/%zz/..//x", "%%", "", "x", true)
	f.Fuzz(func(t *testing.T, method, rawPath, rawQuery, stage, body string, b64 bool) {
		ev := events.APIGatewayV2HTTPRequest{RawPath: rawPath, RawQueryString: rawQuery, Body: body, IsBase64Encoded: b64}
		ev.RequestContext.HTTP.Method = method
		ev.RequestContext.Stage = stage
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasPrefix(r.URL.Path, "/") {
				t.Errorf("path %q does not start with /", r.URL.Path)
			}
			_, _ = io.ReadAll(r.Body)
			w.WriteHeader(204)
		})
		resp, err := apigw.Handler(h)(context.Background(), ev)
		if err != nil || (resp.StatusCode != 204 && resp.StatusCode != 400) {
			t.Fatalf("%+v: %+v, %v", ev, resp, err)
		}
	})
}
