package record

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// CallbackID names one attempt of a unit, for the completion of an
// asynchronous action (one that returned action.ErrPending): execution,
// task execution, item, attempt and fence, in a URL-safe token. A
// completion that names an attempt which is no longer current (it timed
// out, was retried, cancelled or completed) is refused by the claim rule:
// the unit's attempt and fence must still match.
func CallbackID(k UnitKey, attempt int, fence string) string {
	s := strings.Join([]string{k.ExecID, k.Task, strconv.Itoa(k.Item), strconv.Itoa(attempt), fence}, "\x00")
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

// ErrBadCallbackID is returned by ParseCallbackID for a token that is not
// a CallbackID.
var ErrBadCallbackID = errors.New("not a callback id")

// ParseCallbackID reads a CallbackID back.
func ParseCallbackID(id string) (k UnitKey, attempt int, fence string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(id) > 2048 {
		return k, 0, "", fmt.Errorf("%q: %w", clipText(id, 64), ErrBadCallbackID)
	}
	f := strings.Split(string(b), "\x00")
	if len(f) != 5 || f[0] == "" || f[1] == "" || f[4] == "" {
		return k, 0, "", fmt.Errorf("%q: %w", clipText(id, 64), ErrBadCallbackID)
	}
	item, err1 := strconv.Atoi(f[2])
	attempt, err2 := strconv.Atoi(f[3])
	if err1 != nil || err2 != nil || item < 0 || attempt < 1 {
		return k, 0, "", fmt.Errorf("%q: %w", clipText(id, 64), ErrBadCallbackID)
	}
	return UnitKey{ExecID: f[0], Task: f[1], Item: item}, attempt, f[4], nil
}

// Awaited is what a unit whose action returned action.ErrPending holds as
// its Result while it stays RUNNING, waiting for its completion: the
// attempt's callback id. No other RUNNING unit has a Result.
func Awaited(callbackID string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"awaiting_completion": callbackID})
	return b
}

// Awaiting reports whether the unit's attempt waits for a completion: its
// action started asynchronous work and returned (Awaited). Its Due, when
// set, is the attempt's deadline (its timeout), not a worker's lease.
func (u *Unit) Awaiting() bool { return u.State == Running && len(u.Result) > 0 }

// AwaitTimeoutError is the error of an attempt whose completion did not
// come before its deadline: an ordinary error (retry applies), not a lost
// worker, since no worker holds the attempt.
func AwaitTimeoutError(u *Unit) json.RawMessage {
	msg := fmt.Sprintf("action %s timed out: no completion came for attempt %d before %s", u.Action, u.Attempt, u.Due.UTC().Format("2006-01-02T15:04:05Z07:00"))
	if u.Timeout > 0 {
		msg = fmt.Sprintf("action %s timed out after %g seconds: no completion came for attempt %d", u.Action, u.Timeout.Seconds(), u.Attempt)
	}
	b, _ := json.Marshal(msg)
	return b
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
