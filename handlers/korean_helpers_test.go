package handlers_test

// A Korean reader for the tests: a person whose browser asks for Korean (Accept-Language:
// ko-KR on every request and socket), and an eye that reads what a page or fragment shows
// and finds any English left in it.

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/net/html"
)

// koreanBrowser is the Accept-Language of a browser set up for Korean.
const koreanBrowser = "ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7"

// langTransport asks for a language on every request, as a browser does.
type langTransport struct {
	base http.RoundTripper
	lang string
}

func (t langTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept-Language", t.lang)
	return t.base.RoundTrip(r)
}

// newPersonIn is newPerson with a browser that asks for acceptLanguage: a separate browser
// that has visited the lobby once and holds a session.
func (ts *testServer) newPersonIn(t *testing.T, acceptLanguage string) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := ts.srv.Client().Transport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Jar: jar, Transport: langTransport{tr, acceptLanguage}, Timeout: 30 * time.Second}
	if resp, body := ts.get(t, c, "/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / for a new person: %s\n%s", resp.Status, body)
	}
	if ts.sessionCookie(c) == nil {
		t.Fatal("GET / set no session cookie")
	}
	return c
}

// dialIn opens a room's socket as dialRoom does, from a browser that asks for acceptLanguage
// (the handshake is a request like any other), and reads it in the background.
func (ts *testServer) dialIn(t *testing.T, person *http.Client, roomID, acceptLanguage string) *roomPeer {
	t.Helper()
	u := strings.Replace(ts.URL, "http", "ws", 1) + "/rooms/" + roomID + "/ws?after=0"
	h := http.Header{"Origin": {ts.URL}, "Accept-Language": {acceptLanguage}}
	if ck := ts.sessionCookie(person); ck != nil {
		h.Set("Cookie", ck.String())
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, TLSClientConfig: ts.tlsConfig()}
	conn, resp, err := d.Dial(u, h)
	if err != nil {
		status := "no response"
		if resp != nil {
			status = resp.Status
		}
		t.Fatalf("dial room %s: %v (%s)", roomID, err, status)
	}
	t.Cleanup(func() { conn.Close() })
	return watch(conn)
}

// request sends a request with a body of any type (ctype "" sends none) as the person.
func (ts *testServer) request(t *testing.T, c *http.Client, method, path, ctype, body string, header http.Header) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	return ts.do(t, c, req)
}

// visibleText is what a person is shown of an HTML page or fragment, or hears from a screen
// reader: text outside script and style (a <template>'s too: the scripts show it), and the
// attributes that are shown or spoken (aria-label, title, placeholder, alt, a button's or
// text field's value, and the data-text-* words app.js shows).
func visibleText(doc string) []string {
	// Parsed as a browser without JS would: a <noscript>'s content is shown to someone.
	root, err := html.ParseWithOptions(strings.NewReader(doc), html.ParseOptionEnableScripting(false))
	if err != nil {
		return []string{doc}
	}
	var out []string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.ElementNode:
			if n.Data == "script" || n.Data == "style" {
				return
			}
			for _, a := range n.Attr {
				switch {
				case a.Key == "aria-label", a.Key == "title", a.Key == "placeholder", a.Key == "alt",
					strings.HasPrefix(a.Key, "data-text-"), a.Key == "value" && valueShown(n):
					out = append(out, a.Val)
				}
			}
		case html.TextNode:
			if s := strings.TrimSpace(n.Data); s != "" {
				out = append(out, s)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return out
}

// valueShown reports whether an element's value attribute is shown: an input's that is a
// button or a text field; never a hidden field's, nor a button's (its content shows).
func valueShown(n *html.Node) bool {
	if n.Data != "input" {
		return false
	}
	for _, a := range n.Attr {
		if a.Key == "type" {
			switch a.Val {
			case "hidden", "checkbox", "radio", "file", "color", "range":
				return false
			}
		}
	}
	return true
}

var (
	latinWord       = regexp.MustCompile(`\p{Latin}+`)
	hangul          = regexp.MustCompile(`\p{Hangul}`)
	textPlaceholder = regexp.MustCompile(`\{[a-z]+\}`) // {name} in a data-text-* the script fills in
)

// koreanEye reads what a Korean browser shows and finds the English in it. Latin words are
// English unless allowed: a GIF is a GIF, sizes have their units, the language switch names
// English in English, and the people's generated names are their own (allowName).
type koreanEye struct {
	allowed map[string]bool
}

func newKoreanEye() *koreanEye {
	return &koreanEye{allowed: map[string]bool{"GIF": true, "gif": true, "MiB": true, "KiB": true, "English": true}}
}

// allowName allows the Latin words of a person's name (an English generated name).
func (k *koreanEye) allowName(name string) {
	for _, w := range latinWord.FindAllString(name, -1) {
		k.allowed[w] = true
	}
}

// english returns the English words doc shows, each with the text it is in.
func (k *koreanEye) english(doc string) []string {
	var found []string
	for _, s := range visibleText(doc) {
		for _, w := range latinWord.FindAllString(textPlaceholder.ReplaceAllString(s, ""), -1) {
			if !k.allowed[w] {
				found = append(found, strconv.Quote(w)+" in "+strconv.Quote(clipText(s, 160)))
			}
		}
	}
	return found
}

// check fails the test for every English word doc shows, and when doc does not show want
// (the Korean that says the thing was really provoked) or shows no Hangul at all.
func (k *koreanEye) check(t *testing.T, what, doc, want string) {
	t.Helper()
	for _, e := range k.english(doc) {
		t.Errorf("%s: a Korean browser is shown English: %s", what, e)
	}
	text := strings.Join(visibleText(doc), " ")
	if !hangul.MatchString(text) {
		t.Errorf("%s: no Korean at all in:\n%s", what, clipText(doc, 2000))
	}
	if want != "" && !strings.Contains(text, want) {
		t.Errorf("%s: does not say %q; it shows:\n%s", what, want, clipText(text, 2000))
	}
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
