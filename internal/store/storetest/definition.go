package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/borawf/bora/internal/store"
)

var definitionTests = []test{
	{"VersionsCountUp", testDefinitionVersions},
	{"IdenticalSourceReturnsLatest", testDefinitionIdentical},
	{"NotFound", testDefinitionNotFound},
	{"ConcurrentPuts", testDefinitionConcurrent},
	{"Large", testDefinitionLarge},
	{"ListedByName", testDefinitionList},
	{"DeleteKeepsVersions", testDefinitionDelete},
}

func putDef(t *testing.T, s store.Store, name, src string) int {
	t.Helper()
	v, err := s.PutDefinition(ctx(t), name, []byte(src))
	if err != nil {
		t.Fatalf("PutDefinition(%q): %v", name, err)
	}
	return v
}

func getDef(t *testing.T, s store.Store, name string, version int) (string, int) {
	t.Helper()
	src, v, err := s.GetDefinition(ctx(t), name, version)
	if err != nil {
		t.Fatalf("GetDefinition(%q, %d): %v", name, version, err)
	}
	return string(src), v
}

func testDefinitionVersions(t *testing.T, s store.Store) {
	name := uid("def")
	a, b := "version: '2.0'\nwf:\n  tasks: {}\n", "version: '2.0'\nwf2:\n  tasks: {}\n"
	var got []int
	for _, src := range []string{a, b, a} {
		got = append(got, putDef(t, s, name, src))
	}
	if d := cmp.Diff([]int{1, 2, 3}, got); d != "" {
		t.Fatalf("versions (-want +got):\n%s", d)
	}
	for _, tc := range []struct {
		name    string
		version int
		wantSrc string
		wantVer int
	}{
		{"latest", 0, a, 3},
		{"first", 1, a, 1},
		{"second", 2, b, 2},
		{"third", 3, a, 3},
	} {
		src, v := getDef(t, s, name, tc.version)
		if src != tc.wantSrc || v != tc.wantVer {
			t.Errorf("%s: GetDefinition(%d) = %q, %d; want %q, %d", tc.name, tc.version, src, v, tc.wantSrc, tc.wantVer)
		}
	}
}

func testDefinitionIdentical(t *testing.T, s store.Store) {
	name := uid("def")
	a, b := "a: 1\n", "b: 2\n"
	steps := []struct {
		src  string
		want int
	}{{a, 1}, {a, 1}, {b, 2}, {b, 2}, {a, 3}, {a, 3}}
	for i, st := range steps {
		if v := putDef(t, s, name, st.src); v != st.want {
			t.Fatalf("put %d (%q) = version %d, want %d", i, st.src, v, st.want)
		}
	}
	if _, v := getDef(t, s, name, 0); v != 3 {
		t.Errorf("latest version = %d, want 3", v)
	}
	if _, _, err := s.GetDefinition(ctx(t), name, 4); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetDefinition(version 4) error = %v, want ErrNotFound (no version written for identical sources)", err)
	}
}

func testDefinitionNotFound(t *testing.T, s store.Store) {
	name := uid("def")
	putDef(t, s, name, "x: 1\n")
	for _, tc := range []struct {
		name    string
		def     string
		version int
	}{
		{"unknown name latest", name + "-none", 0},
		{"unknown name version", name + "-none", 1},
		{"unknown version", name, 2},
	} {
		if _, _, err := s.GetDefinition(ctx(t), tc.def, tc.version); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: GetDefinition(%q, %d) error = %v, want ErrNotFound", tc.name, tc.def, tc.version, err)
		}
	}
}

