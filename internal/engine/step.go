package engine

import "errors"

// Step applies one event to an execution.
func Step(in Input) (Output, error) {
	return Output{}, errors.New("engine: not implemented yet")
}
