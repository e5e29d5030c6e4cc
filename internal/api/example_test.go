package api_test

import (
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/borawf/bora/internal/action"
	"github.com/borawf/bora/internal/api"
	qmem "github.com/borawf/bora/internal/queue/memory"
	"github.com/borawf/bora/internal/runtime"
	smem "github.com/borawf/bora/internal/store/memory"
)

// ExampleNew serves the API over a store and the runtime's queues, as
// bora serve does (with the engine and workers running beside it) and the
// API Lambda function does (behind internal/apigw).
func ExampleNew() {
	st := smem.New()
	rt := &runtime.Runtime{Store: st, Events: qmem.New(qmem.Options{FIFO: true}), Tasks: qmem.New(qmem.Options{}), Timers: qmem.New(qmem.Options{})}
	if err := rt.Validate(); err != nil {
		panic(err)
	}
	h, err := api.New(api.Options{Store: st, Runtime: rt, Actions: action.NewRegistry().Specs()})
	if err != nil {
		panic(err)
	}
	doc := "version: '2.0'\nhello:\n  tasks:\n    greet:\n      action: std.echo output=\"hi\"\n"
	req := httptest.NewRequest("POST", "/v1/workflows", strings.NewReader(doc))
	req.Header.Set("Content-Type", "application/yaml")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	fmt.Println(w.Code, w.Header().Get("Location"))

	req = httptest.NewRequest("POST", "/v1/executions", strings.NewReader(`{"workflow": "hello", "id": "first"}`))
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	fmt.Println(w.Code, w.Header().Get("Location"))
	// Output:
	// 201 /v1/workflows/hello/versions/1
	// 201 /v1/executions/first
}
