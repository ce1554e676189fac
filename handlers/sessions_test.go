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
			var session *http.Cookie
			for _, ck := range resp.Cookies() {
				if ck.Name == SessionCookie {
					session = ck
				}
			}
			if session == nil {
				t.Fatalf("no %s cookie in %q", SessionCookie, resp.Header.Values("Set-Cookie"))
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
			req.AddCookie(&http.Cookie{Name: SessionCookie, Value: session.Value})
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
