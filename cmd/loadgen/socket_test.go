package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeRoom is a scripted room server: the page shows message 5, the first
// socket delivers message 7 and is then dropped with closeCode; later sockets
// deliver message 8 and stay open. It records each socket's ?after=.
type fakeRoom struct {
	closeCode int
	mu        sync.Mutex
	afters    []string
}

func (f *fakeRoom) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/rooms/abc":
		w.Write([]byte(`<div id="messages"><article class="msg" data-seq="5"><p class="msg-text">old</p></article></div>`))
	case "/rooms/abc/ws":
		f.mu.Lock()
		f.afters = append(f.afters, r.URL.Query().Get("after"))
		n := len(f.afters)
		f.mu.Unlock()
		up := websocket.Upgrader{}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		if n == 1 {
			c.WriteMessage(websocket.TextMessage, appendMessageHTML(nil, 7, 1, "seven"))
			c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(f.closeCode, "bye"))
			c.ReadMessage() // wait for the client's close answer
			return
		}
		c.WriteMessage(websocket.TextMessage, appendMessageHTML(nil, 8, 1, "eight"))
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	default:
		http.NotFound(w, r)
	}
}

func runFakeRoom(t *testing.T, closeCode int) (*fakeRoom, *roomSocket, []string) {
	t.Helper()
	f := &fakeRoom{closeCode: closeCode}
	ts := httptest.NewServer(f)
	t.Cleanup(ts.Close)
	srv := newServer("fake", strings.TrimPrefix(ts.URL, "http://"), 0, "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	var wire wireStats
	sock, _, err := openRoomSocket(ctx, newPerson(srv, 0), "abc", 3, htmxBackoff, &wire)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var texts []string
	go sock.run(ctx, func(_ int64, _, text []byte) {
		mu.Lock()
		texts = append(texts, string(text))
		mu.Unlock()
	}, nil)
	// Let the script play out: both messages seen, or the socket ended.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		n := len(texts)
		mu.Unlock()
		if n >= 2 || isClosed(sock.exited) {
			break
		}
	}
	shutdownAll([]*roomSocket{sock})
	mu.Lock()
	defer mu.Unlock()
	return f, sock, texts
}

func TestSocketReconnectsWithAfter(t *testing.T) {
	f, sock, texts := runFakeRoom(t, websocket.CloseTryAgainLater) // 1013, as for a slow client
	if strings.Join(texts, ",") != "seven,eight" {
		t.Errorf("texts %q, want seven then eight", texts)
	}
	// First ?after= comes from the page, the reconnect's from the socket.
	if strings.Join(f.afters, ",") != "5,7" {
		t.Errorf("after values %q, want 5 then 7", f.afters)
	}
	if sock.reconnects["1013 bye"] != 1 || sock.endReason != "" {
		t.Errorf("reconnects %v endReason %q, want one 1013 and a clean end", sock.reconnects, sock.endReason)
	}
}

func TestSocketDoesNotReconnectAfterRefusal(t *testing.T) {
	f, sock, texts := runFakeRoom(t, 4003)
	if strings.Join(texts, ",") != "seven" || len(f.afters) != 1 {
		t.Errorf("texts %q, dials %d: a 4xxx close must not be retried", texts, len(f.afters))
	}
	if sock.endReason != "4003 bye" {
		t.Errorf("endReason %q, want 4003 bye", sock.endReason)
	}
}

func TestReconnectable(t *testing.T) {
	for code, want := range map[int]bool{1000: false, 1001: true, 1006: true, 1011: true, 1012: true, 1013: true, 4001: false, 4003: false, 4029: false} {
		if got := reconnectable(&websocket.CloseError{Code: code}); got != want {
			t.Errorf("reconnectable(%d) = %v, want %v", code, got, want)
		}
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
