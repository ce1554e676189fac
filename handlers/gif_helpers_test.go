package handlers_test

// Helpers for the GIF tests: real GIFs made on the fly, upload bodies posted as upload.js or
// the plain form posts them, and what the GIF directory and the room hold afterwards.

import (
	. "gifchat/handlers"

	"bytes"
	"context"
	"image"
	"image/color"
	"image/gif"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
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
	// maxPerRoom and maxStore are the GIF quotas (50 MiB and 1 GiB when 0, as in production).
	maxPerRoom, maxStore int64
}

func startGIFServer(t *testing.T, o gifServerOptions) *gifTestServer {
	t.Helper()
	opts := []testServerOption{withRealtimeConfig(o.realtime), withConfig(Config{MaxGIFBytes: o.maxGIF, MaxGIFBytesPerRoom: o.maxPerRoom, MaxGIFStoreBytes: o.maxStore})}
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
