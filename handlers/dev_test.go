package handlers_test

import (
	. "gifchat/handlers"

	"bytes"
	"image/gif"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// galleryStates is what the designers' issue asks the gallery to show, by marker. The
// gallery may show more; it may not show less.
var galleryStates = []string{
	// messages
	"message-mine", "message-other", "message-system", "message-gif", "message-whisper",
	"message-long-text", "message-korean", "message-long-word",
	"message-edited", "message-deleted", "message-reactions", "reaction-picker", "typing", "new-divider",
	// room cards
	"room-card-public", "room-card-private", "room-card-full", "room-list-empty",
	// forms with each error
	"create-form", "create-form-error-title-empty", "create-form-error-title-long",
	"create-form-error-capacity", "create-form-error-capacity-nan", "create-form-error-password",
	"create-form-error-form", "password-form-error",
	// members, composer, status
	"members-owner", "members-member",
	"composer", "composer-whisper", "composer-error", "composer-closed", "gif-uploading", "gif-refused",
	"status-error", "status-closed", "status-reconnecting",
	// whole pages
	"lobby", "lobby-empty", "room", "room-empty", "not-found",
}

// startDevTestServer runs the real app with Dev on or off and returns its URL and a client
// with a cookie jar.
func startDevTestServer(t *testing.T, dev bool) (string, *http.Client) {
	t.Helper()
	ts := newTestServer(t, withConfig(Config{Dev: dev}))
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return ts.URL, &http.Client{Jar: jar, Timeout: 30 * time.Second}
}

func devGet(t *testing.T, c *http.Client, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read: %v", url, err)
	}
	return resp, body
}

var (
	iframeSrc = regexp.MustCompile(`<iframe[^>]*\ssrc="(/dev/components/[^"]+)"`)
	dataMe    = regexp.MustCompile(`You are <span class="who c\d+">([^<]+)</span>`)
)

func TestGalleryShowsEveryState(t *testing.T) {
	base, person := startDevTestServer(t, true)
	resp, page := devGet(t, person, base+"/dev/components")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /dev/components: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q, want text/html", ct)
	}
	for _, name := range galleryStates {
		if n := bytes.Count(page, []byte(`data-gallery-state="`+name+`"`)); n != 1 {
			t.Errorf("state %q: marker found %d times, want once", name, n)
		}
	}

	// Our scripts are off, so no component connects or swaps; only the dev proxy's reload
	// script may run; the gallery may frame its pages.
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src " + base + "/_templ/reload/script.js;", "frame-ancestors 'self'", "form-action 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("gallery CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "script-src 'self'") {
		t.Errorf("gallery CSP %q lets the app's scripts run", csp)
	}

	// The visitor plays "me": their own name is in the header, and "my" message carries
	// their id, which is what /me.css keys on.
	m := dataMe.FindSubmatch(page)
	if m == nil {
		t.Fatal("gallery does not say who the visitor is")
	}
	mine := regexp.MustCompile(`data-gallery-state="message-mine"(?s:.*?)class="msg msg-text" data-seq="\d+" data-author="([1-9]\d*)"`).FindSubmatch(page)
	if mine == nil {
		t.Fatal("message-mine: no text message by a real (positive) identity id")
	}
	_, meCSS := devGet(t, person, base+"/me.css")
	if !bytes.Contains(meCSS, []byte(`data-author="`+string(mine[1])+`"`)) {
		t.Errorf("message-mine's author %s is not the visitor me.css styles:\n%s", mine[1], meCSS)
	}

	// Every framed page renders; each shows what its state is about.
	frames := iframeSrc.FindAllSubmatch(page, -1)
	if len(frames) == 0 {
		t.Fatal("no framed pages")
	}
	wantText := map[string]string{
		"/dev/components/lobby":               `aria-label="Rooms"`,
		"/dev/components/lobby-empty":         "No rooms yet",
		"/dev/components/room":                `role="log"`,
		"/dev/components/room-empty":          "This is the beginning of the room.",
		"/dev/components/password-form-error": "wrong password",
		"/dev/components/room-full":           "full",
		"/dev/components/not-found":           "not found",
	}
	seen := map[string]bool{}
	for _, f := range frames {
		path := string(f[1])
		seen[path] = true
		resp, body := devGet(t, person, base+path)
		want := http.StatusOK
		if path == "/dev/components/not-found" {
			want = http.StatusNotFound // the real 404 page, status and all
		}
		if resp.StatusCode != want {
			t.Errorf("GET %s: %s, want %d", path, resp.Status, want)
		}
		if fa := resp.Header.Get("Content-Security-Policy"); !strings.Contains(fa, "frame-ancestors 'self'") {
			t.Errorf("GET %s: CSP %q does not let the gallery frame it", path, fa)
		}
		if xfo := resp.Header.Get("X-Frame-Options"); xfo != "SAMEORIGIN" {
			t.Errorf("GET %s: X-Frame-Options %q, want SAMEORIGIN", path, xfo)
		}
		if text, ok := wantText[path]; ok && !bytes.Contains(body, []byte(text)) {
			t.Errorf("GET %s: page lacks %q", path, text)
		}
	}
	for path := range wantText {
		if !seen[path] {
			t.Errorf("the gallery does not frame %s", path)
		}
	}
	if resp, _ := devGet(t, person, base+"/dev/components/no-such-state"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown gallery state: %s, want 404", resp.Status)
	}

	// The sample GIFs are real, animated GIFs, and the gallery shows them.
	for _, path := range []string{"/dev/sample.gif", "/dev/sample-wide.gif"} {
		if !bytes.Contains(page, []byte(`src="`+path+`"`)) {
			t.Errorf("gallery shows no image from %s", path)
		}
		resp, body := devGet(t, person, base+path)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/gif" {
			t.Errorf("GET %s: %s %q", path, resp.Status, resp.Header.Get("Content-Type"))
			continue
		}
		g, err := gif.DecodeAll(bytes.NewReader(body))
		if err != nil {
			t.Errorf("GET %s: not a GIF: %v", path, err)
		} else if len(g.Image) < 2 {
			t.Errorf("GET %s: %d frame(s), want an animation", path, len(g.Image))
		}
	}

	// pprof is mounted in dev mode.
	if resp, body := devGet(t, person, base+"/debug/pprof/"); resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("goroutine")) {
		t.Errorf("GET /debug/pprof/: %s", resp.Status)
	}

	// Dev mode relaxes nothing for the product's own pages.
	resp, _ = devGet(t, person, base+"/")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("lobby CSP in dev mode: %q", csp)
	}
}

