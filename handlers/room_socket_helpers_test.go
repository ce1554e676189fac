package handlers_test

// The room's WebSocket as the tests use it: read in the background, so a test can wait for
// a fragment, check that one never came, and see the close code.

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// peerWait bounds every wait for something that must happen; a hang fails the test. It is
// not a speed check: a healthy run takes milliseconds.
const peerWait = 15 * time.Second

// roomPeer is one room socket read in the background.
type roomPeer struct {
	conn *websocket.Conn

	mu     sync.Mutex
	text   strings.Builder // every frame received, in order
	notify chan struct{}   // closed and replaced whenever something arrives
	done   bool
	code   int // close code (0: the socket failed without a close frame)
	reason string
}

// watch starts reading conn in the background.
func watch(conn *websocket.Conn) *roomPeer {
	p := &roomPeer{conn: conn, notify: make(chan struct{})}
	go func() {
		for {
			_, data, err := conn.ReadMessage()
			p.mu.Lock()
			if err != nil {
				p.done = true
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					p.code, p.reason = ce.Code, ce.Text
				}
			} else {
				p.text.Write(data)
				p.text.WriteByte('\n')
			}
			close(p.notify)
			p.notify = make(chan struct{})
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return p
}

// send writes one JSON frame as htmx does.
func (p *roomPeer) send(t *testing.T, frame map[string]any) {
	t.Helper()
	if _, ok := frame["headers"]; !ok {
		frame["headers"] = map[string]string{"HX-Request": "true"}
	}
	b, err := json.Marshal(frame)
	if err != nil {
		t.Fatal(err)
	}
	p.conn.SetWriteDeadline(time.Now().Add(peerWait))
	if err := p.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatalf("send frame: %v", err)
	}
}

// say sends a text message frame.
func (p *roomPeer) say(t *testing.T, text string) {
	t.Helper()
	p.send(t, map[string]any{"action": "say", "text": text})
}

// received returns everything received so far.
func (p *roomPeer) received() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.text.String()
}

// waitUntil waits until cond holds for what was received, failing the test after peerWait.
func (p *roomPeer) waitUntil(t *testing.T, what string, cond func(received string) bool) string {
	t.Helper()
	deadline := time.After(peerWait)
	for {
		p.mu.Lock()
		got, done, ch := p.text.String(), p.done, p.notify
		p.mu.Unlock()
		if cond(got) {
			return got
		}
		if done {
			t.Fatalf("socket closed (code %d %q) before %s; received:\n%s", p.code, p.reason, what, got)
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no %s within %v; received:\n%s", what, peerWait, got)
		}
	}
}

// waitFor waits until the received text contains s.
func (p *roomPeer) waitFor(t *testing.T, s string) string {
	t.Helper()
	return p.waitUntil(t, "\""+s+"\"", func(got string) bool { return strings.Contains(got, s) })
}

// waitCount waits until s has arrived n times.
func (p *roomPeer) waitCount(t *testing.T, s string, n int) string {
	t.Helper()
	return p.waitUntil(t, "\""+s+"\" ×"+itoaTest(n), func(got string) bool { return strings.Count(got, s) >= n })
}

// waitClose waits for the socket to end and returns the close code and reason.
func (p *roomPeer) waitClose(t *testing.T) (int, string) {
	t.Helper()
	deadline := time.After(peerWait)
	for {
		p.mu.Lock()
		done, code, reason, ch := p.done, p.code, p.reason, p.notify
		p.mu.Unlock()
		if done {
			return code, reason
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("socket still open after %v; received:\n%s", peerWait, p.received())
		}
	}
}

func itoaTest(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// memberPanel marks the whole member list, which a socket receives once admitted.
const memberPanel = `hx-target="#members" hx-swap="outerHTML"`

// joined dials the room as person and waits for the member list, so the person is surely
// admitted before the test goes on.
func (ts *testServer) joined(t *testing.T, person *http.Client, roomID string) *roomPeer {
	t.Helper()
	p := watch(ts.dialRoom(t, person, roomID, 0))
	p.waitFor(t, memberPanel)
	return p
}

// readUntilClose reads a socket until it closes and returns the close code.
func readUntilClose(t *testing.T, conn *websocket.Conn) int {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				return ce.Code
			}
			t.Fatalf("socket ended without a close frame: %v", err)
		}
	}
}
