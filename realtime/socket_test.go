package realtime

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"gifchat/db"
)

// maskedFrame is a client text frame with a zero mask key (so the payload goes as is).
func maskedFrame(payload string) []byte {
	b := []byte{0x81}
	if n := len(payload); n < 126 {
		b = append(b, 0x80|byte(n))
	} else {
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	}
	b = append(b, 0, 0, 0, 0)
	return append(b, payload...)
}

// TestFramesArrivingTogether: frames that arrive in one segment, whether they fit the read
// buffer or overflow it into the socket, are all handled at once. A reader that waited for
// the socket to become readable while data sat in its buffer (or in the socket) would hang.
func TestFramesArrivingTogether(t *testing.T) {
	e := newEnv(t, Config{})
	alice, bob := e.person("alice"), e.person("bob")
	room := e.room(alice, 10, "")
	a := e.dial(alice, room.ID, 0)
	b := e.dial(bob, room.ID, 0)
	a.waitText(bob.Nickname + " joined")
	time.Sleep(50 * time.Millisecond) // bob's reader is idle, waiting

	for _, size := range []int{10, 300} { // three frames within the 512-byte buffer, and beyond it
		var burst []byte
		var want []string
		for i := range 3 {
			text := fmt.Sprintf("burst-%d-%d-%s", size, i, strings.Repeat("x", size))
			want = append(want, text)
			burst = append(burst, maskedFrame(fmt.Sprintf(`{"action":"say","text":%q,"headers":{"HX-Request":"true"}}`, text))...)
		}
		if _, err := b.conn.NetConn().Write(burst); err != nil {
			t.Fatal(err)
		}
		for _, text := range want {
			a.waitText(text)
		}
		time.Sleep(50 * time.Millisecond) // idle again before the next burst
	}
}

// TestIdleReaderStackIsSmall: the reading goroutine of an idle socket, where there is one
// (not on Linux, where the socket is parked: TestIdleSocketsHoldNoGoroutine), uses little
// enough stack to live in the smallest goroutine stack (2 KiB, of which about 1.1 KiB is
// usable), and to shrink back into it at a collection (under a quarter of 4 KiB in use).
// Measured per socket, the rooms' hubs included: 530 bytes (735 with -race), against 1,178
// (1,925) when waiting inside gorilla's reader; about 120 on Linux, the hubs' alone.
func TestIdleReaderStackIsSmall(t *testing.T) {
	e := newEnv(t, Config{})
	alice := e.person("alice")
	// Many sockets, so that other goroutines coming and going weigh little per socket, in rooms
	// of 10, so that what the clients are sent (never read) fits their socket buffers and no
	// writer is left blocked.
	const n, perRoom = 600, 10
	sample := []metrics.Sample{{Name: "/gc/scan/stack:bytes"}}
	runtime.GC()
	metrics.Read(sample)
	before := sample[0].Value.Uint64()
	var conns []*websocket.Conn
	var room db.Room
	for i := range n {
		if i%perRoom == 0 {
			room = e.room(alice, perRoom, "")
		}
		p := e.person("p")
		u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + fmt.Sprintf("/ws?room=%s&who=%d", room.ID, p.ID)
		c, _, err := websocket.DefaultDialer.Dial(u, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c) // not read: the clients hold no goroutines
	}
	waitNoWriters(t)
	runtime.GC()
	metrics.Read(sample)
	perSocket := (int64(sample[0].Value.Uint64()) - int64(before)) / n
	limit := int64(850)
	if raceEnabled {
		limit = 1300
	}
	if perSocket > limit {
		t.Errorf("an idle socket's goroutines use %d bytes of stack; want under %d", perSocket, limit)
	}
	t.Logf("%d bytes of stack in use per idle socket", perSocket)
}

// waitNoWriters waits until no outbox has a writer goroutine: every socket is idle.
func waitNoWriters(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 8<<20)
	for {
		writers := strings.Count(string(buf[:runtime.Stack(buf, true)]), "realtime.(*outbox).write(")
		if writers == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writer goroutines with every socket idle, want 0", writers)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReadBufferSize: gorilla reads through the buffer Upgrade hands it only when it is over
// 256 bytes; otherwise it reads through a 4 KiB buffer of its own, which costs every socket
// and which the idle wait does not see. Client frames are small: a larger buffer costs every
// socket that is reading, and the pool that parked sockets lend theirs to.
func TestReadBufferSize(t *testing.T) {
	if ReadBufferSize <= 256 || ReadBufferSize > 512 {
		t.Errorf("ReadBufferSize is %d; want over 256 (gorilla's own 4 KiB buffer otherwise) and at most 512", ReadBufferSize)
	}
}
