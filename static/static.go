// Package static embeds gifchat's CSS and scripts (our own, plus the htmx files the assets
// task copies in from npm) and serves them under content-hashed URLs with immutable caching.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed *.css *.js
var files embed.FS

// Vendored lists the files that come from npm (htmx.org) rather than from this repository.
var Vendored = []string{"htmx.min.js", "hx-sse.min.js", "hx-ws.min.js"}

// Prefix is where assets are served.
const Prefix = "/static/"

type asset struct {
	body   []byte
	hashed string // e.g. app.3f2a9c1d.css
	ctype  string
}

var (
	byName   = map[string]*asset{}
	byHashed = map[string]*asset{}
)

func init() {
	entries, _ := fs.ReadDir(files, ".")
	for _, e := range entries {
		body, err := files.ReadFile(e.Name())
		if err != nil {
			continue
		}
		sum := sha256.Sum256(body)
		ext := path.Ext(e.Name())
		a := &asset{
			body:   body,
			hashed: strings.TrimSuffix(e.Name(), ext) + "." + hex.EncodeToString(sum[:6]) + ext,
			ctype:  contentType(ext),
		}
		byName[e.Name()] = a
		byHashed[a.hashed] = a
	}
}

func contentType(ext string) string {
	switch ext {
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	}
	return "application/octet-stream"
}

// Check reports the vendored htmx files missing from the build, with the command that fixes it.
func Check() error {
	var missing []string
	for _, name := range Vendored {
		if _, ok := byName[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("static: %s missing from the binary: run `go tool -modfile=tools/go.mod task assets` (npm ci + copy from static/node_modules/htmx.org/dist), then rebuild", strings.Join(missing, ", "))
	}
	return nil
}

// URL returns the content-hashed URL of an asset, so a changed file gets a new URL and an
// unchanged one can be cached for a year.
func URL(name string) string {
	if a, ok := byName[name]; ok {
		return Prefix + a.hashed
	}
	return Prefix + name
}

// Handler serves assets by hashed name with immutable caching; a plain name is served too
// (for tools and old pages) but revalidated.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, Prefix)
		a, ok := byHashed[name]
		immutable := ok
		if !ok {
			a, ok = byName[name]
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", a.ctype)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if immutable {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("ETag", `"`+strings.TrimSuffix(a.hashed, path.Ext(a.hashed))+`"`)
			if r.Header.Get("If-None-Match") == w.Header().Get("ETag") {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		w.Write(a.body)
	})
}
