package client_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/borawf/bora/internal/api"
	"github.com/borawf/bora/internal/client"
)

func TestSigning(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		endpoint   string
		sign       client.Signing
		wantSigned bool
	}{
		{"https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com", client.SignAuto, true},
		{"https://a1b2c3d4e5.execute-api.cn-north-1.amazonaws.com.cn/", client.SignAuto, true},
		{"http://127.0.0.1:4566/_aws/execute-api/a1b2c3/$default", client.SignAuto, true},
		{"http://127.0.0.1:8080", client.SignAuto, false},
		{"https://bora.example.com", client.SignAuto, false},
		{"https://bora.example.com", client.SignAlways, true},
		{"https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com", client.SignNever, false},
	} {
		c, err := client.New(tc.endpoint, client.Options{Sign: tc.sign})
		if err != nil {
			t.Fatalf("%s: %v", tc.endpoint, err)
		}
		if c.Signs() != tc.wantSigned {
			t.Errorf("%s (%v): signs %v, want %v", tc.endpoint, tc.sign, c.Signs(), tc.wantSigned)
		}
	}
	for _, bad := range []string{"", "127.0.0.1:8080", "ftp://x", "http://", "http://h/?q=1", "http://u:p@h"} {
		if _, err := client.New(bad, client.Options{}); err == nil {
			t.Errorf("New(%q) succeeded", bad)
		}
	}
}

// TestSignedRequest: a request to an emulator's API Gateway path carries a
// SigV4 signature for execute-api, over the path as sent.
func TestSignedRequest(t *testing.T) {
	t.Parallel()
	var got http.Header
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, path = r.Header.Clone(), r.URL.EscapedPath()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id": "x", "state": "RUNNING", "tasks": []}`)
	}))
	defer srv.Close()
	c, err := client.New(srv.URL+"/_aws/execute-api/abc123/$default", client.Options{
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		Region:      "eu-west-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetExecution(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	if path != "/_aws/execute-api/abc123/$default/v1/executions/x" {
		t.Errorf("path %q", path)
	}
	auth := regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\d{8}/eu-west-1/execute-api/aws4_request, SignedHeaders=\S+, Signature=[0-9a-f]{64}$`)
	if !auth.MatchString(got.Get("Authorization")) || got.Get("X-Amz-Date") == "" {
		t.Errorf("Authorization %q, X-Amz-Date %q", got.Get("Authorization"), got.Get("X-Amz-Date"))
	}
}

// TestRetriesWithTheSameKey: a start that meets a 503 is sent again with
// the same Idempotency-Key; a problem comes back as an *api.Problem and
// another error status as a *client.Error.
func TestRetriesWithTheSameKey(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get(api.IdempotencyKeyHeader))
		n := len(keys)
		mu.Unlock()
		switch {
		case strings.HasSuffix(r.URL.Path, "/executions") && n < 3:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(503)
			_, _ = io.WriteString(w, `{"type": "`+api.ProblemBase+`unavailable", "title": "t", "status": 503}`)
		case strings.HasSuffix(r.URL.Path, "/executions"):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(201)
			_, _ = io.WriteString(w, `{"id": "x", "state": "RUNNING", "tasks": []}`)
		case strings.HasSuffix(r.URL.Path, "/gw"):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(403)
			_, _ = io.WriteString(w, `{"message": "Forbidden"}`)
		default:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `{"type": "`+api.ProblemBase+`execution-not-found", "title": "t", "status": 404, "detail": "there is no execution"}`)
		}
	}))
	defer srv.Close()
	c, err := client.New(srv.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	doc, created, err := c.StartExecution(context.Background(), api.StartRequest{Workflow: "w"}, "")
	if err != nil || !created || doc.ID != "x" {
		t.Fatalf("start: %+v %v %v", doc, created, err)
	}
	if len(keys) != 3 || keys[0] == "" || keys[0] != keys[1] || keys[1] != keys[2] {
		t.Errorf("keys sent %q, want three times the same one", keys)
	}
	_, err = c.GetExecution(context.Background(), "nope")
	var p *api.Problem
	if !errors.As(err, &p) || p.Name() != api.TypeExecutionNotFound || p.Detail != "there is no execution" {
		t.Errorf("get: %v, want the problem", err)
	}
	_, err = c.GetExecution(context.Background(), "gw")
	var he *client.Error
	if !errors.As(err, &he) || he.Status != 403 || he.Error() != "the server answered 403 Forbidden: Forbidden" {
		t.Errorf("gateway error: %v", err)
	}
}
