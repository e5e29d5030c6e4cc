package record

import (
	"errors"
	"testing"
)

func TestCallbackID(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		k       UnitKey
		attempt int
		fence   string
	}{
		{UnitKey{ExecID: "6f1c2a9e-0d4b-4c61-9d5e-2b7f0a1c3e55", Task: "call#1"}, 1, "c4e6ffe46cc9cb46"},
		{UnitKey{ExecID: "x", Task: "naïve task/with:odd#chars#12", Item: 9999}, 31, "f"},
	} {
		id := CallbackID(tt.k, tt.attempt, tt.fence)
		k, attempt, fence, err := ParseCallbackID(id)
		if err != nil || k != tt.k || attempt != tt.attempt || fence != tt.fence {
			t.Errorf("ParseCallbackID(CallbackID(%v, %d, %q)) = %v, %d, %q, %v", tt.k, tt.attempt, tt.fence, k, attempt, fence, err)
		}
	}
	for _, bad := range []string{"", "not base64!", "YQ", CallbackID(UnitKey{ExecID: "x", Task: "t#1"}, 0, "f"), CallbackID(UnitKey{ExecID: "x", Task: "t#1", Item: -1}, 1, "f"), CallbackID(UnitKey{ExecID: "x", Task: "t#1"}, 1, "")} {
		if _, _, _, err := ParseCallbackID(bad); !errors.Is(err, ErrBadCallbackID) {
			t.Errorf("ParseCallbackID(%q) = %v, want ErrBadCallbackID", bad, err)
		}
	}
}
