package handlers_test

// GIF uploads: over the socket and without JS, what is refused and why, one file per content,
// who may post, and how the files are served.

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A GIF uploaded by one member reaches another over the WebSocket as an <img> with its size,
// and its URL serves exactly the uploaded bytes with the locked-down headers.
func TestGIFUploadArrivesOverSocketAndIsServed(t *testing.T) {
	ts := startGIFServer(t, gifServerOptions{})
	alice, bob := ts.newPerson(t), ts.newPerson(t)
	room := ts.createRoom(t, alice, "GIF party", 0, "")
	bobConn := ts.dialRoom(t, bob, room, 0)
	readFrame(t, bobConn)

	data := testGIF(t, 37, 21, 5, 1)
	resp, body := ts.uploadGIF(t, alice, room, "dance.gif", data)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("upload: %s\n%s", resp.Status, body)
	}

	tag := readGIFImg(t, bobConn)
	if imgAttr(tag, "width") != "37" || imgAttr(tag, "height") != "21" {
		t.Fatalf("img %s: want width 37 and height 21", tag)
	}
	aliceName := ts.identity(t, alice).Nickname
	if alt := imgAttr(tag, "alt"); !strings.Contains(alt, aliceName) {
		t.Fatalf("img alt %q does not name the author %q", alt, aliceName)
	}
	src := imgAttr(tag, "src")
	if !regexp.MustCompile(`^/gifs/[0-9a-f]{64}\.gif$`).MatchString(src) {
		t.Fatalf("img src %q is not a content-addressed GIF URL", src)
	}

	// Anyone may fetch it (no session needed), and it is the same bytes.
	resp, got := ts.get(t, http.DefaultClient, src)
	if resp.StatusCode != http.StatusOK || got != string(data) {
		t.Fatalf("GET %s: %s, %d bytes (want %d, same bytes)", src, resp.Status, len(got), len(data))
	}
	for name, want := range map[string]string{
		"Content-Type":            "image/gif",
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "default-src 'none'; sandbox",
		"Cache-Control":           "public, max-age=31536000, immutable",
		"Content-Length":          strconv.Itoa(len(data)),
	} {
		if resp.Header.Get(name) != want {
			t.Errorf("%s: %q, want %q", name, resp.Header.Get(name), want)
		}
	}
	if resp.Header.Get("Set-Cookie") != "" {
		t.Error("serving a GIF minted a session")
	}

	// A revalidation is answered without the body.
	req, _ := http.NewRequest(http.MethodGet, ts.URL+src, nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	if resp, _ := ts.do(t, http.DefaultClient, req); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %s, want 304", resp.Status)
	}

	// The history shows it too, with its size, and the original name is kept as its text.
	msgs := ts.gifMessages(t, room)
	if len(msgs) != 1 || msgs[0].GIFWidth != 37 || msgs[0].GIFHeight != 21 || msgs[0].Body != "dance.gif" {
		t.Fatalf("stored GIF messages = %+v", msgs)
	}
	_, page := ts.get(t, bob, "/rooms/"+room)
	if !strings.Contains(page, `src="`+src+`"`) || !strings.Contains(page, `width="37"`) {
		t.Fatal("the room page does not show the GIF with its size")
	}
}

// Without JS the upload is a plain form post: 303 back to the room on success, a page with
// the reason on refusal.
func TestGIFUploadWithoutJS(t *testing.T) {
	ts := startGIFServer(t, gifServerOptions{})
	alice := ts.newPerson(t)
	room := ts.createRoom(t, alice, "No script", 0, "")

	body, ctype := multipartBody(t, gifPart{"gif", "a.gif", testGIF(t, 10, 10, 2, 2)})
	resp, text := ts.upload(t, alice, room, body, ctype, false, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/rooms/"+room {
		t.Fatalf("plain upload: %s Location %q\n%s", resp.Status, resp.Header.Get("Location"), text)
	}
	if n := len(ts.gifMessages(t, room)); n != 1 {
		t.Fatalf("%d GIF messages, want 1", n)
	}

	body, ctype = multipartBody(t, gifPart{"gif", "page.gif", []byte("<html>hi</html>")})
	resp, text = ts.upload(t, alice, room, body, ctype, false, false)
	if resp.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(text, "not a GIF") || !strings.Contains(text, "<h1>") {
		t.Fatalf("plain refusal: %s\n%s", resp.Status, text)
	}
}