// testDefinitionConcurrent proves that concurrent puts of different sources
// get distinct versions (none is lost) and that concurrent puts of one
// source agree on one version.
func testDefinitionConcurrent(t *testing.T, s store.Store) {
	const n = 6
	name := uid("def")
	versions := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			v, err := s.PutDefinition(ctx(t), name, fmt.Appendf(nil, "source: %d\n", i))
			if err != nil {
				t.Errorf("PutDefinition %d: %v", i, err)
			}
			versions[i] = v
		})
	}
	wg.Wait()
	seen := map[int]int{}
	for i, v := range versions {
		if j, ok := seen[v]; ok {
			t.Errorf("sources %d and %d both got version %d", j, i, v)
		}
		seen[v] = i
		src, _ := getDef(t, s, name, v)
		if want := fmt.Sprintf("source: %d\n", i); src != want {
			t.Errorf("version %d holds %q, want %q", v, src, want)
		}
	}
	if _, v := getDef(t, s, name, 0); v != n {
		t.Errorf("latest version = %d, want %d", v, n)
	}

	same := uid("def")
	got := make([]int, n)
	for i := range n {
		wg.Go(func() {
			v, err := s.PutDefinition(ctx(t), same, []byte("same: true\n"))
			if err != nil {
				t.Errorf("PutDefinition %d: %v", i, err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	for i, v := range got {
		if v != 1 {
			t.Errorf("identical put %d got version %d, want 1", i, v)
		}
	}
}

// listDefs pages through the definitions with a prefix and returns them.
func listDefs(t *testing.T, s store.Store, prefix string, limit int) []store.DefinitionInfo {
	t.Helper()
	var all []store.DefinitionInfo
	q := store.DefinitionQuery{Prefix: prefix, Limit: limit}
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatalf("ListDefinitions did not end after %d pages", pages)
		}
		page, next, err := s.ListDefinitions(ctx(t), q)
		if err != nil {
			t.Fatalf("ListDefinitions(%+v): %v", q, err)
		}
		if limit > 0 && len(page) > limit {
			t.Fatalf("ListDefinitions(%+v) returned %d, over the limit", q, len(page))
		}
		all = append(all, page...)
		if next == "" {
			return all
		}
		q.Cursor = next
	}
}

func defNames(ds []store.DefinitionInfo) []string {
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%s v%d", d.Name, d.Latest))
	}
	return out
}

func testDefinitionList(t *testing.T, s store.Store) {
	prefix := uid("defs") + "-"
	before := time.Now().Add(-time.Minute)
	for _, n := range []string{"c", "a", "b", "a", "d"} {
		putDef(t, s, prefix+n, fmt.Sprintf("%s: %d\n", n, time.Now().UnixNano()))
	}
	// A name that only starts like ours is not listed with our prefix.
	putDef(t, s, strings.TrimSuffix(prefix, "-")+"x", "x: 1\n")
	want := []string{prefix + "a v2", prefix + "b v1", prefix + "c v1", prefix + "d v1"}
	for _, limit := range []int{0, 1, 3} {
		got := listDefs(t, s, prefix, limit)
		if d := cmp.Diff(want, defNames(got)); d != "" {
			t.Errorf("limit %d: listed (-want +got):\n%s", limit, d)
		}
		for _, d := range got {
			if d.UpdatedAt.Before(before) || d.UpdatedAt.After(time.Now().Add(time.Minute)) {
				t.Errorf("%s updated at %v, want about now", d.Name, d.UpdatedAt)
			}
		}
	}
	if _, _, err := s.ListDefinitions(ctx(t), store.DefinitionQuery{Prefix: prefix, Cursor: prefix + "b"}); err != nil {
		t.Errorf("ListDefinitions from a name: %v", err)
	}
	// Without a prefix (the store may hold others' definitions: one page).
	page, _, err := s.ListDefinitions(ctx(t), store.DefinitionQuery{Limit: 2})
	if err != nil || len(page) == 0 || len(page) > 2 {
		t.Errorf("ListDefinitions without a prefix: %d definitions, %v", len(page), err)
	}
}

func testDefinitionDelete(t *testing.T, s store.Store) {
	prefix := uid("del") + "-"
	name := prefix + "wf"
	a, b := "a: 1\n", "b: 2\n"
	putDef(t, s, name, a)
	putDef(t, s, name, b)
	putDef(t, s, prefix+"other", a)
	if err := s.DeleteDefinition(ctx(t), name); err != nil {
		t.Fatalf("DeleteDefinition: %v", err)
	}
	if _, _, err := s.GetDefinition(ctx(t), name, 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("latest version of a deleted definition: %v, want ErrNotFound", err)
	}
	// Executions pinned to a version read it on.
	for v, want := range map[int]string{1: a, 2: b} {
		if src, _ := getDef(t, s, name, v); src != want {
			t.Errorf("version %d of a deleted definition = %q, want %q", v, src, want)
		}
	}
	if d := cmp.Diff([]string{prefix + "other v1"}, defNames(listDefs(t, s, prefix, 0))); d != "" {
		t.Errorf("listed after the deletion (-want +got):\n%s", d)
	}
	for _, n := range []string{name, prefix + "never"} {
		if err := s.DeleteDefinition(ctx(t), n); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeleteDefinition(%s): %v, want ErrNotFound", n, err)
		}
	}
	// Stored again, even as it was, it takes the next number: a name and
	// a version always mean one source.
	if v := putDef(t, s, name, b); v != 3 {
		t.Errorf("stored again after the deletion as version %d, want 3", v)
	}
	if src, v := getDef(t, s, name, 0); src != b || v != 3 {
		t.Errorf("latest = %q v%d, want %q v3", src, v, b)
	}
	if d := cmp.Diff([]string{prefix + "other v1", name + " v3"}, defNames(listDefs(t, s, prefix, 0))); d != "" {
		t.Errorf("listed after storing again (-want +got):\n%s", d)
	}
	if err := s.DeleteDefinition(ctx(t), name); err != nil {
		t.Errorf("deleting again after a new version: %v", err)
	}
}

// bigWorkbook is a workbook of about size bytes, as real large workbooks
// are: many similar tasks.
func bigWorkbook(size int) string {
	var b strings.Builder
	b.WriteString("version: '2.0'\nname: big\nworkflows:\n  wf:\n    tasks:\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "      task_%05d:\n        action: std.echo output=\"step %d of the deployment of service %d\"\n        on-success: task_%05d\n", i, i, i%97, i+1)
	}
	return b.String()
}

// testDefinitionLarge: a definition over one record's size (a 450 KB
// workbook, and a source that does not compress below a record) is stored
// and read back whole, by version and as the latest, and putting it again
// gives the same version.
func testDefinitionLarge(t *testing.T, s store.Store) {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 600<<10)
	for i := range noise {
		noise[i] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"[rng.IntN(64)]
	}
	for _, tc := range []struct{ name, src string }{
		{"workbook", bigWorkbook(450 << 10)},
		{"incompressible", "# " + string(noise) + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.src) <= store.MaxItemBytes {
				t.Fatalf("the source is %d bytes, not over a record", len(tc.src))
			}
			name := uid("def")
			small := putDef(t, s, name, "version: '2.0'\n")
			v := putDef(t, s, name, tc.src)
			if v != small+1 {
				t.Fatalf("version %d, want %d", v, small+1)
			}
			for _, version := range []int{v, 0} {
				src, got := getDef(t, s, name, version)
				if got != v || src != tc.src {
					t.Fatalf("GetDefinition(%d) = %d bytes at version %d, want the %d bytes put at version %d", version, len(src), got, len(tc.src), v)
				}
			}
			if again := putDef(t, s, name, tc.src); again != v {
				t.Errorf("putting the same large source again gave version %d, want %d", again, v)
			}
			if src, _ := getDef(t, s, name, small); src != "version: '2.0'\n" {
				t.Errorf("the version before holds %q", src)
			}
		})
	}
}
