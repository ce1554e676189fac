package handlers_test

// Cross-origin protection, the WebSocket origin check, the security headers, and the
// markup and scripts the CSP relies on. Each test fails if its guard is removed.

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// stateChangingRoute is one POST route with a request that would succeed from the site itself.
type stateChangingRoute struct {
	pattern string // as in routes.go
	path    string
	body    func() (contentType string, body []byte)
	// changed reports whether the request took effect (a room, an entry, a message, a removal).
	changed func(t *testing.T) bool
}

func formBody(v url.Values) func() (string, []byte) {
	return func() (string, []byte) { return "application/x-www-form-urlencoded", []byte(v.Encode()) }
}

// TestEveryStateChangingRouteRefusesCrossOrigin sends each POST route a request that works
// from the site itself, but marked as coming from another site (as a browser marks it): every
// one is refused with 403 and changes nothing. Routes are read from routes.go, so a new POST
// route without a case here fails the test.
func TestEveryStateChangingRouteRefusesCrossOrigin(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	owner := ts.newPerson(t)
	visitor := ts.newPerson(t)
	public := ts.createRoom(t, owner, "Public", 0, "")
	private := ts.createRoom(t, owner, "Private", 0, "sesame")
	visitorID := ts.identity(t, visitor).ID

	roomCount := func() int {
		rooms, err := ts.Store.ListRooms(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(rooms)
	}
	messageCount := func(room string) int {
		msgs, err := ts.Store.LatestMessages(ctx, room, visitorID, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return len(msgs)
	}
	routes := []stateChangingRoute{
		{
			pattern: "POST /rooms", path: "/rooms",
			body:    formBody(url.Values{"title": {"Forged room"}}),
			changed: func(t *testing.T) bool { return roomCount() != 2 },
		},
		{
			pattern: "POST /rooms/{id}/enter", path: "/rooms/" + private + "/enter",
			body: formBody(url.Values{"password": {"sesame"}}),
			changed: func(t *testing.T) bool {
				ok, err := ts.Store.HasRoomEntry(ctx, private, visitorID)
				if err != nil {
					t.Fatal(err)
				}
				return ok
			},
		},
		{
			pattern: "POST /rooms/{id}/messages", path: "/rooms/" + public + "/messages",
			body:    formBody(url.Values{"text": {"forged message"}}),
			changed: func(t *testing.T) bool { return messageCount(public) != 0 },
		},
		{
			pattern: "POST /rooms/{id}/delete", path: "/rooms/" + public + "/delete",
			body:    formBody(url.Values{"confirm": {"yes"}}),
			changed: func(t *testing.T) bool { return ts.Rooms.Hub(public) == nil || roomCount() != 2 },
		},
		{
			pattern: "POST /rooms/{id}/gifs", path: "/rooms/" + public + "/gifs",
			body: func() (string, []byte) {
				var buf bytes.Buffer
				mw := multipart.NewWriter(&buf)
				fw, _ := mw.CreateFormFile("gif", "x.gif")
				fw.Write([]byte("GIF89a"))
				mw.Close()
				return mw.FormDataContentType(), buf.Bytes()
			},
			changed: func(t *testing.T) bool { return messageCount(public) != 0 },
		},
	}

	// Every POST in routes.go has a case above.
	src, err := os.ReadFile("routes.go")
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, r := range routes {
		covered[r.pattern] = true
	}
	for _, m := range regexp.MustCompile(`"((?:POST|PUT|PATCH|DELETE) [^"]+)"`).FindAllStringSubmatch(string(src), -1) {
		if !covered[m[1]] {
			t.Errorf("routes.go has %q, which this test does not cover: add a case", m[1])
		}
	}

	hostile := []http.Header{
		{"Origin": {"https://evil.example"}},
		{"Origin": {"null"}},
		{"Sec-Fetch-Site": {"cross-site"}},
		{"Sec-Fetch-Site": {"same-site"}}, // a sibling subdomain is another site's page too
		{"Origin": {"https://evil.example"}, "Hx-Request": {"true"}},
	}
	for _, r := range routes {
		for _, h := range hostile {
			// The owner sends them: the most a forged request could do is the owner's.
			person := owner
			if r.pattern == "POST /rooms/{id}/enter" {
				person = visitor
			}
			ct, body := r.body()
			req, _ := http.NewRequest(http.MethodPost, ts.URL+r.path, bytes.NewReader(body))
			req.Header.Set("Content-Type", ct)
			for k, v := range h {
				req.Header[k] = v
			}
			resp, page := ts.do(t, noRedirect(person), req)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s with %v: %s, want 403", r.pattern, h, resp.Status)
			}
			if !strings.Contains(page, "came from another site") {
				t.Errorf("%s with %v: the refusal does not say why:\n%s", r.pattern, h, page)
			}
			if r.changed(t) {
				t.Fatalf("%s with %v took effect", r.pattern, h)
			}
		}
	}

	// The same requests from the site itself work (so the refusals above were the guard's).
	resp, _ := ts.postForm(t, noRedirect(owner), "/rooms/"+public+"/messages", url.Values{"text": {"same-site message"}},
		http.Header{"Origin": {ts.URL}, "Sec-Fetch-Site": {"same-origin"}})
	if resp.StatusCode != http.StatusSeeOther || messageCount(public) != 1 {
		t.Errorf("same-origin post: %s, %d messages", resp.Status, messageCount(public))
	}
	resp, _ = ts.postForm(t, noRedirect(owner), "/rooms/"+public+"/delete", url.Values{"confirm": {"yes"}},
		http.Header{"Origin": {ts.URL}})
	if resp.StatusCode != http.StatusSeeOther || ts.Rooms.Hub(public) != nil {
		t.Errorf("same-origin delete by the owner: %s", resp.Status)
	}
}

// TestRoomSocketRefusesForeignOrigin: a page on another site cannot open a room socket with
// the visitor's cookie (cross-site WebSocket hijacking); the handshake is refused before
// any admission, and the person takes no place in the room.
func TestRoomSocketRefusesForeignOrigin(t *testing.T) {
	ts := newTestServer(t)
	alice := ts.newPerson(t)
	room := ts.createRoom(t, alice, "Origins", 0, "")
	u := strings.Replace(ts.URL, "http", "ws", 1) + "/rooms/" + room + "/ws?after=0"
	cookie := ts.sessionCookie(alice).String()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	for _, origin := range []string{"https://evil.example", "null", "http://127.0.0.1.evil.example", "http://localhost"} {
		conn, resp, err := d.Dial(u, http.Header{"Origin": {origin}, "Cookie": {cookie}})
		if err == nil {
			conn.Close()
			t.Fatalf("handshake with Origin %q was accepted", origin)
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("Origin %q: %v, want a 403 answer", origin, err)
		}
	}
	if people, _ := ts.Rooms.Hub(room).Occupancy(0); people != 0 {
		t.Fatalf("%d people in the room after refused handshakes", people)
	}
	// The site's own origin is admitted.
	p := ts.joined(t, alice, room)
	p.conn.Close()
}

// pageCSP is the Content-Security-Policy of every page: scripts and styles only from files
// of this site, nothing inline, no eval, no framing, no plugins, no <base> games.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func TestSecurityHeadersExact(t *testing.T) {
	ts := newTestServer(t)
	alice := ts.newPerson(t)
	room := ts.createRoom(t, alice, "Headers", 0, "")
	private := ts.createRoom(t, alice, "Hidden", 0, "sesame")
	bob := ts.newPerson(t)

	check := func(what string, resp *http.Response) {
		t.Helper()
		h := resp.Header
		if got := h.Get("Content-Security-Policy"); got != pageCSP {
			t.Errorf("%s: CSP\n got %q\nwant %q", what, got, pageCSP)
		}
		directives := map[string]string{}
		for _, d := range strings.Split(h.Get("Content-Security-Policy"), ";") {
			name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
			directives[name] = value
		}
		for _, bad := range []string{"unsafe-inline", "unsafe-eval", "unsafe-hashes", "*", "data:", "http:", "https:"} {
			for name, value := range directives {
				if strings.Contains(value, bad) && (name == "script-src" || name == "style-src" || name == "default-src") {
					t.Errorf("%s: %s allows %s", what, name, bad)
				}
			}
		}
		if directives["frame-ancestors"] != "'none'" {
			t.Errorf("%s: frame-ancestors %q", what, directives["frame-ancestors"])
		}
		if got := h.Get("Referrer-Policy"); got != "same-origin" {
			t.Errorf("%s: Referrer-Policy %q, want same-origin (room URLs must not leak to other sites)", what, got)
		}
		if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", what, got)
		}
		if got := h.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("%s: X-Frame-Options %q", what, got)
		}
	}
	for _, path := range []string{"/", "/rooms/" + room, "/rooms/" + private, "/nope", "/rooms/aaaaaaaaaaaaaaaa", "/healthz", "/me.css"} {
		resp, _ := ts.get(t, bob, path)
		check("GET "+path, resp)
	}
	resp, _ := ts.postForm(t, bob, "/rooms", url.Values{"title": {""}}, nil)
	check("POST /rooms (422)", resp)
	resp, _ = ts.postForm(t, bob, "/rooms", url.Values{"title": {"x"}}, http.Header{"Origin": {"https://evil.example"}})
	check("POST /rooms (403)", resp)
	resp, _ = ts.postForm(t, bob, "/rooms/"+private+"/enter", url.Values{"password": {"wrong"}}, nil)
	check("POST enter (401)", resp)
}

