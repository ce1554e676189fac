package handlers_test

// The owner's tools through the real server: a kick bars the client's address (as the trusted
// proxy reports it), so a fresh cookie from there gets neither the page nor a socket, while
// another address does.

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	. "gifchat/handlers"
)

func TestKickStaysAgainstAFreshCookie(t *testing.T) {
	ts := newTestServer(t, withConfig(Config{TrustProxy: true}))
	owner, troll := ts.newPerson(t), ts.newPerson(t)
	room := ts.createRoom(t, owner, "Kick sticks", 0, "")
	o := ts.joined(t, owner, room)

	dialFrom := func(person *http.Client, addr string) *websocket.Conn {
		t.Helper()
		u := strings.Replace(ts.URL, "http", "ws", 1) + "/rooms/" + room + "/ws?after=0"
		h := http.Header{"Origin": {ts.URL}, "X-Forwarded-For": {addr}}
		if ck := ts.sessionCookie(person); ck != nil {
			h.Set("Cookie", ck.String())
		}
		conn, _, err := (&websocket.Dialer{HandshakeTimeout: 10 * time.Second}).Dial(u, h)
		if err != nil {
			t.Fatalf("dial from %s: %v", addr, err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	trollSocket := watch(dialFrom(troll, "203.0.113.50"))
	trollSocket.waitFor(t, memberPanel)
	trollID := ts.identity(t, troll).ID
	o.send(t, map[string]any{"action": "kick", "member": fmt.Sprint(trollID)})
	o.waitFor(t, "was removed by the owner")

	// A new cookie from the same address: the page says why, the socket is refused.
	fresh := noRedirect(ts.newPerson(t))
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/rooms/"+room, nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.50")
	resp, page := ts.do(t, fresh, req)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "can come back in") {
		t.Errorf("a fresh cookie from the kicked address gets %s:\n%s", resp.Status, page)
	}
	if code := readUntilClose(t, dialFrom(fresh, "203.0.113.50")); code != 4008 {
		t.Errorf("a fresh cookie's socket from the kicked address closed with %d, want 4008", code)
	}
	// Another address is welcome.
	req, _ = http.NewRequest(http.MethodGet, ts.URL+"/rooms/"+room, nil)
	req.Header.Set("X-Forwarded-For", "198.51.100.60")
	if resp, _ := ts.do(t, fresh, req); resp.StatusCode != http.StatusOK {
		t.Errorf("a fresh cookie from another address gets %s", resp.Status)
	}
}

// Someone who posts without JS (no socket) is in the room for a while: in the members panel,
// holding a place, and the owner can kick them, after which their posts are refused.
func TestNoJSPosterIsPresentAndKickable(t *testing.T) {
	ts := newTestServer(t)
	owner, quiet := ts.newPerson(t), noRedirect(ts.newPerson(t))
	room := ts.createRoom(t, owner, "Plain forms", 0, "")
	o := ts.joined(t, owner, room)
	quietID := ts.identity(t, quiet)

	if resp, body := ts.postForm(t, quiet, "/rooms/"+room+"/messages", url.Values{"text": {"hello without JS"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("no-JS post: %s\n%s", resp.Status, body)
	}
	o.waitFor(t, quietID.Nickname+" joined")
	o.waitFor(t, fmt.Sprintf(`id="member-%d"`, quietID.ID))
	if people, here := ts.Rooms.Hub(room).Occupancy(quietID.ID); !here || people != 2 {
		t.Errorf("the no-JS poster holds no place: %d people, present %v", people, here)
	}
	o.send(t, map[string]any{"action": "kick", "member": fmt.Sprint(quietID.ID)})
	o.waitFor(t, quietID.Nickname+" was removed by the owner")
	resp, page := ts.postForm(t, quiet, "/rooms/"+room+"/messages", url.Values{"text": {"still here?"}}, nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "can come back in") {
		t.Errorf("a kicked no-JS poster posts again: %s\n%s", resp.Status, page)
	}
}

// Room sockets are counted per client address as well as per person: many fresh sessions
// from one address cannot open sockets without end.
func TestRoomSocketsCappedPerAddress(t *testing.T) {
	ts := newTestServer(t, withConfig(Config{MaxSocketsPerAddress: 2}))
	owner := ts.newPerson(t)
	room := ts.createRoom(t, owner, "Crowded address", 0, "")
	ts.joined(t, owner, room)
	ts.joined(t, ts.newPerson(t), room)
	third := ts.dialRoom(t, ts.newPerson(t), room, 0)
	_, frame, err := third.ReadMessage()
	if err != nil || !strings.Contains(string(frame), "connected from your network already") {
		t.Errorf("the third socket from one address was shown %q (%v)", frame, err)
	}
	if code := readUntilClose(t, third); code != 4029 {
		t.Errorf("the third socket from one address closed with %d, want 4029", code)
	}
}
