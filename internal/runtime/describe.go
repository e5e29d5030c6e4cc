package runtime

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/store"
)

// Document is an execution as `bora run --json` prints it and the API
// returns it.
type Document struct {
	ID        string          `json:"id"`
	Workflow  string          `json:"workflow"`
	State     string          `json:"state"`
	StateInfo string          `json:"state_info"`
	Input     json.RawMessage `json:"input"`
	Output    json.RawMessage `json:"output"`
	Tasks     []TaskDocument  `json:"tasks"`
}

// TaskDocument is one task execution in a Document. Result is the task's
// result, or its error when it failed, as Mistral's task(name).result is.
type TaskDocument struct {
	Name      string          `json:"name"`
	State     string          `json:"state"`
	StateInfo string          `json:"state_info"`
	Published json.RawMessage `json:"published"`
	Result    json.RawMessage `json:"result"`
}

// Describe reads an execution and its task executions, in start order.
func Describe(ctx context.Context, s store.Store, id string) (*Document, error) {
	e, err := s.GetExecution(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("execution %s: %w", id, err)
	}
	tasks, err := s.ListTasks(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("tasks of execution %s: %w", id, err)
	}
	d := &Document{
		ID:        e.ID,
		Workflow:  e.Workflow,
		State:     string(e.State),
		StateInfo: e.StateInfo,
		Input:     orNull(e.Input),
		Output:    orNull(e.Output),
		Tasks:     make([]TaskDocument, 0, len(tasks)),
	}
	for _, t := range tasks {
		d.Tasks = append(d.Tasks, TaskDocument{
			Name:      t.Name,
			State:     string(t.State),
			StateInfo: t.StateInfo,
			Published: orEmpty(t.Published),
			Result:    orNull(taskResult(t)),
		})
	}
	return d, nil
}

func taskResult(t *record.Task) json.RawMessage {
	if t.State == record.Error && len(t.Error) > 0 {
		return t.Error
	}
	return t.Result
}

func orNull(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}

func orEmpty(b json.RawMessage) json.RawMessage {
	if len(b) == 0 || string(b) == "null" {
		return json.RawMessage("{}")
	}
	return b
}
