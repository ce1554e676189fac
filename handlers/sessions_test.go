package handlers_test

// Sessions: the cookie's flags, a cookie the server does not know, and a session that outlives
// a restart.

import (
	. "gifchat/handlers"

	"context"
	"html"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestSessionCookieFlags(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[secure], func(t *testing.T) {
			var opts []testServerOption
			if secure {
				opts = append(opts, withTLS())
			}
			ts := newTestServer(t, opts...)
			c := ts.srv.Client()
			resp, err := c.Get(ts.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			// Over HTTPS the cookie is __Host-: the browser then keeps it only as Secure,
			// Path=/ and without Domain, so nothing over plain HTTP can set or shadow it.
			name := map[bool]string{false: SessionCookie, true: HostSessionCookie}[secure]
			var session *http.Cookie
			for _, ck := range resp.Cookies() {
				if ck.Name == name {
					session = ck
				}
			}
			if session == nil {
				t.Fatalf("no %s cookie in %q", name, resp.Header.Values("Set-Cookie"))
			}
			if hsts := resp.Header.Get("Strict-Transport-Security"); (hsts == "max-age=31536000") != secure {
				t.Errorf("Strict-Transport-Security %q over %s", hsts, map[bool]string{false: "http", true: "https"}[secure])
			}
			raw := strings.Join(resp.Header.Values("Set-Cookie"), "\n")
			if !session.HttpOnly {
				t.Errorf("cookie not HttpOnly: %s", raw)
			}
			if session.SameSite != http.SameSiteLaxMode {
				t.Errorf("cookie SameSite %v, want Lax: %s", session.SameSite, raw)
			}
			if session.Path != "/" {
				t.Errorf("cookie Path %q, want /: %s", session.Path, raw)
			}
			if session.Secure != secure {
				t.Errorf("cookie Secure = %v over %s: %s", session.Secure, map[bool]string{false: "http", true: "https"}[secure], raw)
			}
			if session.MaxAge <= 0 || session.Domain != "" {
				t.Errorf("cookie MaxAge %d, Domain %q: want persistent, host-only", session.MaxAge, session.Domain)
			}
			if len(session.Value) < 43 {
				t.Errorf("session token %d characters; want 256 random bits", len(session.Value))
			}
			// The database holds the token's hash, not the token.
			if _, err := ts.Store.IdentityBySession(context.Background(), session.Value); err == nil {
				t.Error("the raw token is stored")
			}
			id, err := ts.Store.IdentityBySession(context.Background(), HashToken(session.Value))
			if err != nil {
				t.Fatalf("no identity for the session: %v", err)
			}
			// Coming back with the cookie: the same identity, no new cookie.
			req, _ := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
			req.AddCookie(&http.Cookie{Name: name, Value: session.Value})
			resp, err = c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if len(resp.Cookies()) != 0 {
				t.Errorf("a known session got a new cookie: %q", resp.Header.Values("Set-Cookie"))
			}
			if !strings.Contains(string(body), html.EscapeString(id.Nickname)) {
				t.Errorf("the header does not show the nickname %q", id.Nickname)
			}
		})
	}
}

