package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// counter is an HTTP server on the host's loopback that counts the requests
// std.http actions make to it: the side effect the suite checks "no action
// ran twice, none ran for a non-running execution" with. The deployed
// functions run as host processes, so they reach it.
//
// GET /hit/<run>/<key>?ms=M&fail=K records a hit of <run>/<key>, holds the
// request M milliseconds (to keep actions in flight), and answers 500 to
// the first K hits of that key, 200 with {"key":..., "n":...} after.
type counter struct {
	srv *httptest.Server

	mu       sync.Mutex
	hits     map[string]int // run/key → hits
	inFlight map[string]int // run → requests being served
	peak     map[string]int // run → most requests served at once
}

func newCounter(t *testing.T) *counter {
	t.Helper()
	c := &counter{hits: map[string]int{}, inFlight: map[string]int{}, peak: map[string]int{}}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *counter) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/hit/")
	run, key, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || key == "" {
		http.Error(w, "want /hit/<run>/<key>", http.StatusNotFound)
		return
	}
	ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
	fail, _ := strconv.Atoi(r.URL.Query().Get("fail"))

	c.mu.Lock()
	c.hits[run+"/"+key]++
	n := c.hits[run+"/"+key]
	c.inFlight[run]++
	c.peak[run] = max(c.peak[run], c.inFlight[run])
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inFlight[run]--
		c.mu.Unlock()
	}()

	if ms > 0 {
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-r.Context().Done():
		}
	}
	if n <= fail {
		http.Error(w, "failing on purpose", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"key": key, "n": n})
}

// newRun returns a fresh run name, which keeps one execution's keys apart
// from every other's.
func newRun() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Hits returns the hits of every key of run.
func (c *counter) Hits(run string) map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, n := range c.hits {
		if key, ok := strings.CutPrefix(k, run+"/"); ok {
			out[key] = n
		}
	}
	return out
}

// Total returns the number of hits of run.
func (c *counter) Total(run string) int {
	n := 0
	for _, h := range c.Hits(run) {
		n += h
	}
	return n
}

// Peak returns the most requests of run served at once.
func (c *counter) Peak(run string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peak[run]
}
