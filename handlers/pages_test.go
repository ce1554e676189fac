package handlers_test

// What every route shares: the 404 page, the health probe, and requests without the headers a
// browser sends.

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestNotFoundPages(t *testing.T) {
	ts := newTestServer(t)
	person := ts.newPerson(t)
	ts.createRoom(t, person, "Real room", 0, "")
	for _, path := range []string{
		"/rooms/nope",
		"/rooms/aaaaaaaaaaaaaaaa",  // well-formed, unknown
		"/rooms/AAAAAAAAAAAAAAAA",  // wrong alphabet
		"/rooms/aaaaaaaaaaaaaaa1",  // wrong alphabet
		"/rooms/aaaaaaaaaaaaaaaaa", // too long
		"/rooms/%3Cscript%3E",
		"/rooms/aaaaaaaaaaaaaaaa/messages?before=10",
		"/nope",
		"/rooms",
		"/rooms/aaaaaaaaaaaaaaaa/enter",
		"/index.php",
	} {
		t.Run(path, func(t *testing.T) {
			resp, body := ts.get(t, person, path)
			if resp.StatusCode != http.StatusNotFound {
				t.Fatalf("status %s, want 404", resp.Status)
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !isWholePage(body) {
				t.Errorf("not an HTML page: %q\n%s", resp.Header.Get("Content-Type"), body)
			}
			if !strings.Contains(strings.ToLower(body), "not found") || !strings.Contains(body, `href="/"`) || !strings.Contains(body, "GIF chat") {
				t.Errorf("not the app's 404 page (says not found, links to the lobby):\n%s", body)
			}
			if strings.Contains(body, "<script>") {
				t.Error("the path was reflected unescaped")
			}
		})
	}
	for _, path := range []string{"/rooms/nope/enter", "/rooms/aaaaaaaaaaaaaaaa/enter", "/rooms/aaaaaaaaaaaaaaaa/messages"} {
		resp, body := ts.postForm(t, person, path, url.Values{"password": {"x"}, "text": {"hi"}}, nil)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(strings.ToLower(body), "not found") {
			t.Errorf("POST %s: %s", path, resp.Status)
		}
	}
}

func TestHealthz(t *testing.T) {
	ts := newTestServer(t)
	resp, body := ts.get(t, ts.srv.Client(), "/healthz")
	if resp.StatusCode != http.StatusOK || body != "ok\n" {
		t.Errorf("healthz: %s %q", resp.Status, body)
	}
	if len(resp.Cookies()) != 0 {
		t.Error("a health probe was given a session")
	}
	ts.Store.Close()
	if resp, _ := ts.get(t, ts.srv.Client(), "/healthz"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("healthz with the database closed: %s, want 503", resp.Status)
	}
}

// Original: handlers read req.headers.referer and crashed when it was missing. Here every
// route answers requests with no Referer, Origin or Sec-Fetch headers (as curl sends them)
// with no server error and no panic.
func TestRegressionMissingRefererCrashesNothing(t *testing.T) {
	ts := newTestServer(t)
	owner := ts.newPerson(t)
	room := ts.createRoom(t, owner, "Bare requests", 0, "")
	private := ts.createRoom(t, owner, "Bare private", 0, "sesame")
	jar := owner.Jar
	bare := &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("gif", "a.gif")
	fw.Write([]byte("GIF89a"))
	mw.Close()
	for _, c := range []struct {
		method, path, ctype string
		body                []byte
	}{
		{"GET", "/", "", nil},
		{"GET", "/rooms/" + room, "", nil},
		{"GET", "/rooms/" + private, "", nil},
		{"GET", "/rooms/" + room + "/messages?before=5", "", nil},
		{"GET", "/rooms/" + room + "/ws", "", nil}, // not an upgrade: refused plainly
		{"GET", "/me.css", "", nil},
		{"GET", "/healthz", "", nil},
		{"GET", "/nope", "", nil},
		{"GET", "/gifs/" + strings.Repeat("0", 64) + ".gif", "", nil},
		{"POST", "/rooms", "application/x-www-form-urlencoded", []byte("title=Bare")},
		{"POST", "/rooms/" + private + "/enter", "application/x-www-form-urlencoded", []byte("password=nope")},
		{"POST", "/rooms/" + room + "/messages", "application/x-www-form-urlencoded", []byte("text=bare")},
		{"POST", "/rooms/" + room + "/delete", "application/x-www-form-urlencoded", []byte("")},
		{"POST", "/rooms/" + room + "/gifs", mw.FormDataContentType(), buf.Bytes()},
		{"POST", "/rooms/" + room + "/messages", "", nil}, // no body, no type
	} {
		req, _ := http.NewRequest(c.method, ts.URL+c.path, bytes.NewReader(c.body))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		req.Header.Del("Referer")
		req.Header.Del("Origin")
		resp, body := ts.do(t, bare, req)
		if resp.StatusCode >= 500 {
			t.Errorf("%s %s without Referer: %s\n%.300s", c.method, c.path, resp.Status, body)
		}
	}
	// And the room socket, with no Origin at all (a non-browser client; gorilla allows it).
	u := strings.Replace(ts.URL, "http", "ws", 1) + "/rooms/" + room + "/ws"
	conn, _, err := websocket.DefaultDialer.Dial(u, http.Header{"Cookie": {ts.sessionCookie(owner).String()}})
	if err != nil {
		t.Fatalf("socket without Origin or ?after: %v", err)
	}
	watch(conn).waitFor(t, memberPanel)
	if strings.Contains(ts.Logs(), `"msg":"panic"`) || strings.Contains(ts.Logs(), `"level":"ERROR"`) {
		t.Errorf("errors logged:\n%s", ts.Logs())
	}
}
