package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/borawf/bora/internal/runtime"
)

func TestFit(t *testing.T) {
	t.Parallel()
	val := func(n int) json.RawMessage { return json.RawMessage(`"` + strings.Repeat("x", n) + `"`) }
	doc := &runtime.Document{ID: "e", Input: json.RawMessage("{}"), Output: json.RawMessage("null"), Tasks: []runtime.TaskDocument{
		{Key: "a#1", Published: json.RawMessage("{}"), Result: val(3000)},
		{Key: "b#1", Published: json.RawMessage("{}"), Result: val(100)},
		{Key: "c#1", Published: json.RawMessage("{}"), Result: val(5000)},
	}}
	fit(doc, 4000)
	b, _ := json.Marshal(doc)
	if len(b) > 4000 {
		t.Errorf("fitted document is %d bytes", len(b))
	}
	want := map[string]bool{"a#1": false, "b#1": false, "c#1": true}
	for _, task := range doc.Tasks {
		if task.Truncated != want[task.Key] {
			t.Errorf("%s truncated %v, want %v", task.Key, task.Truncated, want[task.Key])
		}
	}
	fit(doc, 100) // cannot fit: every value goes, nothing breaks
	for _, task := range doc.Tasks {
		if !task.Truncated || string(task.Result) != "null" {
			t.Errorf("%s kept its result under an impossible limit", task.Key)
		}
	}
}
