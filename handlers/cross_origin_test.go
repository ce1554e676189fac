package handlers_test

// Cross-origin protection: every state-changing POST and the room's WebSocket refuse what
// another site's page sends with the visitor's cookie. Each test fails if its guard is removed.

import (
	"bytes"
	"context"
	"fmt"
	"gifchat/db"
	"gifchat/vocab"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// stateChangingRoute is one POST route with a request that would succeed from the site itself.
type stateChangingRoute struct {
	pattern string // as in routes.go
	path    string
	body    func() (contentType string, body []byte)
	// changed reports whether the request took effect (a room, an entry, a message, a removal).
	changed func(t *testing.T) bool
}

func formBody(v url.Values) func() (string, []byte) {
	return func() (string, []byte) { return "application/x-www-form-urlencoded", []byte(v.Encode()) }
}

// TestEveryStateChangingRouteRefusesCrossOrigin sends each POST route a request that works
// from the site itself, but marked as coming from another site (as a browser marks it): every
// one is refused with 403, the app's page saying why, and changes nothing. Routes are read
// from routes.go, so a new POST route without a case here fails the test. The same requests
// from the site itself go through.
func TestEveryStateChangingRouteRefusesCrossOrigin(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	owner := ts.newPerson(t)
	visitor := ts.newPerson(t)
	public := ts.createRoom(t, owner, "Public", 0, "")
	private := ts.createRoom(t, owner, "Private", 0, "sesame")
	visitorID := ts.identity(t, visitor).ID
	// The owner's message, for the routes that change one.
	mine := []*db.Message{{RoomID: private, AuthorID: ts.identity(t, owner).ID, Kind: vocab.KindText, Body: "original"}}
	if err := ts.Store.InsertMessages(ctx, mine); err != nil {
		t.Fatal(err)
	}
	entry := fmt.Sprintf("/rooms/%s/messages/%d", private, mine[0].Seq)
	entryNow := func(t *testing.T) db.Message {
		m, err := ts.Store.MessageBySeq(ctx, private, mine[0].Seq)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	roomCount := func() int {
		rooms, err := ts.Store.ListRooms(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(rooms)
	}
	messageCount := func(room string) int { // what people posted, not the notices about them
		msgs, err := ts.Store.LatestMessages(ctx, room, visitorID, 1000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range msgs {
			if m.Kind != vocab.KindNotice {
				n++
			}
		}
		return n
	}
	routes := []stateChangingRoute{
		{
			pattern: "POST /rooms", path: "/rooms",
			body:    formBody(url.Values{"title": {"Forged room"}}),
			changed: func(t *testing.T) bool { return roomCount() != 2 },
		},
		{
			pattern: "POST /rooms/{id}/enter", path: "/rooms/" + private + "/enter",
			body: formBody(url.Values{"password": {"sesame"}}),
			changed: func(t *testing.T) bool {
				ok, err := ts.Store.HasRoomEntry(ctx, private, visitorID)
				if err != nil {
					t.Fatal(err)
				}
				return ok
			},
		},
		{
			pattern: "POST /rooms/{id}/messages", path: "/rooms/" + public + "/messages",
			body:    formBody(url.Values{"text": {"forged message"}}),
			changed: func(t *testing.T) bool { return messageCount(public) != 0 },
		},
		{
			pattern: "POST /rooms/{id}/delete", path: "/rooms/" + public + "/delete",
			body:    formBody(url.Values{"confirm": {"yes"}}),
			changed: func(t *testing.T) bool { return ts.Rooms.Hub(public) == nil || roomCount() != 2 },
		},
		{
			pattern: "POST /rooms/{id}/messages/{seq}/edit", path: entry + "/edit",
			body:    formBody(url.Values{"text": {"forged edit"}}),
			changed: func(t *testing.T) bool { return entryNow(t).Body != "original" },
		},
		{
			pattern: "POST /rooms/{id}/messages/{seq}/delete", path: entry + "/delete",
			body:    formBody(url.Values{}),
			changed: func(t *testing.T) bool { return entryNow(t).Deleted },
		},
		{
			pattern: "POST /rooms/{id}/gifs", path: "/rooms/" + public + "/gifs",
			body: func() (string, []byte) {
				var buf bytes.Buffer
				mw := multipart.NewWriter(&buf)
				fw, _ := mw.CreateFormFile("gif", "x.gif")
				fw.Write([]byte("GIF89a"))
				mw.Close()
				return mw.FormDataContentType(), buf.Bytes()
			},
			changed: func(t *testing.T) bool { return messageCount(public) != 0 },
		},
		{
			pattern: "POST /me", path: "/me",
			body:    formBody(url.Values{"nickname": {"Forged"}, "colour": {"c3"}}),
			changed: func(t *testing.T) bool { return ts.identity(t, owner).Nickname == "Forged" },
		},
	}

	// Every POST in routes.go has a case above.
	src, err := os.ReadFile("routes.go")
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, r := range routes {
		covered[r.pattern] = true
	}
	for _, m := range regexp.MustCompile(`"((?:POST|PUT|PATCH|DELETE) [^"]+)"`).FindAllStringSubmatch(string(src), -1) {
		if !covered[m[1]] {
			t.Errorf("routes.go has %q, which this test does not cover: add a case", m[1])
		}
	}

	hostile := []http.Header{
		{"Origin": {"https://evil.example"}},
		{"Origin": {"null"}},
		{"Origin": {"http://localhost:1"}}, // the same host on another port is another origin
		{"Sec-Fetch-Site": {"cross-site"}},
		{"Sec-Fetch-Site": {"same-site"}}, // a sibling subdomain is another site's page too
		{"Origin": {"https://evil.example"}, "Hx-Request": {"true"}},
	}
	for _, r := range routes {
		for _, h := range hostile {
			// The owner sends them: the most a forged request could do is the owner's.
			person := owner
			if r.pattern == "POST /rooms/{id}/enter" {
				person = visitor
			}
			ct, body := r.body()
			req, _ := http.NewRequest(http.MethodPost, ts.URL+r.path, bytes.NewReader(body))
			req.Header.Set("Content-Type", ct)
			for k, v := range h {
				req.Header[k] = v
			}
			resp, page := ts.do(t, noRedirect(person), req)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s with %v: %s, want 403", r.pattern, h, resp.Status)
			}
			if !strings.Contains(page, "came from another site") {
				t.Errorf("%s with %v: the refusal does not say why:\n%s", r.pattern, h, page)
			}
			if !isWholePage(page) {
				t.Errorf("%s with %v: the 403 is not the app's page:\n%s", r.pattern, h, page)
			}
			if r.changed(t) {
				t.Fatalf("%s with %v took effect", r.pattern, h)
			}
		}
	}

	// The same requests from the site itself work (so the refusals above were the guard's),
	// whichever of the two headers the browser sends.
	for _, header := range []http.Header{{"Origin": {ts.URL}}, {"Sec-Fetch-Site": {"same-origin"}}} {
		if resp, body := ts.postForm(t, noRedirect(visitor), "/rooms", url.Values{"title": {"Same-site room"}}, header); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("same-origin POST /rooms with %v: %s\n%s", header, resp.Status, body)
		}
	}
	resp, _ := ts.postForm(t, noRedirect(owner), "/rooms/"+public+"/messages", url.Values{"text": {"same-site message"}},
		http.Header{"Origin": {ts.URL}, "Sec-Fetch-Site": {"same-origin"}})
	if resp.StatusCode != http.StatusSeeOther || messageCount(public) != 1 {
		t.Errorf("same-origin post: %s, %d messages", resp.Status, messageCount(public))
	}
	resp, _ = ts.postForm(t, noRedirect(owner), "/rooms/"+public+"/delete", url.Values{"confirm": {"yes"}},
		http.Header{"Origin": {ts.URL}})
	if resp.StatusCode != http.StatusSeeOther || ts.Rooms.Hub(public) != nil {
		t.Errorf("same-origin delete by the owner: %s", resp.Status)
	}
}

// TestRoomSocketRefusesForeignOrigin: a page on another site cannot open a room socket with
// the visitor's cookie (cross-site WebSocket hijacking); the handshake is refused before
// any admission, and the person takes no place in the room.
func TestRoomSocketRefusesForeignOrigin(t *testing.T) {
	ts := newTestServer(t)
	alice := ts.newPerson(t)
	room := ts.createRoom(t, alice, "Origins", 0, "")
	u := strings.Replace(ts.URL, "http", "ws", 1) + "/rooms/" + room + "/ws?after=0"
	cookie := ts.sessionCookie(alice).String()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	for _, origin := range []string{"https://evil.example", "null", "http://127.0.0.1.evil.example", "http://localhost"} {
		conn, resp, err := d.Dial(u, http.Header{"Origin": {origin}, "Cookie": {cookie}})
		if err == nil {
			conn.Close()
			t.Fatalf("handshake with Origin %q was accepted", origin)
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("Origin %q: %v, want a 403 answer", origin, err)
		}
	}
	if people, _ := ts.Rooms.Hub(room).Occupancy(0); people != 0 {
		t.Fatalf("%d people in the room after refused handshakes", people)
	}
	// The site's own origin is admitted.
	p := ts.joined(t, alice, room)
	p.conn.Close()
}
