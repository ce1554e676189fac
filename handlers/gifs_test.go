package handlers_test

import (
	. "gifchat/handlers"

	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"gifchat/db"
	"gifchat/media"
	"gifchat/realtime"
	"gifchat/vocab"
)

// gifTestServer is the shared testServer with a handle on its GIF store.
type gifTestServer struct {
	*testServer
	gifs *media.Store
}

type gifServerOptions struct {
	realtime realtime.Config
	maxGIF   int64 // 5 MiB when 0, as in production
	guard    Guard
	// connState observes the server's connections (to see a handler finish for a client
	// that went away).
	connState func(net.Conn, http.ConnState)
}

func startGIFServer(t *testing.T, o gifServerOptions) *gifTestServer {
	t.Helper()
	opts := []testServerOption{withRealtimeConfig(o.realtime), withConfig(Config{MaxGIFBytes: o.maxGIF})}
	if o.guard != nil {
		opts = append(opts, withGuard(o.guard))
	}
	if o.connState != nil {
		opts = append(opts, withHTTPServer(func(s *http.Server) { s.ConnState = o.connState }))
	}
	ts := newTestServer(t, opts...)
	return &gifTestServer{testServer: ts, gifs: ts.GIFs}
}

// testGIF encodes a real animated GIF with image/gif; seed makes different bytes.
func testGIF(t testing.TB, w, h, frames, seed int) []byte {
	t.Helper()
	pal := color.Palette{color.Black, color.White, color.RGBA{uint8(seed), 0x40, 0x40, 0xFF}, color.RGBA{0x40, 0x80, 0xE0, 0xFF}}
	anim := &gif.GIF{}
	for f := 0; f < frames; f++ {
		img := image.NewPaletted(image.Rect(0, 0, w, h), pal)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				img.SetColorIndex(x, y, uint8((x+y+f)%4))
			}
		}
		anim.Image = append(anim.Image, img)
		anim.Delay = append(anim.Delay, 10)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, anim); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// paddedGIF makes a GIF of exactly size bytes that image/gif still decodes: the padding is a
// comment extension right after the header.
func paddedGIF(t testing.TB, size int) []byte {
	t.Helper()
	g := testGIF(t, 8, 8, 1, 1)
	head := 13
	if g[10]&0x80 != 0 {
		head += 3 << (1 + g[10]&7)
	}
	pad := size - len(g) - 3 // 0x21 0xFE ... 0x00
	var comment bytes.Buffer
	comment.Write([]byte{0x21, 0xFE})
	for pad > 0 {
		n := min(255, pad-1)
		if n <= 0 {
			t.Fatalf("cannot pad to %d bytes", size)
		}
		comment.WriteByte(byte(n))
		comment.Write(bytes.Repeat([]byte{'x'}, n))
		pad -= n + 1
	}
	comment.WriteByte(0)
	out := append(append(append([]byte{}, g[:head]...), comment.Bytes()...), g[head:]...)
	if len(out) != size {
		t.Fatalf("padded GIF is %d bytes, want %d", len(out), size)
	}
	if _, err := gif.DecodeAll(bytes.NewReader(out)); err != nil {
		t.Fatalf("padded GIF does not decode: %v", err)
	}
	return out
}

type gifPart struct {
	field, filename string
	data            []byte
}

// multipartBody builds an upload body; a part with no filename is a plain field.
func multipartBody(t testing.TB, parts ...gifPart) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.filename == "-" {
			w, err = mw.CreateFormField(p.field)
		} else {
			// CreateFormFile would do, but it escapes nothing else: the name goes as sent.
			w, err = mw.CreateFormFile(p.field, p.filename)
		}
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.data)
	}
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

