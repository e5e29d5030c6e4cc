package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/borawf/bora/internal/api"
	"github.com/borawf/bora/internal/embedded"
	"github.com/borawf/bora/internal/record"
	"github.com/borawf/bora/internal/runtime"
)

// TestCompleteAndFail ends attempts of std.async_noop with bora complete
// and bora fail (after a bora heartbeat), on the database a running Bora serves and through its
// API, and checks that a second completion is refused.
func TestCompleteAndFail(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "bora.db")
	b, err := embedded.Open(embedded.Options{Path: db, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	defer b.Start(ctx)()
	h, err := api.New(api.Options{Store: b.Store, Runtime: b.Runtime, Actions: knownActions()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	src := []byte(`version: '2.0'
waits:
  output:
    got: <% task(wait).result %>
  tasks:
    wait:
      action: std.async_noop
`)
	for _, tt := range []struct {
		where     []string
		args      []string
		want      record.ExecState
		wantOut   string
		wantError string
	}{
		{where: []string{"--db", db}, args: []string{"complete", "--result", `{"a": 1}`}, want: record.ExecSuccess, wantOut: `{"got":{"a":1}}`},
		{where: []string{"--db", db}, args: []string{"fail", "--error", "the job broke"}, want: record.ExecError, wantError: "the job broke"},
		{where: []string{"--endpoint", srv.URL}, args: []string{"complete", "--result", `[1, "x"]`}, want: record.ExecSuccess, wantOut: `{"got":[1,"x"]}`},
		{where: []string{"--endpoint", srv.URL}, args: []string{"fail", "--error", "remote broke"}, want: record.ExecError, wantError: "remote broke"},
	} {
		e, err := b.Runtime.Submit(ctx, runtime.Submission{File: "w.yaml", Source: src})
		if err != nil {
			t.Fatal(err)
		}
		var id string
		for id == "" {
			u, err := b.Store.GetUnit(ctx, record.UnitKey{ExecID: e.ID, Task: "wait#1"})
			if err == nil && u.Awaiting() {
				var v struct {
					ID string `json:"awaiting_completion"`
				}
				_ = json.Unmarshal(u.Result, &v)
				id = v.ID
			}
			if ctx.Err() != nil {
				t.Fatal("the task never awaited its completion")
			}
			time.Sleep(5 * time.Millisecond)
		}
		beat := append([]string{"heartbeat", id}, tt.where...)
		var out, errOut bytes.Buffer
		if code := dispatch(beat, &out, &errOut); code != exitOK || !strings.Contains(out.String(), "of execution "+e.ID+" goes on (no deadline)") {
			t.Fatalf("bora %s: exit %d\n%s%s", strings.Join(beat, " "), code, &out, &errOut)
		}
		args := append(append([]string{tt.args[0], id}, tt.where...), tt.args[1:]...)
		out.Reset()
		if code := dispatch(args, &out, &errOut); code != exitOK || !strings.Contains(out.String(), "of execution "+e.ID+" ended") {
			t.Fatalf("bora %s: exit %d\n%s%s", strings.Join(args, " "), code, &out, &errOut)
		}
		final, err := b.Wait(ctx, e.ID, 10*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if final.State != tt.want || (tt.wantOut != "" && string(final.Output) != tt.wantOut) || !strings.Contains(final.StateInfo, tt.wantError) {
			t.Errorf("bora %s: execution %s %s (%s)", tt.args[0], final.State, final.Output, final.StateInfo)
		}
		errOut.Reset()
		if code := dispatch(args, &out, &errOut); code != exitFail || !strings.Contains(errOut.String(), "ended already") {
			t.Errorf("bora %s again: exit %d, stderr %q; want 1 and that it ended already", tt.args[0], code, &errOut)
		}
		errOut.Reset()
		if code := dispatch(beat, &out, &errOut); code != exitFail || !strings.Contains(errOut.String(), "ended already") {
			t.Errorf("bora heartbeat after the completion: exit %d, stderr %q; want 1 and that it ended already", code, &errOut)
		}
	}
	var errOut bytes.Buffer
	if code := dispatch([]string{"complete", "not-an-id", "--db", db}, &bytes.Buffer{}, &errOut); code != exitUsage {
		t.Errorf("bora complete with a bad id: exit %d (%s), want 2", code, &errOut)
	}
}
