package record

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
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
// attempt's callback id and, when its action asked for heartbeats, their
// timeout. No other RUNNING unit has a Result.
func Awaited(callbackID string, heartbeat time.Duration) json.RawMessage {
	b, _ := json.Marshal(awaited{ID: callbackID, Heartbeat: heartbeat.Seconds()})
	return b
}

// awaited is the Result of a unit that awaits its completion.
type awaited struct {
	ID        string  `json:"awaiting_completion"`
	Heartbeat float64 `json:"heartbeat_seconds,omitempty"`
}

// Awaiting reports whether the unit's attempt waits for a completion: its
// action started asynchronous work and returned (Awaited). Its Due, when
// set, is the attempt's deadline (its timeout, or its next heartbeat's),
// not a worker's lease.
func (u *Unit) Awaiting() bool { return u.State == Running && len(u.Result) > 0 }

// AwaitHeartbeat is the heartbeat timeout of an attempt that awaits its
// completion, zero when its action asked for none.
func (u *Unit) AwaitHeartbeat() time.Duration {
	if !u.Awaiting() {
		return 0
	}
	var a awaited
	if json.Unmarshal(u.Result, &a) != nil || a.Heartbeat <= 0 {
		return 0
	}
	return time.Duration(a.Heartbeat * float64(time.Second))
}

// AwaitDue is when an attempt that awaits its completion times out, as
// of a heartbeat (or the start of the wait) at now: its next heartbeat's
// deadline, but never past the attempt's own timeout; zero for neither.
func (u *Unit) AwaitDue(heartbeat time.Duration, now time.Time) time.Time {
	var due time.Time
	if heartbeat > 0 {
		due = now.Add(heartbeat)
	}
	if u.Timeout > 0 {
		if end := u.Started.Add(u.Timeout); due.IsZero() || end.Before(due) {
			due = end
		}
	}
	return due
}

// AwaitTimeoutError is the error of an attempt whose completion did not
// come before its deadline, or whose heartbeat did not: an ordinary error
// (retry applies), not a lost worker, since no worker holds the attempt.
func AwaitTimeoutError(u *Unit) json.RawMessage {
	msg := fmt.Sprintf("action %s timed out: no completion came for attempt %d before %s", u.Action, u.Attempt, u.Due.UTC().Format("2006-01-02T15:04:05Z07:00"))
	switch hb := u.AwaitHeartbeat(); {
	case hb > 0 && (u.Timeout <= 0 || u.Due.Before(u.Started.Add(u.Timeout))):
		msg = fmt.Sprintf("action %s timed out: no heartbeat came for attempt %d within %g seconds", u.Action, u.Attempt, hb.Seconds())
	case u.Timeout > 0:
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