// upload posts a body to the room's upload URL as upload.js does (scripted) or as the plain
// form does; chunked hides the length, as a client streaming an unknown size would.
func (ts *gifTestServer) upload(t *testing.T, person *http.Client, roomID string, body []byte, ctype string, scripted, chunked bool) (*http.Response, string) {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	if chunked {
		r = io.MultiReader(r)
	}
	req, err := http.NewRequest(http.MethodPost, ts.URL+"/rooms/"+roomID+"/gifs", r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	if scripted {
		req.Header.Set("X-Requested-With", "XMLHttpRequest")
	}
	return ts.do(t, noRedirect(person), req)
}

func (ts *gifTestServer) uploadGIF(t *testing.T, person *http.Client, roomID, name string, data []byte) (*http.Response, string) {
	t.Helper()
	body, ctype := multipartBody(t, gifPart{"gif", name, data})
	return ts.upload(t, person, roomID, body, ctype, true, false)
}

// gifMessages returns the GIF messages stored in a room.
func (ts *gifTestServer) gifMessages(t *testing.T, roomID string) []db.Message {
	t.Helper()
	msgs, err := ts.Store.LatestMessages(context.Background(), roomID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []db.Message
	for _, m := range msgs {
		if m.Kind == vocab.KindGIF {
			out = append(out, m)
		}
	}
	return out
}

// files lists the GIF directory, temporary files included.
func (ts *gifTestServer) files(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(ts.gifs.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func (ts *gifTestServer) hasFile(sha string) bool {
	_, err := os.Stat(filepath.Join(ts.gifs.Dir(), media.FileName(sha)))
	return err == nil
}

var gifImgPattern = regexp.MustCompile(`<img [^>]*class="msg-gif"[^>]*>`)

func imgAttr(tag, name string) string {
	m := regexp.MustCompile(` ` + name + `="([^"]*)"`).FindStringSubmatch(tag)
	if m == nil {
		return ""
	}
	return m[1]
}

// readGIFImg reads the socket until a frame carries a GIF message and returns its <img> tag.
func readGIFImg(t *testing.T, conn *websocket.Conn) string {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(15 * time.Second)) // a hang fails the test; not a speed check
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("reading the room socket for a GIF message: %v", err)
		}
		if tag := gifImgPattern.Find(data); tag != nil {
			return string(tag)
		}
	}
}

// readFrame waits for the first frame of a socket (the join's member list), so the person
// is surely admitted before the test goes on.
func readFrame(t *testing.T, conn *websocket.Conn) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	if _, _, err := conn.ReadMessage(); err != nil {
		t.Fatalf("first frame: %v", err)
	}
}

// joinedRoom has owner create a room and member join it over the socket, and returns once
// member is admitted (the first frame is the member list), which stops the room's grace
// timer. With a short grace a busy machine can remove the new room before the socket is
// admitted; the socket is then refused with 4004. That is the grace working, not what the
// callers check, so such a room is replaced with a new one.
func (ts *gifTestServer) joinedRoom(t *testing.T, owner, member *http.Client, title string) (string, *websocket.Conn) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		room := ts.createRoom(t, owner, title, 0, "")
		conn := ts.dialRoom(t, member, room, 0)
		conn.SetReadDeadline(time.Now().Add(15 * time.Second)) // a hang fails the test; not a speed check
		_, data, err := conn.ReadMessage()
		if err == nil && bytes.Contains(data, []byte(`hx-target="#members"`)) {
			conn.SetReadDeadline(time.Time{})
			return room, conn
		}
		if err == nil { // the refusal's visible reason comes first, then the close
			_, _, err = conn.ReadMessage()
		}
		conn.Close()
		if !websocket.IsCloseError(err, realtime.CloseRoomGone) || ts.Rooms.Hub(room) != nil {
			t.Fatalf("joining room %q: first frame %q, then %v", title, data, err)
		}
		if attempt == 5 {
			t.Fatalf("room %q was removed before anyone could join it, %d times in a row", title, attempt)
		}
		t.Logf("room %q passed its grace before the socket was admitted; making another", title)
	}
}

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

