package api_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/api"
)

// TestOpenAPIMatchesRoutes: every route in the OpenAPI document is served,
// and every served route is in the document.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	var served []string
	for _, r := range api.Routes() {
		served = append(served, r.Method+" "+api.BasePath+r.Pattern)
	}
	slices.Sort(documented)
	slices.Sort(served)
	if d := cmp.Diff(served, documented); d != "" {
		t.Errorf("routes (-served +documented):\n%s", d)
	}

	// And each documented route answers as a route: whatever it says, it
	// is not the router's 404 or 405.
	f := newFixture(t)
	param := regexp.MustCompile(`\{[^}]+\}`)
	for _, route := range documented {
		method, path, _ := strings.Cut(route, " ")
		r := f.do(t, req{method: method, path: param.ReplaceAllString(path, "1"), body: "{}"})
		if r.status == http.StatusMethodNotAllowed || (r.status == http.StatusNotFound && r.problem(t).Name() == api.TypeRouteNotFound) {
			t.Errorf("%s is documented but not served: %d %s", route, r.status, r.body)
		}
	}
}

func TestOpenAPIIsServed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.do(t, req{method: "GET", path: "/v1/openapi.json"})
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" || string(r.body) != string(api.OpenAPI) {
		t.Errorf("GET /v1/openapi.json: %d %s", r.status, r.header.Get("Content-Type"))
	}
}

// TestProblemTypesAreDocumented: docs/api.md has a section for every
// problem type, which the type's URL points at, and no other.
func TestProblemTypesAreDocumented(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "api.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, errs, _ := strings.Cut(string(b), "\n## Errors\n")
	errs, _, _ = strings.Cut(errs, "\n## ")
	var sections []string
	for _, m := range regexp.MustCompile(`(?m)^### (\S+)$`).FindAllStringSubmatch(errs, -1) {
		sections = append(sections, m[1])
	}
	slices.Sort(sections)
	if d := cmp.Diff(api.Types(), sections); d != "" {
		t.Errorf("problem types (-code +docs/api.md):\n%s", d)
	}
}
