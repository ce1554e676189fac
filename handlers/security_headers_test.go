package handlers_test

// The security headers on every answer, and the markup and scripts the Content-Security-Policy
// relies on (nothing inline, no eval). Each test fails if its guard is removed.

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// pageCSP is the Content-Security-Policy of every page: scripts and styles only from files
// of this site, nothing inline, no eval, no framing, no plugins, no <base> games.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// TestSecurityHeaders: every answer (pages, refusals, the health probe, the stylesheet, as the
// owner and as anyone else) carries exactly pageCSP and the other security headers.
func TestSecurityHeaders(t *testing.T) {
	ts := newTestServer(t)
	alice := ts.newPerson(t)
	room := ts.createRoom(t, alice, "Headers", 0, "")
	private := ts.createRoom(t, alice, "Hidden", 0, "sesame")
	bob := ts.newPerson(t)

	check := func(what string, resp *http.Response) {
		t.Helper()
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		if csp != pageCSP {
			t.Errorf("%s: CSP\n got %q\nwant %q", what, csp, pageCSP)
		}
		// What must hold even if pageCSP changes.
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", what, csp)
		}
		directives := map[string]string{}
		for _, d := range strings.Split(csp, ";") {
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
	for _, path := range []string{"/rooms/" + room, "/rooms/" + private} {
		resp, _ := ts.get(t, alice, path)
		check("GET "+path+" as the owner", resp)
	}
	resp, _ := ts.postForm(t, bob, "/rooms", url.Values{"title": {""}}, nil)
	check("POST /rooms (422)", resp)
	resp, _ = ts.postForm(t, bob, "/rooms", url.Values{"title": {"x"}}, http.Header{"Origin": {"https://evil.example"}})
	check("POST /rooms (403)", resp)
	resp, _ = ts.postForm(t, bob, "/rooms/"+private+"/enter", url.Values{"password": {"wrong"}}, nil)
	check("POST enter (401)", resp)

	// The pages hold no inline script (the CSP would block it).
	_, body := ts.get(t, bob, "/")
	if regexp.MustCompile(`<script>|<script [^>]*>[^<]`).MatchString(body) || strings.Contains(body, "hx-on") {
		t.Error("the lobby has inline script")
	}
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