// Removing a room deletes the GIF files only it used and keeps those another room still
// uses; whichever way the room goes (the owner's delete, or empty past the grace).
func TestRoomRemovalDeletesUnusedGIFs(t *testing.T) {
	// The grace is short so that room C's removal is quick.
	ts := startGIFServer(t, gifServerOptions{realtime: realtime.Config{LeaveDebounce: 20 * time.Millisecond, EmptyRoomGrace: 250 * time.Millisecond}})
	alice, bob := ts.newPerson(t), ts.newPerson(t)
	// Bob stays in each room until the test lets it go, so the grace cannot remove a room
	// early once he is in.
	roomA, _ := ts.joinedRoom(t, alice, bob, "Deleted by its owner")
	roomB, _ := ts.joinedRoom(t, alice, bob, "Still here")
	roomC, connC := ts.joinedRoom(t, alice, bob, "Left empty")

	shared := testGIF(t, 10, 10, 2, 10)
	onlyA := testGIF(t, 11, 11, 2, 11)
	onlyC := testGIF(t, 12, 12, 2, 12)
	sha := map[string]string{}
	for _, up := range []struct {
		room, name string
		data       []byte
	}{{roomA, "shared", shared}, {roomB, "shared", shared}, {roomC, "shared", shared}, {roomA, "onlyA", onlyA}, {roomC, "onlyC", onlyC}} {
		if resp, text := ts.uploadGIF(t, alice, up.room, up.name+".gif", up.data); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("upload %s: %s\n%s", up.name, resp.Status, text)
		}
		msgs := ts.gifMessages(t, up.room)
		sha[up.name] = msgs[len(msgs)-1].GIF
	}
	if files := ts.files(t); len(files) != 3 {
		t.Fatalf("files = %v, want 3", files)
	}

	// The owner deletes room A.
	resp, text := ts.postForm(t, noRedirect(alice), "/rooms/"+roomA+"/delete", url.Values{"confirm": {"yes"}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete room: %s\n%s", resp.Status, text)
	}
	ts.gifs.Wait() // the hook was called before the delete answered
	if ts.hasFile(sha["onlyA"]) {
		t.Error("the GIF only room A used is still on disk")
	}
	if !ts.hasFile(sha["shared"]) || !ts.hasFile(sha["onlyC"]) {
		t.Fatal("a GIF another room still uses was deleted")
	}

	// Room C empties and is removed after the grace.
	connC.Close()
	deadline := time.Now().Add(20 * time.Second)
	for ts.Rooms.Hub(roomC) != nil || ts.hasFile(sha["onlyC"]) {
		if time.Now().After(deadline) {
			t.Fatalf("room C not removed with its GIF (hub gone: %v)", ts.Rooms.Hub(roomC) == nil)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ts.gifs.Wait()
	if !ts.hasFile(sha["shared"]) {
		t.Fatal("the GIF room B still uses was deleted with room C")
	}
	if files := ts.files(t); len(files) != 1 {
		t.Fatalf("files = %v, want only the shared GIF", files)
	}
	// And it still serves.
	if resp, _ := ts.get(t, http.DefaultClient, realtime.GIFURL(sha["shared"])); resp.StatusCode != http.StatusOK {
		t.Fatalf("shared GIF: %s", resp.Status)
	}
	if resp, _ := ts.get(t, http.DefaultClient, realtime.GIFURL(sha["onlyA"])); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("deleted GIF: %s, want 404", resp.Status)
	}
}

// Only an admitted member may post: not someone who has not given a private room's password,
// not someone barred, not someone who could not get a place, not into a missing room.
func TestGIFUploadNeedsAdmission(t *testing.T) {
	ts := startGIFServer(t, gifServerOptions{})
	alice, bob, carol := ts.newPerson(t), ts.newPerson(t), ts.newPerson(t)
	data := testGIF(t, 10, 10, 1, 20)
	refused := func(t *testing.T, person *http.Client, room string, status int, reason string) {
		t.Helper()
		resp, text := ts.uploadGIF(t, person, room, "x.gif", data)
		if resp.StatusCode != status || !strings.Contains(text, reason) {
			t.Fatalf("upload: %s, want %d with %q\n%s", resp.Status, status, reason, text)
		}
		if RoomIDPattern.MatchString(room) && ts.Rooms.Hub(room) != nil && len(ts.gifMessages(t, room)) != 0 {
			t.Fatal("a refused upload left a message")
		}
		if files := ts.files(t); len(files) != 0 {
			t.Fatalf("a refused upload left files: %v", files)
		}
	}

	t.Run("private room not entered", func(t *testing.T) {
		room := ts.createRoom(t, alice, "Secret", 0, "hunter22")
		refused(t, bob, room, http.StatusForbidden, "private")
		// After the password, the same person may post.
		resp, text := ts.postForm(t, noRedirect(bob), "/rooms/"+room+"/enter", url.Values{"password": {"hunter22"}}, nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("enter: %s\n%s", resp.Status, text)
		}
		if resp, text := ts.uploadGIF(t, bob, room, "x.gif", data); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("upload after entering: %s\n%s", resp.Status, text)
		}
		ts.postForm(t, noRedirect(alice), "/rooms/"+room+"/delete", url.Values{"confirm": {"yes"}}, nil)
		ts.gifs.Wait()
	})
	t.Run("barred", func(t *testing.T) {
		room := ts.createRoom(t, alice, "Strict", 0, "")
		until := time.Now().Add(time.Hour).UnixMilli()
		if err := ts.Store.BarFromRoom(context.Background(), room, ts.identity(t, bob).ID, until); err != nil {
			t.Fatal(err)
		}
		refused(t, bob, room, http.StatusForbidden, "removed by the owner")
	})
	t.Run("full room", func(t *testing.T) {
		room := ts.createRoom(t, alice, "Pair", 2, "")
		readFrame(t, ts.dialRoom(t, alice, room, 0))
		readFrame(t, ts.dialRoom(t, carol, room, 0))
		refused(t, bob, room, http.StatusConflict, "full")
		// Someone who holds a place may post.
		if resp, text := ts.uploadGIF(t, carol, room, "x.gif", data); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("member's upload: %s\n%s", resp.Status, text)
		}
		ts.postForm(t, noRedirect(alice), "/rooms/"+room+"/delete", url.Values{"confirm": {"yes"}}, nil)
		ts.gifs.Wait()
	})
	t.Run("missing room", func(t *testing.T) {
		refused(t, bob, "aaaaaaaaaaaaaaaa", http.StatusNotFound, "not found")
		refused(t, bob, "AAAAAAAAAAAAAAAA", http.StatusNotFound, "not found")
	})
}

