package realtime

import (
	"strings"
	"testing"
	"time"

	"gifchat/i18n"
)

// ChanStream is a lobby stream for tests, the HTTP response's stand-in: each event arrives on
// C as the HTML it framed (a heartbeat as ":ping"), and Send blocks while C is full, like a
// browser that has stopped reading. C is closed when the stream is.
type ChanStream struct {
	C chan string
	// Sending receives a value each time a Send starts, if there is room.
	Sending chan struct{}
}

// NewChanStream returns a stream whose C holds n events.
func NewChanStream(n int) *ChanStream {
	return &ChanStream{C: make(chan string, n), Sending: make(chan struct{}, 1)}
}

func (s *ChanStream) Send(events [][]byte) error {
	select {
	case s.Sending <- struct{}{}:
	default:
	}
	for _, e := range events {
		s.C <- unframeSSE(string(e))
	}
	return nil
}

func (s *ChanStream) Close() { close(s.C) }

// unframeSSE undoes frameSSE; a comment becomes ":ping".
func unframeSSE(event string) string {
	if strings.HasPrefix(event, ":") {
		return ":" + strings.TrimSpace(strings.TrimPrefix(event, ":"))
	}
	var lines []string
	for _, line := range strings.Split(strings.TrimSuffix(event, "\n\n"), "\n") {
		lines = append(lines, strings.TrimPrefix(line, "data: "))
	}
	return strings.Join(lines, "\n")
}

// TestLobbyHeartbeat: every stream gets a comment line each heartbeat, from one timer that
// stops when the last subscriber has gone.
func TestLobbyHeartbeat(t *testing.T) {
	l := NewLobby(LobbyHooks{})
	l.heartbeat = 20 * time.Millisecond
	a, b := NewChanStream(8), NewChanStream(8)
	subA, _ := l.Subscribe(a, i18n.En)
	subB, _ := l.Subscribe(b, i18n.En)
	for _, s := range []*ChanStream{a, b} {
		<-s.C // the snapshot
		for range 2 {
			select {
			case ev := <-s.C:
				if ev != ":ping" {
					t.Fatalf("got %q, want a heartbeat", ev)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no heartbeat")
			}
		}
	}
	l.Unsubscribe(subA)
	l.Unsubscribe(subB)
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		stopped := l.beat == nil
		l.mu.Unlock()
		if stopped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the heartbeat timer runs on with no subscribers")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFrameSSE(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"<p>one</p>", "data: <p>one</p>\n\n"},
		{"<ul>\n<li>a</li>\n</ul>", "data: <ul>\ndata: <li>a</li>\ndata: </ul>\n\n"},
		{"a\r\nb\r\n", "data: a\ndata: b\n\n"},
	} {
		if got := string(frameSSE([]byte(tc.in))); got != tc.want {
			t.Errorf("frameSSE(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestFrameSSELoneCR: a lone \r ends a line for a browser, as \n and \r\n do, so it must end
// a data: line here too; left inside one, the rest of the payload would become a field of
// its own (here an "event:" that would rename the event).
func TestFrameSSELoneCR(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a\rb", "data: a\ndata: b\n\n"},
		{"<p>x\revent: evil\rdata: y</p>", "data: <p>x\ndata: event: evil\ndata: data: y</p>\n\n"},
		{"a\r\rb", "data: a\ndata: \ndata: b\n\n"},
		{"a\n\rb", "data: a\ndata: \ndata: b\n\n"},
		{"a\r", "data: a\n\n"},
		{"\r", "data: \n\n"},
	} {
		got := string(frameSSE([]byte(tc.in)))
		if got != tc.want {
			t.Errorf("frameSSE(%q) = %q, want %q", tc.in, got, tc.want)
		}
		// Whatever the payload, the event has only data: lines and ends in one blank line.
		lines := strings.Split(strings.TrimSuffix(got, "\n\n"), "\n")
		for _, l := range lines {
			if !strings.HasPrefix(l, "data: ") || strings.ContainsRune(l, '\r') {
				t.Errorf("frameSSE(%q): line %q is not one data: line", tc.in, l)
			}
		}
	}
}
