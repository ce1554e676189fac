package handlers_test

// The language switch (GET /lang?to=ko): a plain link, so it works without JS. It remembers
// the choice in a cookie, goes back to the page it was clicked on (only a page of this site),
// and the choice beats the browser's Accept-Language from then on, pages and sockets alike.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	. "gifchat/handlers"
	"gifchat/realtime"
)

// switchLanguage follows the switch's link from the page referer (a full URL, or "" for
// none) and returns the answer, not followed.
func (ts *testServer) switchLanguage(t *testing.T, person *http.Client, to, referer string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.URL+"/lang?to="+url.QueryEscape(to), nil)
	if err != nil {
		t.Fatal(err)
	}
	if referer != "" {
		req.Header.Set("Referer", referer)
	}
	resp, _ := ts.do(t, noRedirect(person), req)
	return resp
}

func langCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == LangCookie {
			return c
		}
	}
	return nil
}

func TestLanguageSwitch(t *testing.T) {
	ts := newTestServer(t)
	english := ts.newPersonIn(t, "en-US,en;q=0.9")
	room := ts.createRoom(t, english, "Lunch", 0, "")
	pageLang := func(person *http.Client, path string) (string, string) {
		t.Helper()
		resp, page := ts.get(t, person, path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		if vary := strings.Join(resp.Header.Values("Vary"), ", "); !strings.Contains(vary, "Accept-Language") || !strings.Contains(vary, "Cookie") {
			t.Errorf("GET %s varies by %q: a cache could hand one language's page to the other", path, vary)
		}
		return htmlLang(page), page
	}
	if lang, page := pageLang(english, "/"); lang != "en" || !strings.Contains(page, "GIF chat") {
		t.Fatalf("an English browser's first lobby is in %q", lang)
	}

	// Switched on the room's page: the cookie is set, and the switch goes back to that page.
	resp := ts.switchLanguage(t, english, "ko", ts.URL+"/rooms/"+room)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/rooms/"+room {
		t.Fatalf("switch to ko from the room: %s to %q, want 303 to /rooms/%s", resp.Status, resp.Header.Get("Location"), room)
	}
	ck := langCookie(resp)
	if ck == nil || ck.Value != "ko" || ck.Path != "/" || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.MaxAge <= 0 {
		t.Fatalf("switch to ko set the cookie %+v; want %s=ko, Path /, HttpOnly, SameSite Lax, lasting", ck, LangCookie)
	}
	// The choice beats the browser's Accept-Language (still English), on the page it came
	// back to and on every reload after.
	for _, path := range []string{"/rooms/" + room, "/rooms/" + room, "/"} {
		if lang, page := pageLang(english, path); lang != "ko" || !strings.Contains(page, "GIF 채팅") {
			t.Errorf("GET %s after switching to Korean: <html lang=%q>", path, lang)
		}
	}
	// And on the room's socket, whose handshake carries the cookie: a refusal is Korean.
	u := strings.Replace(ts.URL, "http", "ws", 1) + "/rooms/aaaaaaaaaaaaaaaa/ws"
	h := http.Header{"Origin": {ts.URL}, "Accept-Language": {"en-US"}}
	var cookies []string
	for _, c := range english.Jar.Cookies(mustURL(t, ts.URL)) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	h.Set("Cookie", strings.Join(cookies, "; "))
	conn, _, err := (&websocket.Dialer{HandshakeTimeout: 10 * time.Second}).Dial(u, h)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	p := watch(conn)
	if code, _ := p.waitClose(t); code != realtime.CloseRoomGone || !strings.Contains(p.received(), "방을 찾을 수 없거나") {
		t.Errorf("a socket of someone who chose Korean: closed %d, shown:\n%s", code, p.received())
	}

	// Back to English, from a page with a query: the query comes back too.
	if resp := ts.switchLanguage(t, english, "en", ts.URL+"/rooms/"+room+"/messages?before=5"); resp.Header.Get("Location") != "/rooms/"+room+"/messages?before=5" {
		t.Errorf("switch from a page with a query goes to %q", resp.Header.Get("Location"))
	}
	if lang, _ := pageLang(english, "/"); lang != "en" {
		t.Errorf("after switching back to English the lobby is in %q", lang)
	}

	// Anything but a page of this site goes to the lobby.
	for _, referer := range []string{"", "https://evil.example/rooms/" + room, ts.URL + "//evil.example/x", ts.URL + "/lang?to=ko", "::not a url"} {
		if resp := ts.switchLanguage(t, english, "ko", referer); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Errorf("switch from %q: %s to %q, want 303 to /", referer, resp.Status, resp.Header.Get("Location"))
		}
	}

	// A Korean browser that chose English gets English, and the choice outlasts the session.
	korean := ts.newPersonIn(t, koreanBrowser)
	if lang, _ := pageLang(korean, "/"); lang != "ko" {
		t.Fatalf("a Korean browser's first lobby is in %q", lang)
	}
	ts.switchLanguage(t, korean, "en", ts.URL+"/")
	if lang, page := pageLang(korean, "/"); lang != "en" || !strings.Contains(page, "GIF chat") {
		t.Errorf("a Korean browser that chose English sees <html lang=%q>", lang)
	}

	// A language gifchat does not speak is refused, and the choice stays as it was.
	resp = ts.switchLanguage(t, korean, "fr", ts.URL+"/")
	if resp.StatusCode != http.StatusBadRequest || langCookie(resp) != nil {
		t.Errorf("switch to fr: %s, cookie %v; want 400 and no cookie", resp.Status, langCookie(resp))
	}
	if lang, _ := pageLang(korean, "/"); lang != "en" {
		t.Errorf("after a refused switch the lobby is in %q, want the English chosen before", lang)
	}

	// Choosing a language is not a visit: it mints no session.
	stranger := &http.Client{Transport: ts.srv.Client().Transport, Timeout: 30 * time.Second}
	resp = ts.switchLanguage(t, stranger, "ko", "")
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie || c.Name == HostSessionCookie {
			t.Errorf("the language switch set a session cookie (%s)", c.Name)
		}
	}
	if langCookie(resp) == nil {
		t.Error("the language switch set no language cookie for someone without a session")
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
