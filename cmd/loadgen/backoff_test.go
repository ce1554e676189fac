package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// htmx's schedule: 500 ms doubling to a 60 s cap, moved by up to ±30 % of itself, for as many
// attempts as it takes.
func TestHTMXBackoffSchedule(t *testing.T) {
	for attempt, base := range map[int]time.Duration{
		1: 500 * time.Millisecond, 2: time.Second, 3: 2 * time.Second, 4: 4 * time.Second,
		7: 32 * time.Second, 8: 60 * time.Second, 9: 60 * time.Second, 50: 60 * time.Second, 1000: 60 * time.Second,
	} {
		lo, mid, hi := htmxBackoff.delay(attempt, 0), htmxBackoff.delay(attempt, 0.5), htmxBackoff.delay(attempt, 1)
		if want := base * 7 / 10; lo != want {
			t.Errorf("attempt %d: shortest wait %v, want %v (−30%%)", attempt, lo, want)
		}
		if mid != base {
			t.Errorf("attempt %d: middle wait %v, want %v", attempt, mid, base)
		}
		if want := base * 13 / 10; hi != want {
			t.Errorf("attempt %d: longest wait %v, want %v (+30%%)", attempt, hi, want)
		}
	}
	// Drawn waits stay in the band, and fill it.
	for _, attempt := range []int{1, 3, 10} {
		base := min(500*time.Millisecond<<(attempt-1), 60*time.Second)
		var least, most time.Duration = time.Hour, 0
		for range 2000 {
			d := htmxBackoff.wait(attempt)
			if d < base*7/10 || d > base*13/10 {
				t.Fatalf("attempt %d: wait %v outside [%v, %v]", attempt, d, base*7/10, base*13/10)
			}
			least, most = min(least, d), max(most, d)
		}
		if least > base*75/100 || most < base*125/100 {
			t.Errorf("attempt %d: 2000 waits only spread over [%v, %v] of ±30%% around %v", attempt, least, most, base)
		}
	}
	// The cap: never more than 60 s + 30 %, however many attempts.
	for attempt := 1; attempt < 200; attempt++ {
		if d := htmxBackoff.delay(attempt, 0.999999); d > 78*time.Second {
			t.Fatalf("attempt %d: %v, above the 60 s cap + 30 %%", attempt, d)
		}
	}
}

func TestFastBackoffSchedule(t *testing.T) {
	for attempt, base := range map[int]time.Duration{1: 50 * time.Millisecond, 2: 100 * time.Millisecond, 6: 1600 * time.Millisecond, 7: 2 * time.Second, 40: 2 * time.Second} {
		if lo, hi := fastBackoff.delay(attempt, 0), fastBackoff.delay(attempt, 0.999999); lo != base/2 || hi > base || hi < base*99/100 {
			t.Errorf("attempt %d: waits [%v, %v], want [%v, %v)", attempt, lo, hi, base/2, base)
		}
	}
}

// htmx reconnects after its reconnectCodes and after a connection that just ends; the fast
// back-off after anything but 1000 and 4xxx.
func TestBackoffReconnectCodes(t *testing.T) {
	for code, want := range map[int]bool{1000: false, 1001: true, 1002: false, 1005: true, 1006: true, 1008: false, 1009: false,
		1011: true, 1012: true, 1013: true, 1014: true, 1015: false, 4003: false, 4029: false} {
		if got := htmxBackoff.reconnects(&websocket.CloseError{Code: code}); got != want {
			t.Errorf("htmx after %d: %v, want %v", code, got, want)
		}
		if got, want := fastBackoff.reconnects(&websocket.CloseError{Code: code}), code != 1000 && code < 4000; got != want {
			t.Errorf("fast after %d: %v, want %v", code, got, want)
		}
	}
	if !htmxBackoff.reconnects(errors.New("read: connection reset by peer")) {
		t.Error("htmx does not reconnect after a reset connection")
	}
	if b, err := backoffByName("htmx"); b != htmxBackoff || err != nil {
		t.Errorf("backoffByName(htmx) = %v, %v", b, err)
	}
	if _, err := backoffByName("linear"); err == nil {
		t.Error("backoffByName accepted linear")
	}
}

// flakyRoom answers the socket's dials from a script: "close" accepts and then closes with
// 1012 (a restart), "503" refuses the handshake, "stay" accepts and keeps the socket. It
// notes when each dial came and when each refusal or close went out.
type flakyRoom struct {
	script []string
	mu     sync.Mutex
	dials  []time.Time
	ends   []time.Time // when dial i's socket was closed or refused
}

func (f *flakyRoom) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/rooms/abc":
		w.Write([]byte(`<article class="msg" data-seq="5" data-kind="text"><p class="msg-text">old</p></article>`))
		return
	case "/rooms/abc/ws":
	default:
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	f.dials = append(f.dials, time.Now())
	step := "stay"
	if n := len(f.dials); n <= len(f.script) {
		step = f.script[n-1]
	}
	f.mu.Unlock()
	end := func() {
		f.mu.Lock()
		f.ends = append(f.ends, time.Now())
		f.mu.Unlock()
	}
	if step == "503" {
		end()
		http.Error(w, "restarting", http.StatusServiceUnavailable)
		return
	}
	c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	if step == "close" {
		end()
		c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseServiceRestart, ""))
		c.ReadMessage()
		return
	}
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			return
		}
	}
}

// A socket dropped by a restart retries like htmx: 500 ms, then 1 s and 2 s while the
// handshake is refused (a refusal is retried the same way), each ±30 %; the back-off starts
// over once a socket has opened.
func TestSocketFollowsHTMXBackoff(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the real back-off, about 4 s")
	}
	f := &flakyRoom{script: []string{"close", "503", "503", "close", "stay"}}
	ts := httptest.NewServer(f)
	t.Cleanup(ts.Close)
	srv := newServer("fake", strings.TrimPrefix(ts.URL, "http://"), 0, "")
	ctx := testCtx(t)
	var wire wireStats
	sock, _, err := openRoomSocket(ctx, newPerson(srv, 0), "abc", -1, htmxBackoff, &wire)
	if err != nil {
		t.Fatal(err)
	}
	go sock.run(ctx, nil, nil)
	deadline := time.Now().Add(20 * time.Second)
	for {
		f.mu.Lock()
		n := len(f.dials)
		f.mu.Unlock()
		if n == 5 && sock.isUp() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d dials after 20 s, want 5", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	shutdownAll([]*roomSocket{sock})
	f.mu.Lock()
	defer f.mu.Unlock()
	// The wait before dial i+1 runs from the end of dial i (its close or refusal).
	slack := 400 * time.Millisecond // the client notices the end a little later; -race, a busy machine
	for i, base := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 500 * time.Millisecond} {
		gap := f.dials[i+1].Sub(f.ends[i])
		if gap < base*7/10 || gap > base*13/10+slack {
			t.Errorf("wait before dial %d: %v, want %v ±30%%", i+2, gap, base)
		}
	}
	if n := sock.attempts.Load(); n != 4 {
		t.Errorf("%d reconnect attempts, want 4", n)
	}
	if sock.dialFailures["HTTP 503 Service Unavailable"] != 2 || sock.reconnects["1012"] != 2 {
		t.Errorf("dial failures %v, closes %v: want two 503s and two 1012s", sock.dialFailures, sock.reconnects)
	}
}
