// Package console is Bora's web console: one page, embedded in the binary,
// that shows and steers executions and workflows through the HTTP API
// (internal/api) and nothing else. `bora serve` serves it at / beside the
// API; `bora console` serves it beside a proxy of a deployed API (Proxy),
// which signs the browser's calls so that no credential reaches the
// browser. docs/console.md describes what it shows.
//
// The assets are plain JavaScript modules and CSS, with no build step and
// no dependency. Nothing from a workflow's data is ever parsed as HTML:
// the page builds its DOM with text nodes only, and the Content Security
// Policy sent with it allows no inline script or style.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed assets
var assets embed.FS

// SecurityHeaders are sent with every answer of the console's handler:
// scripts, styles and requests from this origin only, no framing, no
// referrer, no content sniffing.
var SecurityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"X-Frame-Options":        "DENY",
	"Referrer-Policy":        "no-referrer",
}

// asset is one embedded file, ready to serve.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

var (
	loadOnce sync.Once
	files    map[string]asset // by URL path: "/" and "/assets/<name>"
)

// load reads the embedded files once and computes their ETags.
func load() map[string]asset {
	loadOnce.Do(func() {
		files = map[string]asset{}
		err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := assets.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			ctype := mime.TypeByExtension(path.Ext(p))
			if ctype == "" {
				ctype = "application/octet-stream"
			}
			a := asset{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
			files["/"+p] = a
			if p == "assets/index.html" {
				files["/"] = a
			}
			return nil
		})
		if err != nil {
			panic(fmt.Sprintf("console: embedded assets: %v", err)) // the build embeds them: cannot happen
		}
	})
	return files
}

// contentTypes fixes the types of the asset kinds the page uses, whatever
// the machine's MIME tables say (a module script must be text/javascript).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".json": "application/json",
}

func init() {
	for ext, t := range contentTypes {
		_ = mime.AddExtensionType(ext, t)
	}
}

// Handler serves the console: the page at / and its files under /assets/.
// Other paths are 404, other methods 405. Answers carry SecurityHeaders
// and an ETag; a browser revalidates them on every load, so a new binary's
// console is never mixed with an old one's cached files.
func Handler() http.Handler {
	fsys := load()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range SecurityHeaders {
			w.Header().Set(k, v)
		}
		a, ok := fsys[r.URL.Path]
		if !ok || strings.HasSuffix(r.URL.Path, "/") && r.URL.Path != "/" {
			http.Error(w, "not found: the console is at /", http.StatusNotFound)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", a.ctype)
		w.Header().Set("ETag", a.etag)
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}