// TestSessionCookieBehindTLSProxy: behind a proxy that terminates TLS the server sees plain
// HTTP. With -trust-proxy, X-Forwarded-Proto: https makes the request secure: the cookie is
// Secure and __Host-, and the answer carries HSTS. Without -trust-proxy, or without the
// header, nothing changes. (The cookie used never to be Secure behind such a proxy.)
func TestSessionCookieBehindTLSProxy(t *testing.T) {
	trusting := newTestServer(t, withConfig(Config{TrustProxy: true}))
	plain := newTestServer(t)
	for _, tc := range []struct {
		name   string
		ts     *testServer
		proto  []string
		secure bool
	}{
		{"trusted proxy says https", trusting, []string{"https"}, true},
		{"trusted proxy says HTTPS after a client's claim", trusting, []string{"http, HTTPS"}, true},
		{"trusted proxy says http", trusting, []string{"http"}, false},
		{"trusted proxy's last word is http", trusting, []string{"https", "http"}, false},
		{"trusted, no header", trusting, nil, false},
		{"untrusted header", plain, []string{"https"}, false},
		{"no proxy, no header", plain, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, tc.ts.URL+"/", nil)
			req.Header["X-Forwarded-Proto"] = tc.proto
			resp, _ := tc.ts.do(t, tc.ts.srv.Client(), req)
			cookies := resp.Cookies()
			if len(cookies) != 1 {
				t.Fatalf("cookies %q, want one session cookie", resp.Header.Values("Set-Cookie"))
			}
			ck, raw := cookies[0], resp.Header.Get("Set-Cookie")
			wantName := map[bool]string{false: SessionCookie, true: HostSessionCookie}[tc.secure]
			if ck.Name != wantName || ck.Secure != tc.secure || ck.Path != "/" || ck.Domain != "" || !ck.HttpOnly {
				t.Errorf("Set-Cookie %s; want %s, Secure %v, Path=/, no Domain, HttpOnly", raw, wantName, tc.secure)
			}
			if hsts := resp.Header.Get("Strict-Transport-Security"); (hsts == "max-age=31536000") != tc.secure {
				t.Errorf("Strict-Transport-Security %q; want it exactly when secure (%v)", hsts, tc.secure)
			}
			// Whichever name the browser sends back, it is the same person, and a cookie
			// under the right name is not set again.
			id, err := tc.ts.Store.IdentityBySession(context.Background(), HashToken(ck.Value))
			if err != nil {
				t.Fatal(err)
			}
			again, _ := http.NewRequest(http.MethodGet, tc.ts.URL+"/", nil)
			again.Header["X-Forwarded-Proto"] = tc.proto
			again.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
			resp, body := tc.ts.do(t, tc.ts.srv.Client(), again)
			if len(resp.Cookies()) != 0 {
				t.Errorf("a known session got cookies %q", resp.Header.Values("Set-Cookie"))
			}
			if !strings.Contains(body, html.EscapeString(id.Nickname)) {
				t.Errorf("coming back with %s: not %q any more", ck.Name, id.Nickname)
			}
		})
	}

	// A session cookie given over plain HTTP (before the proxy was trusted) keeps working over
	// HTTPS and moves to the __Host- name there: same token, the old name expired.
	req, _ := http.NewRequest(http.MethodGet, trusting.URL+"/", nil)
	resp, _ := trusting.do(t, trusting.srv.Client(), req)
	old := resp.Cookies()[0]
	if old.Name != SessionCookie {
		t.Fatalf("plain HTTP gave %s", old.Name)
	}
	id, _ := trusting.Store.IdentityBySession(context.Background(), HashToken(old.Value))
	req, _ = http.NewRequest(http.MethodGet, trusting.URL+"/", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	req.AddCookie(old)
	resp, body := trusting.do(t, trusting.srv.Client(), req)
	if !strings.Contains(body, html.EscapeString(id.Nickname)) {
		t.Errorf("the plain cookie over HTTPS is not %q any more", id.Nickname)
	}
	got := map[string]*http.Cookie{}
	for _, ck := range resp.Cookies() {
		got[ck.Name] = ck
	}
	if h := got[HostSessionCookie]; h == nil || h.Value != old.Value || !h.Secure {
		t.Errorf("not moved to a Secure %s with the same token: %q", HostSessionCookie, resp.Header.Values("Set-Cookie"))
	}
	if p := got[SessionCookie]; p == nil || p.MaxAge >= 0 {
		t.Errorf("the plain-named cookie was not expired: %q", resp.Header.Values("Set-Cookie"))
	}
}

// TestUnknownSessionGetsANewOne: a cookie the server does not know (forged, or from a wiped
// database) is replaced, not trusted.
func TestUnknownSessionGetsANewOne(t *testing.T) {
	ts := newTestServer(t)
	for _, value := range []string{strings.Repeat("A", 43), "short", ""} {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
		req.Header.Set("Cookie", SessionCookie+"="+value)
		resp, _ := ts.do(t, ts.srv.Client(), req)
		var fresh string
		for _, ck := range resp.Cookies() {
			if ck.Name == SessionCookie {
				fresh = ck.Value
			}
		}
		if fresh == "" || fresh == value {
			t.Errorf("cookie %q: answered with %q; want a fresh session", value, fresh)
		}
	}
}

// TestSessionSurvivesRestart stops the app and starts a new one on the same data directory:
// the cookie still names the same person, and their room is still there.
func TestSessionSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	first := newTestServer(t, withDataDir(dir))
	person := first.newPerson(t)
	before := first.identity(t, person)
	id := first.createRoom(t, person, "Still here", 0, "")
	cookie := first.sessionCookie(person)
	first.Close()

	second := newTestServer(t, withDataDir(dir))
	req, _ := http.NewRequest(http.MethodGet, second.URL+"/", nil)
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: cookie.Value})
	resp, body := second.do(t, second.srv.Client(), req)
	if len(resp.Cookies()) != 0 {
		t.Errorf("after a restart the session was replaced: %q", resp.Header.Values("Set-Cookie"))
	}
	if !strings.Contains(body, html.EscapeString(before.Nickname)) {
		t.Errorf("after a restart the header does not show %q", before.Nickname)
	}
	if !strings.Contains(body, `id="room-`+id+`"`) {
		t.Error("after a restart the room is not listed")
	}
	// Still the owner: a private room would ask a stranger, but not them.
	req, _ = http.NewRequest(http.MethodGet, second.URL+"/rooms/"+id, nil)
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: cookie.Value})
	if resp, body := second.do(t, second.srv.Client(), req); resp.StatusCode != http.StatusOK || !strings.Contains(body, "<h1>Still here</h1>") {
		t.Errorf("room page after restart: %s", resp.Status)
	}
}