// Each bad input is refused with a 4xx and a visible reason, and leaves no message and no
// file (not even a temporary one).
func TestGIFUploadRefusesBadInput(t *testing.T) {
	ts := startGIFServer(t, gifServerOptions{maxGIF: 5 << 20})
	alice := ts.newPerson(t)
	room := ts.createRoom(t, alice, "Bad input", 0, "")

	good := testGIF(t, 40, 30, 4, 3)
	var pngBuf bytes.Buffer
	png.Encode(&pngBuf, image.NewGray(image.Rect(0, 0, 8, 8)))
	sixMiB := paddedGIF(t, 6<<20)
	justOver := paddedGIF(t, 5<<20+1024) // inside the request limit, over the file limit

	one := func(name string, data []byte) ([]byte, string) {
		return multipartBody(t, gifPart{"gif", name, data})
	}
	type input struct {
		name    string
		body    func() ([]byte, string)
		chunked bool
		status  int
		reason  string
	}
	cases := []input{
		{"html file", func() ([]byte, string) {
			return one("evil.gif", []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"))
		}, false, http.StatusUnsupportedMediaType, "not a GIF"},
		{"svg", func() ([]byte, string) {
			return one("evil.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>`))
		}, false, http.StatusUnsupportedMediaType, "not a GIF"},
		{"png renamed .gif", func() ([]byte, string) { return one("photo.gif", pngBuf.Bytes()) }, false, http.StatusUnsupportedMediaType, "not a GIF"},
		// Original: the upload kept any file whose name ended in .gif. Here the bytes decide,
		// whatever the file's name and its declared type say.
		{"png named .gif, declared image/gif", func() ([]byte, string) {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", `form-data; name="gif"; filename="cat.gif"`)
			h.Set("Content-Type", "image/gif")
			w, _ := mw.CreatePart(h)
			w.Write(pngBuf.Bytes())
			mw.Close()
			return buf.Bytes(), mw.FormDataContentType()
		}, false, http.StatusUnsupportedMediaType, "not a GIF"},
		{"truncated gif", func() ([]byte, string) { return one("half.gif", good[:len(good)/2]) }, false, http.StatusUnprocessableEntity, "cut off"},
		{"6 MiB gif", func() ([]byte, string) { return one("big.gif", sixMiB) }, false, http.StatusRequestEntityTooLarge, "larger than"},
		{"6 MiB gif, length not declared", func() ([]byte, string) { return one("big.gif", sixMiB) }, true, http.StatusRequestEntityTooLarge, "larger than"},
		{"just over the limit", func() ([]byte, string) { return one("big.gif", justOver) }, false, http.StatusRequestEntityTooLarge, "larger than 5 MiB"},
		{"empty file", func() ([]byte, string) { return one("empty.gif", nil) }, false, http.StatusBadRequest, "empty"},
		{"no file at all", func() ([]byte, string) { return multipartBody(t, gifPart{"note", "-", []byte("hi")}) }, false, http.StatusBadRequest, "Choose a GIF"},
		{"nothing chosen", func() ([]byte, string) { return one("", nil) }, false, http.StatusBadRequest, "Choose a GIF"},
		{"two files", func() ([]byte, string) {
			return multipartBody(t, gifPart{"gif", "a.gif", good}, gifPart{"gif", "b.gif", testGIF(t, 5, 5, 1, 9)})
		}, false, http.StatusBadRequest, "one GIF at a time"},
		{"two files in two fields", func() ([]byte, string) {
			return multipartBody(t, gifPart{"gif", "a.gif", good}, gifPart{"other", "b.gif", good})
		}, false, http.StatusBadRequest, "one GIF at a time"},
		{"filename with ../", func() ([]byte, string) { return one("../../gifchat.db", good) }, false, http.StatusBadRequest, "path"},
		{"filename with a backslash", func() ([]byte, string) { return one(`..\..\x.gif`, good) }, false, http.StatusBadRequest, "path"},
		{"filename with a control character", func() ([]byte, string) {
			// RFC 2231 encoding gets past the header syntax; the decoded name has a control character.
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			w, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Disposition": {`form-data; name="gif"; filename*=UTF-8''a%01b.gif`}})
			w.Write(good)
			mw.Close()
			return buf.Bytes(), mw.FormDataContentType()
		}, false, http.StatusBadRequest, "control characters"},
		{"filename with a right-to-left override", func() ([]byte, string) { return one("cat\u202egif.exe", good) }, false, http.StatusBadRequest, "text-direction"},
		{"too wide", func() ([]byte, string) { return one("wide.gif", testGIF(t, 4097, 1, 1, 4)) }, false, http.StatusUnprocessableEntity, "4097 × 1"},
		{"data after the gif", func() ([]byte, string) {
			return one("polyglot.gif", append(append([]byte{}, good...), "<script>alert(1)</script>"...))
		}, false, http.StatusUnprocessableEntity, "extra data"},
		{"not multipart", func() ([]byte, string) { return good, "image/gif" }, false, http.StatusBadRequest, "file upload"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, ctype := tc.body()
			for _, scripted := range []bool{true, false} {
				resp, text := ts.upload(t, alice, room, body, ctype, scripted, tc.chunked)
				if resp.StatusCode != tc.status {
					t.Fatalf("scripted=%v: %s, want %d\n%s", scripted, resp.Status, tc.status, text)
				}
				if !strings.Contains(text, tc.reason) {
					t.Fatalf("scripted=%v: the answer does not say %q:\n%s", scripted, tc.reason, text)
				}
				if scripted && resp.StatusCode != http.StatusRequestEntityTooLarge && !strings.Contains(text, `data-gif-status="error"`) {
					t.Fatalf("a scripted refusal is not the status fragment:\n%s", text)
				}
			}
			if n := len(ts.gifMessages(t, room)); n != 0 {
				t.Fatalf("%d GIF messages after a refusal", n)
			}
			if files := ts.files(t); len(files) != 0 {
				t.Fatalf("files left behind: %v", files)
			}
		})
	}
	// And the room still works: a good GIF after all of that goes through.
	if resp, text := ts.uploadGIF(t, alice, room, "fine.gif", good); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("good upload after refusals: %s\n%s", resp.Status, text)
	}
}