// cspViolations lists what in HTML or templ source would need 'unsafe-inline' or
// 'unsafe-eval': inline scripts and styles, event-handler attributes, hx-on, js: values and
// htmx trigger filters (which htmx evaluates as code).
func cspViolations(src string) []string {
	var out []string
	for _, tag := range regexp.MustCompile(`(?is)<script\b[^>]*>`).FindAllString(src, -1) {
		if !regexp.MustCompile(`\ssrc=`).MatchString(tag) {
			out = append(out, "inline <script>: "+tag)
		}
	}
	checks := []struct{ what, pattern string }{
		{"<style> element", `(?i)<style[\s>]`},
		{"style= attribute", `(?i)\sstyle\s*=`},
		{"event-handler attribute", `(?i)\son[a-z]+\s*=\s*["'{]`},
		{"hx-on attribute", `(?i)hx-on`},
		{"js: value", `(?i)=\s*["'{]?\s*js:`},
		{"javascript: URL", `(?i)javascript:`},
		{"htmx trigger filter", `(?i)hx-trigger\s*=\s*["'][^"']*\[`},
	}
	for _, c := range checks {
		for _, m := range regexp.MustCompile(c.pattern).FindAllString(src, -1) {
			out = append(out, c.what+": "+m)
		}
	}
	return out
}

