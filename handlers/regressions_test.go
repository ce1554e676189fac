package handlers_test

// The bugs of the original Express + Socket.IO GIF chat, one regression test each. The
// original broadcast a room's password to everyone and put it in a URL, let anyone read or
// post to any room by its id, let anyone delete a room, counted sockets against capacity
// without a lock, deleted a room when its last member refreshed, crashed on a missing
// Referer, trusted a file's name for its type, sent empty messages and took any title.

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"gifchat/realtime"
)

// Original: the room's password was sent to every client with the room list, and entering
// put it in the query string. Here it never appears in a page, a lobby event, a socket frame,
// a redirect or a log line, and travels only in a POST body.
func TestRegressionPasswordNeverBroadcastOrInURL(t *testing.T) {
	const secret = "hunter2-sesame-XYZ"
	const wrong = "wrong-guess-QRS"
	ts := newTestServer(t)
	owner, guest, watcher := ts.newPerson(t), ts.newPerson(t), ts.newPerson(t)
	stream := ts.openLobbyStream(t, watcher)
	stream.next(t, peerWait) // the snapshot

	var seen []string // everything any client received
	record := func(what string, resp *http.Response, body string) {
		seen = append(seen, what+": "+body)
		for k, v := range resp.Header {
			seen = append(seen, what+" header "+k+": "+strings.Join(v, ","))
		}
		if resp.Request != nil {
			seen = append(seen, what+" URL: "+resp.Request.URL.String())
		}
	}
	resp, body := ts.postForm(t, noRedirect(owner), "/rooms", url.Values{"title": {"Vault"}, "password": {secret}}, nil)
	record("create", resp, body)
	room := strings.TrimPrefix(resp.Header.Get("Location"), "/rooms/")
	resp, body = ts.postForm(t, owner, "/rooms", url.Values{"title": {"Vault 2"}, "password": {secret}}, http.Header{"Hx-Request": {"true"}})
	record("create htmx", resp, body)
	o := ts.joined(t, owner, room)

	for _, path := range []string{"/", "/rooms/" + room, "/rooms/" + room + "/messages?before=1000"} {
		resp, body := ts.get(t, guest, path)
		record("guest GET "+path, resp, body)
	}
	resp, body = ts.get(t, owner, "/rooms/"+room)
	record("owner GET room", resp, body)
	if !strings.Contains(body, `type="password"`) && strings.Contains(body, `name="password"`) {
		t.Error("a password field that is not type=password")
	}
	resp, body = ts.postForm(t, noRedirect(guest), "/rooms/"+room+"/enter", url.Values{"password": {wrong}}, nil)
	record("wrong password", resp, body)
	if !strings.Contains(strings.ToLower(body), "wrong password") {
		t.Errorf("a wrong password does not say so: %s", resp.Status)
	}
	resp, body = ts.postForm(t, noRedirect(guest), "/rooms/"+room+"/enter", url.Values{"password": {secret}}, nil)
	record("right password", resp, body)
	if resp.StatusCode != http.StatusSeeOther || strings.Contains(resp.Header.Get("Location"), "?") {
		t.Errorf("entering: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	g := ts.joined(t, guest, room)
	o.waitFor(t, "joined")
	resp, body = ts.get(t, guest, "/rooms/"+room)
	record("guest room page", resp, body)
	// The enter form posts its body; it never puts the password in the URL.
	_, form := ts.get(t, watcher, "/rooms/"+room)
	if !strings.Contains(form, `method="post"`) || !strings.Contains(form, `action="/rooms/`+room+`/enter"`) {
		t.Error("the password form does not POST to the enter route")
	}

	seen = append(seen, "owner socket: "+o.received(), "guest socket: "+g.received())
	for {
		e, ok := stream.tryNext(200 * time.Millisecond)
		if !ok {
			break
		}
		seen = append(seen, "lobby event: "+e.Data)
	}
	seen = append(seen, "server log: "+ts.Logs())
	for _, s := range seen {
		for _, pw := range []string{secret, wrong} {
			if strings.Contains(s, pw) {
				t.Errorf("a password appears in %.200s", s)
			}
		}
	}
	stored, err := ts.Store.RoomByID(context.Background(), room)
	if err != nil || !strings.HasPrefix(stored.PasswordHash, "$2") || strings.Contains(stored.PasswordHash, secret) {
		t.Errorf("stored password is not a bcrypt hash: %q", stored.PasswordHash)
	}
}

// Original: joining was a client-side redirect; anyone with the id could read and post.
// Here a private room not entered gives nothing over the socket, the paging route or the
// plain form, and stores nothing.
func TestRegressionNoReadingOrPostingWithoutEntering(t *testing.T) {
	ts := newTestServer(t)
	owner, stranger := ts.newPerson(t), ts.newPerson(t)
	room := ts.createRoom(t, owner, "Private", 0, "letmein")
	o := ts.joined(t, owner, room)
	for i := range 60 { // more than a page, so there is an older page to ask for
		o.say(t, fmt.Sprintf("secret-%02d", i))
	}
	o.waitFor(t, "secret-59")
	msgs, _ := ts.Store.LatestMessages(context.Background(), room, 0, 100)
	newest := msgs[len(msgs)-1].ID

	// The socket: refused with the reason and 4001, and not one message.
	s := watch(ts.dialRoom(t, stranger, room, 0))
	if code, _ := s.waitClose(t); code != realtime.CloseNeedsPassword {
		t.Errorf("stranger's socket closed with %d, want 4001", code)
	}
	if got := s.received(); strings.Contains(got, "secret-") || strings.Contains(got, memberPanel) {
		t.Errorf("a stranger's socket received room content:\n%s", got)
	}
	// History paging.
	resp, body := ts.get(t, stranger, fmt.Sprintf("/rooms/%s/messages?before=%d", room, newest+1))
	if resp.StatusCode != http.StatusForbidden || strings.Contains(body, "secret-") {
		t.Errorf("stranger paging history: %s, content leaked: %v", resp.Status, strings.Contains(body, "secret-"))
	}
	// The room page is the password form, without the log.
	resp, body = ts.get(t, stranger, "/rooms/"+room)
	if strings.Contains(body, "secret-") || !strings.Contains(body, `name="password"`) {
		t.Errorf("stranger's room page: %s", resp.Status)
	}
	// The plain form post.
	resp, _ = ts.postForm(t, noRedirect(stranger), "/rooms/"+room+"/messages", url.Values{"text": {"gatecrasher"}}, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("stranger's post: %s, want 403", resp.Status)
	}
	if containsText(ts.storedTexts(t, room, 0), "gatecrasher") {
		t.Error("a stranger's message was stored")
	}
	if strings.Contains(o.received(), "gatecrasher") {
		t.Error("a stranger's message reached the room")
	}
}

// Original: the delete route checked nothing. Here only the owner deletes, even with the
// confirmation field set.
func TestRegressionDeleteNeedsTheOwner(t *testing.T) {
	ts := newTestServer(t)
	owner, other := ts.newPerson(t), ts.newPerson(t)
	room := ts.createRoom(t, owner, "Mine", 0, "")
	o := ts.joined(t, owner, room)
	x := ts.joined(t, other, room)
	x.say(t, "still here")
	o.waitFor(t, "still here")

	resp, body := ts.postForm(t, noRedirect(other), "/rooms/"+room+"/delete", url.Values{"confirm": {"yes"}}, nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Only the room") {
		t.Fatalf("delete by another person: %s\n%s", resp.Status, body)
	}
	if ts.Rooms.Hub(room) == nil {
		t.Fatal("the room's hub is gone")
	}
	if _, ok := ts.Lobby.Room(room); !ok {
		t.Fatal("the room left the lobby")
	}
	if _, err := ts.Store.RoomByID(context.Background(), room); err != nil {
		t.Fatalf("the room's row: %v", err)
	}
	if !containsText(ts.storedTexts(t, room, 0), "still here") {
		t.Fatal("the room's messages are gone")
	}
	x.say(t, "after the attempt")
	o.waitFor(t, "after the attempt") // both sockets still work
	// The owner can.
	if resp, _ := ts.postForm(t, noRedirect(owner), "/rooms/"+room+"/delete", url.Values{"confirm": {"yes"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete by the owner: %s", resp.Status)
	}
}

// Original: capacity was the socket count of the room, read and written without a lock, so
// a burst of joins overfilled it and a second tab took a second place. Here 12 people join a
// room of 3 at once: exactly 3 get in, the rest are told it is full; extra tabs of one who got
// in take no place.
func TestRegressionCapacityCountsPeopleAtomically(t *testing.T) {
	ts := newTestServer(t)
	owner := ts.newPerson(t)
	room := ts.createRoom(t, owner, "Three seats", 3, "")
	people := make([]*http.Client, 12)
	for i := range people {
		people[i] = ts.newPerson(t)
	}
	peers := make([]*roomPeer, len(people))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, p := range people {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			peers[i] = watch(ts.dialRoom(t, p, room, 0))
		}()
	}
	close(start)
	wg.Wait()
	admitted, full := 0, 0
	var in []int
	for i, p := range peers {
		got := p.waitUntil(t, "admission or refusal", func(s string) bool {
			return strings.Contains(s, memberPanel) || strings.Contains(s, "This room is full")
		})
		if strings.Contains(got, memberPanel) {
			admitted++
			in = append(in, i)
		} else {
			if code, _ := p.waitClose(t); code != realtime.CloseFull {
				t.Errorf("a refused join closed with %d, want 4003", code)
			}
			full++
		}
	}
	if admitted != 3 || full != 9 {
		t.Fatalf("%d admitted and %d refused as full; want 3 and 9", admitted, full)
	}
	// Two more tabs of someone inside: admitted, and still 3 people.
	for range 2 {
		ts.joined(t, people[in[0]], room)
	}
	if n, _ := ts.Rooms.Hub(room).Occupancy(0); n != 3 {
		t.Fatalf("%d people hold a place, want 3", n)
	}
	if card, _ := ts.Lobby.Room(room); !strings.Contains(fmt.Sprintf("%+v", card), "3") {
		t.Errorf("lobby card: %+v", card)
	}
}

// Original: a disconnect of the last socket deleted the room at once, so refreshing the page
// destroyed it. Here a refresh (the socket goes and comes back within the debounce) keeps
// the room, announces nothing, and the room outlives its grace period while occupied.
func TestRegressionRefreshDoesNotDeleteTheRoom(t *testing.T) {
	ts := newTestServer(t, withRealtimeConfig(realtime.Config{LeaveDebounce: 2 * time.Second, EmptyRoomGrace: 100 * time.Millisecond}))
	owner := ts.newPerson(t)
	room := ts.createRoom(t, owner, "Refresh me", 0, "")
	first := ts.joined(t, owner, room)
	first.waitFor(t, "joined")
	for range 3 { // refresh three times: page load, new socket, old socket gone
		if resp, _ := ts.get(t, owner, "/rooms/"+room); resp.StatusCode != http.StatusOK {
			t.Fatalf("refresh: %s", resp.Status)
		}
		first.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "page navigating away"), time.Now().Add(time.Second))
		first.waitClose(t)
		first = ts.joined(t, owner, room)
	}
	// Well past the grace period (100 ms) the room is still there, because it is not empty.
	time.Sleep(500 * time.Millisecond)
	if ts.Rooms.Hub(room) == nil {
		t.Fatal("a refresh deleted the room")
	}
	texts := ts.storedTexts(t, room, 0)
	joins, leaves := 0, 0
	for _, s := range texts {
		joins += strings.Count(s, " joined")
		leaves += strings.Count(s, " left")
	}
	if joins != 1 || leaves != 0 {
		t.Errorf("refreshes produced %d join and %d leave notices, want 1 and 0: %q", joins, leaves, texts)
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

// Original: the upload kept any file whose name ended in .gif. Here a PNG named cat.gif
// and declared image/gif is refused with a reason, and neither a file nor a message is left.
func TestRegressionNonGIFRefused(t *testing.T) {
	ts := newTestServer(t)
	alice := ts.newPerson(t)
	room := ts.createRoom(t, alice, "GIFs only", 0, "")
	var pngBuf bytes.Buffer
	png.Encode(&pngBuf, image.NewRGBA(image.Rect(0, 0, 4, 4)))
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="gif"; filename="cat.gif"`)
	h.Set("Content-Type", "image/gif")
	pw, _ := mw.CreatePart(h)
	pw.Write(pngBuf.Bytes())
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/rooms/"+room+"/gifs", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	resp, text := ts.do(t, alice, req)
	if resp.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(text, "not a GIF") {
		t.Fatalf("a PNG named .gif: %s\n%s", resp.Status, text)
	}
	msgs, _ := ts.Store.LatestMessages(context.Background(), room, 0, 100)
	for _, m := range msgs {
		if m.GIF != "" {
			t.Fatal("a GIF message was stored for a PNG")
		}
	}
	if entries, _ := os.ReadDir(ts.GIFs.Dir()); len(entries) != 0 {
		for _, e := range entries {
			if !e.IsDir() {
				t.Errorf("a file was left: %s", e.Name())
			}
		}
	}
}

// Original: an empty input was sent and shown as an empty bubble. Here empty, blank and
// invisible-only messages are refused with a reason to the sender alone, over the socket and
// the plain form, and nothing is stored.
func TestRegressionEmptyMessageRefused(t *testing.T) {
	ts := newTestServer(t)
	alice, bob := ts.newPerson(t), ts.newPerson(t)
	room := ts.createRoom(t, alice, "No empties", 0, "")
	a := ts.joined(t, alice, room)
	b := ts.joined(t, bob, room)
	for _, text := range []string{"", "   ", "\t\n", "\u00a0\u3000", "\u200b\u200d\ufeff"} {
		a.say(t, text)
	}
	a.waitCount(t, "Write something first: empty messages are not sent.", 5)
	a.send(t, map[string]any{"action": "say"}) // no text field at all
	a.waitCount(t, "Write something first", 6)
	for _, text := range []string{"", "  ", "\u200b"} {
		resp, page := ts.postForm(t, noRedirect(alice), "/rooms/"+room+"/messages", url.Values{"text": {text}}, nil)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "Write something first") {
			t.Errorf("form post %q: %s", text, resp.Status)
		}
	}
	a.say(t, "a real one")
	got := b.waitFor(t, "a real one")
	if strings.Count(got, `class="msg msg-text"`) != 1 || strings.Contains(got, "Write something first") {
		t.Errorf("bob saw more than the one real message:\n%s", got)
	}
	for _, s := range ts.storedTexts(t, room, 0) {
		if strings.TrimSpace(strings.Trim(s, "\u200b\u200d\ufeff")) == "" {
			t.Errorf("an empty message was stored: %q", s)
		}
	}
}

// Original: the title was whatever was sent. Here a title is at most 60 characters; a huge
// one is refused with the reason and nothing is created, and the lobby never shows one longer.
func TestRegressionTitleIsBounded(t *testing.T) {
	ts := newTestServer(t)
	alice := noRedirect(ts.newPerson(t))
	for _, n := range []int{61, 1000, 30000} {
		title := strings.Repeat("T", n)
		resp, page := ts.postForm(t, alice, "/rooms", url.Values{"title": {title}}, nil)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, fmt.Sprintf("The title is %d characters long; at most 60.", n)) {
			t.Errorf("%d-character title: %s", n, resp.Status)
		}
	}
	// Over the body limit it is refused before it is read.
	resp, _ := ts.postForm(t, alice, "/rooms", url.Values{"title": {strings.Repeat("T", 70000)}}, nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("70,000-character title: %s, want 413", resp.Status)
	}
	if rooms, _ := ts.Store.ListRooms(context.Background()); len(rooms) != 0 {
		t.Fatalf("%d rooms created", len(rooms))
	}
	_, lobby := ts.get(t, alice, "/")
	if strings.Contains(lobby, strings.Repeat("T", 61)) {
		t.Error("the lobby shows an over-long title")
	}
}