var stylesheetHref = regexp.MustCompile(`<link rel="stylesheet" href="(/static/app\.[0-9a-f]+\.css)"`)

// In dev mode the CSS comes from disk, uncached, so an edit shows on the next reload
// without a rebuild; files not on disk still come from the binary.
func TestDevServesStaticFilesFromDisk(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.css"), []byte("/* edited on disk */"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(SetDevStaticDir(dir))

	for _, dev := range []bool{true, false} {
		base, person := startDevTestServer(t, dev)
		_, lobby := devGet(t, person, base+"/")
		m := stylesheetHref.FindSubmatch(lobby)
		if m == nil {
			t.Fatal("lobby links no hashed app.css")
		}
		resp, css := devGet(t, person, base+string(m[1]))
		fromDisk := string(css) == "/* edited on disk */"
		if fromDisk != dev {
			t.Errorf("dev=%v: stylesheet from disk = %v", dev, fromDisk)
		}
		if dev && resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("dev stylesheet Cache-Control %q, want no-store", resp.Header.Get("Cache-Control"))
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
			t.Errorf("dev=%v: stylesheet Content-Type %q", dev, ct)
		}
		if dev {
			// app.js is not in dir: the embedded one is served.
			resp, js := devGet(t, person, base+"/static/app.js")
			if resp.StatusCode != http.StatusOK || !bytes.Contains(js, []byte("htmx:ws")) {
				t.Errorf("dev: app.js not served from the binary when missing on disk: %s", resp.Status)
			}
		}
	}
}

func TestDevRoutesAreAbsentWithoutDev(t *testing.T) {
	base, person := startDevTestServer(t, false)
	for _, path := range []string{
		"/dev/components", "/dev/components/lobby", "/dev/components/not-found",
		"/dev/sample.gif", "/dev/sample-wide.gif", "/debug/pprof/", "/debug/pprof/goroutine",
	} {
		resp, body := devGet(t, person, base+path)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s without -dev: %s, want 404", path, resp.Status)
		}
		if bytes.Contains(body, []byte("data-gallery-state")) {
			t.Errorf("GET %s without -dev shows gallery content", path)
		}
	}
}

// The reload script's origin comes from the Host header; one that could end the directive
// and add its own sources allows no script at all.
func TestDevCSPTakesOnlyAPlainHost(t *testing.T) {
	for host, want := range map[string]string{
		"127.0.0.1:7331":                 "script-src http://127.0.0.1:7331/_templ/reload/script.js;",
		"localhost":                      "script-src http://localhost/_templ/reload/script.js;",
		"[::1]:7331":                     "script-src http://[::1]:7331/_templ/reload/script.js;",
		"evil; script-src *":             "script-src 'none';",
		"a.example/x 'unsafe-inline'":    "script-src 'none';",
		"127.0.0.1:7331;script-src data": "script-src 'none';",
	} {
		r := httptest.NewRequest(http.MethodGet, "/dev/components", nil)
		r.Host = host
		w := httptest.NewRecorder()
		WithDevHeaders(w, r)
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, want) {
			t.Errorf("Host %q: CSP %q, want it to contain %q", host, csp, want)
		}
	}
}
