//go:build linux

package realtime

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"gifchat/db"
)

// idleSockets opens n sockets in rooms of perRoom whose browsers read (and so answer pings),
// and waits until nothing is being sent to them.
func idleSockets(t *testing.T, e *testEnv, n, perRoom int) ([]db.Room, []*sock) {
	t.Helper()
	owner := e.person("owner")
	var rooms []db.Room
	var socks []*sock
	for i := range n {
		if i%perRoom == 0 {
			rooms = append(rooms, e.room(owner, perRoom, ""))
		}
		socks = append(socks, e.dial(e.person("p"), rooms[len(rooms)-1].ID, 0))
	}
	for _, r := range rooms {
		e.settle(r.ID)
	}
	waitNoWriters(t)
	return rooms, socks
}

// readers counts the goroutines running a room socket's reader.
func readers() int {
	buf := make([]byte, 8<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "realtime.(*Client).resumed(")
}

// TestIdleSocketsHoldNoGoroutine: an idle room socket is parked in the idle poller, not a
// goroutine waiting for its next frame, and stays parked while it answers pings: its pongs
// are taken before gorilla's reader, which would otherwise wait on for a message (a
// goroutine per socket again after the first ping). And a parked socket is read again as
// soon as its browser speaks.
func TestIdleSocketsHoldNoGoroutine(t *testing.T) {
	e := newEnv(t, Config{PingInterval: 50 * time.Millisecond, PongWait: 2 * time.Second})
	const n = 40
	rooms, socks := idleSockets(t, e, n, 10)
	time.Sleep(300 * time.Millisecond) // pings sent and answered, several times over
	// A ping's pongs wake their sockets' readers for a moment: the fewest seen over a while
	// is what stays.
	fewest := n
	for range 40 {
		fewest = min(fewest, readers())
		time.Sleep(5 * time.Millisecond)
	}
	if fewest > 0 {
		t.Errorf("%d of %d idle sockets hold a reading goroutine, want none", fewest, n)
	}
	for _, s := range socks {
		select {
		case <-s.closed:
			t.Fatalf("an idle socket was closed (%d %q): its pongs were not seen", s.code, s.reason)
		default:
		}
	}
	socks[1].say("after the pings")
	socks[0].waitText("after the pings")
	e.settle(rooms[0].ID)
}

// TestParkedSocketLendsItsReadBuffer: an idle socket is parked and holds no read buffer; it
// takes one back when its browser speaks, however many frames come at once.
func TestParkedSocketLendsItsReadBuffer(t *testing.T) {
	e := newEnv(t, Config{})
	rooms, socks := idleSockets(t, e, 20, 10)
	holding := func() (n int) {
		for _, r := range rooms {
			h := e.rooms.Hub(r.ID)
			h.call(func() {
				for _, p := range h.people {
					for c := range p.sockets {
						if c.idle == nil {
							t.Fatal("a socket without an idle wait")
						}
						// Taken as a wake would take it (so that the look is ordered
						// before the reader's next use of the buffer), and then woken.
						if !c.idle.state.CompareAndSwap(parked, reading) {
							n++
							continue
						}
						if c.idle.br.Size() > 0 {
							n++
						}
						go c.resumed()
					}
				}
			})
		}
		return n
	}
	// Readers park as soon as they find nothing to read: on a loaded machine some may still be
	// on their way.
	waitParked := func(what string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for n := holding(); n > 0; n = holding() {
			if time.Now().After(deadline) {
				t.Fatalf("%d sockets are not parked or hold a read buffer %s, want none", n, what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitParked("when idle")
	var burst []byte
	for i := range 5 {
		burst = append(burst, maskedFrame(fmt.Sprintf(`{"action":"say","text":"burst %d %s","headers":{"HX-Request":"true"}}`, i, strings.Repeat("x", 200)))...)
	}
	if _, err := socks[1].conn.NetConn().Write(burst); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		socks[0].waitText(fmt.Sprintf("burst %d ", i))
	}
	waitParked("after speaking")
}

// TestHungUpParkedSocketLeaves: a parked socket that the server hangs up on (its browser
// stopped answering pings) leaves its room, though a closed connection leaves the poller
// without an event.
func TestHungUpParkedSocketLeaves(t *testing.T) {
	e := newEnv(t, Config{PingInterval: 50 * time.Millisecond, PongWait: 300 * time.Millisecond})
	alice := e.person("alice")
	room := e.room(alice, 10, "")
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + fmt.Sprintf("/ws?room=%s&who=%d", room.ID, alice.ID)
	conn, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	e.waitSockets(t, room.ID, alice, 1)
	// Not reading: pings go unanswered, and the server hangs up after PongWait. The
	// connection stays open on this side, so only the hang-up can end the server's reader.
	e.waitSockets(t, room.ID, alice, 0)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the socket left its room but its connection is still open")
			}
			return
		}
	}
}

// TestParkedSocketClosedUnderItLeaves: a connection closed by something other than the
// client's own hang-up leaves the idle poller without an event, so its parked reader hears of
// it no sooner than the next ping, whose write fails and hangs up; the socket then leaves.
func TestParkedSocketClosedUnderItLeaves(t *testing.T) {
	e := newEnv(t, Config{PingInterval: 50 * time.Millisecond, PongWait: 5 * time.Second})
	alice := e.person("alice")
	room := e.room(alice, 10, "")
	e.dial(alice, room.ID, 0)
	e.waitSockets(t, room.ID, alice, 1)
	waitNoWriters(t)
	h := e.rooms.Hub(room.ID)
	h.call(func() {
		for c := range h.people[alice.ID].sockets {
			c.conn.NetConn().Close()
		}
	})
	e.waitSockets(t, room.ID, alice, 0)
}
