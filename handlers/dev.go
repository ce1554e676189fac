package handlers

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"net/http"
	"net/http/pprof"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sync"

	"gifchat/components"
	"gifchat/i18n"
	"gifchat/realtime"
	"gifchat/static"
)

// devCSP is the policy for the gallery's pages. No script of ours may run, so no component
// connects, swaps or submits and every state stays as drawn; forms go nowhere; and the
// gallery may frame its own pages (the product's pages refuse every frame). The one script
// allowed is the live-reload script that templ's dev proxy adds to every page (`task dev`),
// named by its full URL under origin so that nothing else qualifies; no origin, no script.
func devCSP(origin string) string {
	script, connect := "'none'", "'none'"
	if origin != "" {
		script, connect = origin+"/_templ/reload/script.js", origin+"/_templ/reload/events"
	}
	return "default-src 'self'; script-src " + script + "; style-src 'self'; img-src 'self'; connect-src " + connect +
		"; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-src 'self'; frame-ancestors 'self'"
}

// devHost is a Host header that may stand in devCSP: a name or address and a port, nothing
// that could end the directive.
var devHost = regexp.MustCompile(`^[A-Za-z0-9.-]+(:[0-9]+)?$|^\[[0-9A-Fa-f:.]+\](:[0-9]+)?$`)

// addDevRoutes mounts the designers' and developers' tools; routes.go calls it only when the
// server runs with -dev, so none of these URLs exists in production.
func addDevRoutes(mux *http.ServeMux, d Deps, session func(http.Handler) http.Handler) {
	mux.Handle("GET /dev/components", session(handleGallery()))
	mux.Handle("GET /dev/components/{state}", session(handleGalleryFrame()))
	mux.Handle("GET "+components.GallerySampleGIF, handleSampleGIF(sampleGIF))
	mux.Handle("GET "+components.GallerySampleWideGIF, handleSampleGIF(sampleWideGIF))
	mux.Handle("GET "+static.Prefix+"{file}", handleDevStatic(devStaticDir, static.Handler()))

	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}

// withDevHeaders replaces the product's CSP and frame refusal (set by securityHeaders before
// any handler runs) with devCSP, and keeps the gallery out of every cache.
func withDevHeaders(w http.ResponseWriter, r *http.Request) {
	origin := ""
	if devHost.MatchString(r.Host) {
		origin = "http://" + r.Host
		if r.TLS != nil {
			origin = "https://" + r.Host
		}
	}
	w.Header().Set("Content-Security-Policy", devCSP(origin))
	w.Header().Set("X-Frame-Options", "SAMEORIGIN")
	w.Header().Set("Cache-Control", "no-store")
}

// handleGallery shows every component in every state; the visitor plays "me". ?lang=ko
// shows them in Korean (or English) whatever the visitor's own language.
func handleGallery() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		withDevHeaders(w, r)
		r, chosen := withGalleryLang(r)
		me := realtime.PersonView(identityFrom(r.Context()))
		render(w, r, http.StatusOK, components.Gallery(me, chosen))
	})
}

// withGalleryLang renders the gallery in the language its ?lang= names, if it names one we
// speak, so a designer can compare both without switching their own.
func withGalleryLang(r *http.Request) (*http.Request, bool) {
	l, ok := i18n.Parse(r.URL.Query().Get(components.GalleryLangParam))
	if !ok {
		return r, false
	}
	return r.WithContext(i18n.With(r.Context(), l)), true
}

// handleGalleryFrame renders one whole page (lobby, room, 404, ...) for the gallery's iframes.
func handleGalleryFrame() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		withDevHeaders(w, r)
		r, _ = withGalleryLang(r)
		name := r.PathValue("state")
		if name == "not-found" {
			notFound(w, r) // the real thing, status and all
			return
		}
		me := realtime.PersonView(identityFrom(r.Context()))
		page, ok := components.GalleryFrame(r.Context(), name, me)
		if !ok {
			notFound(w, r)
			return
		}
		render(w, r, http.StatusOK, page)
	})
}

// devStaticDir is where handleDevStatic looks for the CSS and scripts: the repository's
// static/ when the server runs from the repository root, as `task dev` runs it.
var devStaticDir = "static"

// hashedAsset splits a content-hashed asset name (app.3f2a9c1d0b4e.css) into its file name.
var hashedAsset = regexp.MustCompile(`^([a-z0-9_-]+)\.[0-9a-f]{12}(\.(?:css|js))$`)

// handleDevStatic serves our CSS and scripts from disk instead of from the binary, uncached,
// so an edit needs only a browser reload, not a rebuild: `task dev` reloads the page when a
// static file changes and restarts the server only for Go and templ code. Pages keep linking
// the embedded file's hashed name; no-store makes the browser fetch it again on every load.
// Anything not found on disk (the htmx files when not copied, a run outside the repository)
// is served from the binary as usual.
func handleDevStatic(dir string, embedded http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		if m := hashedAsset.FindStringSubmatch(name); m != nil {
			name = m[1] + m[2]
		}
		ext := path.Ext(name)
		if ext != ".css" && ext != ".js" {
			embedded.ServeHTTP(w, r)
			return
		}
		body, err := os.ReadFile(filepath.Join(dir, path.Base(name)))
		if err != nil {
			embedded.ServeHTTP(w, r)
			return
		}
		ctype := "text/css; charset=utf-8"
		if ext == ".js" {
			ctype = "text/javascript; charset=utf-8"
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(body)
	})
}

// The gallery's sample GIFs are drawn once, on first use: a small animated one and one wider
// than any message bubble.
var (
	sampleGIF     = sync.OnceValue(func() []byte { return drawSampleGIF(240, 180, 12) })
	sampleWideGIF = sync.OnceValue(func() []byte { return drawSampleGIF(960, 240, 12) })
)

func handleSampleGIF(body func() []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/gif")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(body())
	})
}

// drawSampleGIF paints a looping animation: a ball crossing a striped background, enough
// motion to see that GIFs animate and to judge the reduced-motion story. Pixels are set by
// palette index: a colour lookup per pixel makes the wide sample take seconds.
func drawSampleGIF(width, height, frames int) []byte {
	pal := color.Palette{
		color.RGBA{91, 63, 214, 255}, color.RGBA{217, 70, 156, 255}, color.RGBA{255, 183, 77, 255}, // stripes
		color.RGBA{255, 255, 255, 255}, // ball
	}
	const stripes, ball = 3, 3
	anim := &gif.GIF{LoopCount: 0}
	radius := height / 5
	band := max(height/stripes, 1)
	for f := range frames {
		img := image.NewPaletted(image.Rect(0, 0, width, height), pal)
		cx := radius + (width-2*radius)*f/max(frames-1, 1)
		cy := height / 2
		for y := range height {
			row := img.Pix[y*img.Stride : y*img.Stride+width]
			stripe := uint8(min(y/band, stripes-1))
			for x := range row {
				if dx, dy := x-cx, y-cy; dx*dx+dy*dy <= radius*radius {
					row[x] = ball
				} else {
					row[x] = stripe
				}
			}
		}
		anim.Image = append(anim.Image, img)
		anim.Delay = append(anim.Delay, 8)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, anim); err != nil {
		panic("dev: encode sample GIF: " + err.Error()) // fixed input: cannot fail but for a bug
	}
	return buf.Bytes()
}