// TestMarkupAndScriptsNeedNoUnsafeCSP walks every templ component and our own scripts for
// anything the CSP above would block (the page would then silently break), and checks the
// pages as rendered. The vendored htmx files are not ours; htmx core needs no eval unless a
// page uses hx-on, js: values or trigger filters, which this test keeps out of the markup.
func TestMarkupAndScriptsNeedNoUnsafeCSP(t *testing.T) {
	templs, _ := filepath.Glob("../components/*.templ")
	if len(templs) == 0 {
		t.Fatal("no templ files found")
	}
	for _, f := range templs {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range cspViolations(string(src)) {
			t.Errorf("%s: %s", f, v)
		}
	}
	layout, err := os.ReadFile("../components/layout.templ")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(layout), `"includeIndicatorCSS":false`) {
		t.Error("layout.templ: htmx must be configured with includeIndicatorCSS:false (it would inject a style)")
	}

	scripts, _ := filepath.Glob("../static/*.js")
	own := 0
	for _, f := range scripts {
		if strings.HasSuffix(f, ".min.js") {
			continue // vendored htmx, pinned in package-lock.json
		}
		own++
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ what, pattern string }{
			{"eval", `\beval\s*\(`},
			{"new Function", `new\s+Function\s*\(`},
			{"string timer", `set(?:Timeout|Interval)\s*\(\s*["'\x60]`},
			{"event-handler attribute", `setAttribute\s*\(\s*["']on`},
			{"style attribute", `setAttribute\s*\(\s*["']style`},
			{"style text", `\.cssText\b`},
			{"javascript: URL", `javascript:`},
			{"hx-on attribute", `hx-on`},
			{"markup with inline code", `(?i)innerHTML\s*[+]?=\s*[^;]*(?:<script|\son[a-z]+=|style=)`},
		} {
			for _, m := range regexp.MustCompile(c.pattern).FindAllString(string(src), -1) {
				t.Errorf("%s: %s: %s", f, c.what, m)
			}
		}
	}
	if own == 0 {
		t.Fatal("no own scripts found in ../static")
	}

	// The rendered pages, as a browser receives them.
	ts := newTestServer(t)
	alice := ts.newPerson(t)
	room := ts.createRoom(t, alice, "Rendered", 0, "")
	private := ts.createRoom(t, alice, "Rendered private", 0, "sesame")
	bob := ts.newPerson(t)
	pages := map[string]string{}
	for _, path := range []string{"/", "/rooms/" + room, "/rooms/" + private, "/nope"} {
		_, pages["GET "+path] = ts.get(t, bob, path)
	}
	_, pages["POST /rooms 422"] = ts.postForm(t, bob, "/rooms", url.Values{"title": {""}}, nil)
	_, pages["POST /rooms 422 htmx"] = ts.postForm(t, bob, "/rooms", url.Values{"title": {""}}, http.Header{"Hx-Request": {"true"}})
	_, pages["POST delete confirm"] = ts.postForm(t, alice, "/rooms/"+room+"/delete", nil, nil)
	p := ts.joined(t, alice, room)
	p.say(t, "hello")
	pages["room socket frames"] = p.waitFor(t, "hello")
	names := make([]string, 0, len(pages))
	for n := range pages {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, v := range cspViolations(pages[n]) {
			t.Errorf("%s: %s", n, v)
		}
	}
}
