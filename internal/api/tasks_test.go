package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/borawf/bora/internal/api"
	"github.com/borawf/bora/internal/runtime"
)

// TestGetTaskUnits: a task execution comes with its units — each item's
// state, attempt, evaluated input and outcome — a page at a time, and a
// with-items task with its items counted by state.
func TestGetTaskUnits(t *testing.T) {
	t.Parallel()
	f := newEmbedded(t)
	f.submit(t, `version: '2.0'
fan:
  tasks:
    each:
      with-items: n in <% range(5) %>
      action: std.echo output=<% $.n * 10 %>
`)
	doc := f.start(t, `{"workflow": "fan"}`)
	f.await(t, doc.ID, "SUCCESS", "ERROR")

	var items []int
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("the pages never end")
		}
		path := "/v1/executions/" + doc.ID + "/tasks/each?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		var td runtime.TaskDetail
		f.do(t, req{method: "GET", path: path}).decode(t, &td)
		if td.Key != "each#1" || td.State != "SUCCESS" || td.ItemStates["SUCCESS"] != 5 {
			t.Fatalf("task %+v", td.TaskDocument)
		}
		if len(td.Units) == 0 || len(td.Units) > 2 {
			t.Fatalf("a page of %d units, want 1 or 2", len(td.Units))
		}
		for _, u := range td.Units {
			var in struct{ Output int }
			if err := json.Unmarshal(u.Input, &in); err != nil || in.Output != u.Item*10 || u.State != "SUCCESS" || u.Attempt != 1 || u.Action != "std.echo" || u.StartedAt == nil {
				t.Errorf("unit %+v: want its evaluated input {\"output\": %d}", u, u.Item*10)
			}
			items = append(items, u.Item)
		}
		if cursor = td.NextCursor; cursor == "" {
			break
		}
	}
	if !slices.Equal(items, []int{0, 1, 2, 3, 4}) {
		t.Errorf("items %v, want each once in order", items)
	}

	for _, q := range []string{"?cursor=x", "?limit=0", "?limit=1000", "?page=2"} {
		r := f.do(t, req{method: "GET", path: "/v1/executions/" + doc.ID + "/tasks/each" + q})
		if p := r.problem(t); r.status != http.StatusBadRequest || p.Name() != api.TypeBadRequest {
			t.Errorf("%s: %d %s, want 400 bad-request", q, r.status, p.Name())
		}
	}
}