type refuseUploads struct{}

func (refuseUploads) Allow(_ *http.Request, _ int64, action string) string {
	if action == "upload" {
		return "Slow down: too many uploads."
	}
	return ""
}

func TestGIFUploadAsksTheGuard(t *testing.T) {
	ts := startGIFServer(t, gifServerOptions{guard: refuseUploads{}})
	alice := ts.newPerson(t)
	room := ts.createRoom(t, alice, "Limited", 0, "")
	resp, text := ts.uploadGIF(t, alice, room, "x.gif", testGIF(t, 10, 10, 1, 30))
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(text, "too many uploads") {
		t.Fatalf("guarded upload: %s\n%s", resp.Status, text)
	}
	if len(ts.files(t)) != 0 || len(ts.gifMessages(t, room)) != 0 {
		t.Fatal("a refused upload left a file or message")
	}
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

// The status fragment a scripted refusal returns escapes what it carries.
func TestGIFRefusalReasonIsEscaped(t *testing.T) {
	ts := startGIFServer(t, gifServerOptions{guard: guardFunc(func(string) string { return `<img src=x onerror=alert(1)>` })})
	alice := ts.newPerson(t)
	room := ts.createRoom(t, alice, "Escapes", 0, "")
	_, text := ts.uploadGIF(t, alice, room, "x.gif", testGIF(t, 4, 4, 1, 50))
	if strings.Contains(text, "<img src=x") || !strings.Contains(text, "&lt;img") {
		t.Fatalf("reason not escaped: %s", text)
	}
}

type guardFunc func(action string) string

func (g guardFunc) Allow(_ *http.Request, _ int64, action string) string {
	if action == "upload" {
		return g(action)
	}
	return ""
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