// An upload the browser cancels half-way (the connection closes mid-body) leaves no file, no
// temporary file and no message, and is not logged as a server error.
func TestCancelledUploadLeavesNothing(t *testing.T) {
	closed := make(chan string, 16)
	ts := startGIFServer(t, gifServerOptions{connState: func(c net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed <- c.RemoteAddr().String()
		}
	}})
	alice := ts.newPerson(t)
	room := ts.createRoom(t, alice, "Cancelled", 0, "")

	big := paddedGIF(t, 4<<20)
	body, ctype := multipartBody(t, gifPart{"gif", "big.gif", big})
	u, _ := url.Parse(ts.URL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /rooms/%s/gifs HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nX-Requested-With: XMLHttpRequest\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		room, u.Host, ts.sessionCookie(alice).String(), ctype, len(body))
	conn.Write(body[:len(body)/3])
	// Wait until the server is writing the upload to its temporary file, then go away.
	deadline := time.Now().Add(20 * time.Second)
	for len(ts.files(t)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the server never started staging the upload")
		}
		time.Sleep(5 * time.Millisecond)
	}
	mine := conn.LocalAddr().String()
	conn.Close()
	for addr := range closed { // the handler has returned once the server closes the connection
		if addr == mine {
			break
		}
	}
	if files := ts.files(t); len(files) != 0 {
		t.Fatalf("files left after a cancelled upload: %v", files)
	}
	if n := len(ts.gifMessages(t, room)); n != 0 {
		t.Fatalf("%d messages after a cancelled upload", n)
	}
	if strings.Contains(ts.Logs(), `"level":"ERROR"`) {
		t.Fatalf("a cancelled upload was logged as an error:\n%s", ts.Logs())
	}
}

// The same GIF posted twice (here in two rooms and twice in one) is one file and one row, and
// each post is its own message.
func TestSameGIFTwiceIsOneFile(t *testing.T) {
	ts := startGIFServer(t, gifServerOptions{})
	alice := ts.newPerson(t)
	roomA := ts.createRoom(t, alice, "A", 0, "")
	roomB := ts.createRoom(t, alice, "B", 0, "")
	data := testGIF(t, 16, 16, 3, 5)
	for _, room := range []string{roomA, roomA, roomB} {
		if resp, text := ts.uploadGIF(t, alice, room, "same.gif", data); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("upload: %s\n%s", resp.Status, text)
		}
	}
	if files := ts.files(t); len(files) != 1 {
		t.Fatalf("files = %v, want one", files)
	}
	if a, b := len(ts.gifMessages(t, roomA)), len(ts.gifMessages(t, roomB)); a != 2 || b != 1 {
		t.Fatalf("messages: %d in A, %d in B; want 2 and 1", a, b)
	}
}

type refuseUploads struct{}

func (refuseUploads) Allow(_ *http.Request, _ int64, action string) string {
	if action == "upload" {
		return "Slow down: too many uploads."
	}
	return ""
}

type guardFunc func(action string) string

func (g guardFunc) Allow(_ *http.Request, _ int64, action string) string {
	if action == "upload" {
		return g(action)
	}
	return ""
}

// Only names of the stored shape are served; nothing else reaches the file system.
func TestServeGIFRefusesOtherNames(t *testing.T) {
	ts := startGIFServer(t, gifServerOptions{})
	alice := ts.newPerson(t)
	room := ts.createRoom(t, alice, "Names", 0, "")
	if resp, text := ts.uploadGIF(t, alice, room, "x.gif", testGIF(t, 10, 10, 1, 40)); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("upload: %s\n%s", resp.Status, text)
	}
	sha := ts.gifMessages(t, room)[0].GIF
	for _, path := range []string{
		"/gifs/" + strings.ToUpper(sha) + ".gif",
		"/gifs/" + sha,
		"/gifs/" + sha + ".png",
		"/gifs/" + strings.Repeat("0", 64) + ".gif",
		"/gifs/..%2fgifchat.db",
		"/gifs/%2e%2e%2fgifchat.db",
		"/gifs/" + sha + ".gif%00",
	} {
		resp, body := ts.get(t, http.DefaultClient, path)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404", path, resp.Status)
		}
		if strings.Contains(body, "SQLite") || strings.HasPrefix(body, "GIF8") {
			t.Errorf("GET %s served a file", path)
		}
		if resp.Header.Get("Content-Security-Policy") != "default-src 'none'; sandbox" {
			t.Errorf("GET %s: CSP %q", path, resp.Header.Get("Content-Security-Policy"))
		}
	}
}
