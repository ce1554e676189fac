package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeInstance is a backend that says who it is, can be made unhealthy, and speaks the two
// long-lived protocols gifchat does: a WebSocket echo and an event stream.
type fakeInstance struct {
	name    string
	srv     *httptest.Server
	down    atomic.Bool   // /healthz answers 503
	slow    atomic.Int64  // /healthz answers after this many nanoseconds
	release chan struct{} // closed by the test: the event stream may end
	headers chan http.Header
}

func startInstance(t *testing.T, name string) *fakeInstance {
	t.Helper()
	f := &fakeInstance{name: name, release: make(chan struct{}), headers: make(chan http.Header, 16)}
	upgrader := websocket.Upgrader{} // default CheckOrigin: Origin must match Host
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(time.Duration(f.slow.Load())):
		case <-r.Context().Done():
			return
		}
		if f.down.Load() {
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/who", func(w http.ResponseWriter, r *http.Request) {
		select {
		case f.headers <- r.Header.Clone():
		default:
		}
		fmt.Fprint(w, f.name)
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			kind, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(kind, append([]byte(f.name+": "), data...)); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: hello from %s\n\n", f.name)
		http.NewResponseController(w).Flush()
		select { // the stream stays open: only a flush can have carried the event
		case <-f.release:
		case <-r.Context().Done():
		}
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		f.srv.CloseClientConnections()
		f.srv.Close()
	})
	return f
}

// startProxy runs the proxy on a free port in front of the instances, checking their health
// every interval, and returns its base URL once the first checks are done.
func startProxy(t *testing.T, interval time.Duration, instances ...*fakeInstance) string {
	t.Helper()
	var urls []string
	for _, f := range instances {
		urls = append(urls, f.srv.URL)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	args := []string{"-addr", "127.0.0.1:0", "-backends", strings.Join(urls, ","), "-health-interval", interval.String()}
	go func() { done <- run(ctx, args, io.Discard, ready) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("proxy: %v", err)
		}
	})
	select {
	case addr := <-ready:
		return "http://" + addr
	case err := <-done:
		t.Fatalf("proxy did not start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("proxy did not start within 10s")
	}
	return ""
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// whoAnswers asks the proxy n times which instance answered.
func whoAnswers(t *testing.T, proxy string, n int) []string {
	t.Helper()
	var got []string
	for range n {
		status, body := get(t, proxy+"/who")
		if status != http.StatusOK {
			t.Fatalf("GET /who: %d %q", status, body)
		}
		got = append(got, body)
	}
	return got
}

func TestRoundRobin(t *testing.T) {
	a, b, c := startInstance(t, "a"), startInstance(t, "b"), startInstance(t, "c")
	proxy := startProxy(t, time.Hour, a, b, c)
	got := whoAnswers(t, proxy, 6)
	if strings.Join(got, "") != "abcabc" {
		t.Errorf("answered by %v, want a, b, c in turn twice", got)
	}
}

func TestForwardedHeadersAndHost(t *testing.T) {
	a := startInstance(t, "a")
	proxy := startProxy(t, time.Hour, a)
	req, _ := http.NewRequest(http.MethodGet, proxy+"/who", nil)
	req.Host = "chat.example:8005"
	// What a client claims is not passed on: the instances trust these headers.
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := <-a.headers
	if got := h.Values("X-Forwarded-For"); len(got) != 1 || got[0] != "127.0.0.1" {
		t.Errorf("X-Forwarded-For %q, want only the client's address 127.0.0.1", got)
	}
	if got := h.Get("X-Forwarded-Proto"); got != "http" {
		t.Errorf("X-Forwarded-Proto %q, want http", got)
	}
	if got := h.Get("X-Forwarded-Host"); got != "chat.example:8005" {
		t.Errorf("X-Forwarded-Host %q, want the browser's Host", got)
	}
}

func TestWebSocketThroughProxy(t *testing.T) {
	a := startInstance(t, "a")
	proxy := startProxy(t, time.Hour, a)
	wsURL := "ws" + strings.TrimPrefix(proxy, "http") + "/ws"
	// The browser's Origin names the proxy; the instance accepts it only if the proxy kept
	// the browser's Host.
	conn, resp, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Origin": {proxy}})
	if err != nil {
		status := ""
		if resp != nil {
			status = resp.Status
		}
		t.Fatalf("dial through proxy: %v %s", err, status)
	}
	defer conn.Close()
	for _, text := range []string{"hello", "again"} {
		if err := conn.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, data, err := conn.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if want := "a: " + text; string(data) != want {
			t.Errorf("echo %q, want %q", data, want)
		}
	}
}

func TestEventStreamIsFlushed(t *testing.T) {
	a := startInstance(t, "a")
	defer close(a.release)
	proxy := startProxy(t, time.Hour, a)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, proxy+"/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	// The backend holds the stream open after its first event: the line arrives only if the
	// proxy flushed it rather than waiting for more.
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		t.Fatalf("no event through the proxy while the stream is open: %v", err)
	}
	if line != "data: hello from a\n" {
		t.Errorf("first line %q", line)
	}
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func only(names []string, name string) bool {
	for _, n := range names {
		if n != name {
			return false
		}
	}
	return true
}

func TestUnhealthyBackendSkippedAndBack(t *testing.T) {
	a, b := startInstance(t, "a"), startInstance(t, "b")
	proxy := startProxy(t, 20*time.Millisecond, a, b)

	b.down.Store(true)
	waitFor(t, "b out of turn", func() bool { return only(whoAnswers(t, proxy, 2), "a") })
	if got := whoAnswers(t, proxy, 6); !only(got, "a") {
		t.Errorf("answered by %v while b fails its health check, want only a", got)
	}

	b.down.Store(false)
	waitFor(t, "b back in turn", func() bool { return !only(whoAnswers(t, proxy, 2), "a") })
	got := strings.Join(whoAnswers(t, proxy, 4), "")
	if got != "abab" && got != "baba" {
		t.Errorf("answered by %q after b recovered, want a and b in turn", got)
	}
}

// TestSlowBackendKeptUntilSlowAgain: an instance that misses a health check's deadline now
// and then (busy with a crowd coming back) stays in turn; one that misses slowChecks in a row
// is taken out, and comes back once it answers in time.
func TestSlowBackendKeptUntilSlowAgain(t *testing.T) {
	const interval = 100 * time.Millisecond
	a, b := startInstance(t, "a"), startInstance(t, "b")
	proxy := startProxy(t, interval, a, b)
	// Late for one interval in every four: one or two checks in a row miss, never slowChecks.
	stopFlip := make(chan struct{})
	flipped := make(chan struct{})
	go func() {
		defer close(flipped)
		for {
			b.slow.Store(int64(interval * 3 / 2))
			select {
			case <-stopFlip:
				return
			case <-time.After(interval):
			}
			b.slow.Store(0)
			select {
			case <-stopFlip:
				return
			case <-time.After(3 * interval):
			}
		}
	}()
	deadline := time.Now().Add(20 * interval)
	for time.Now().Before(deadline) {
		if got := whoAnswers(t, proxy, 2); only(got, "a") {
			t.Fatalf("b, late to some health checks but never %d in a row, was taken out of turn", slowChecks)
		}
		time.Sleep(interval / 4)
	}
	close(stopFlip)
	<-flipped

	b.slow.Store(int64(interval * 3 / 2)) // late every time
	start := time.Now()
	waitFor(t, "b out of turn", func() bool { return only(whoAnswers(t, proxy, 2), "a") })
	if took := time.Since(start); took < (slowChecks-1)*interval {
		t.Errorf("b was taken out %v after it began answering late, before %d checks in a row could miss", took, slowChecks)
	}
	b.slow.Store(0)
	waitFor(t, "b back in turn", func() bool { return !only(whoAnswers(t, proxy, 2), "a") })
}

// TestKilledBackendSkipped: an instance that is gone before its health check notices costs
// the browsers nothing on GETs (pages, socket reconnects, event streams): the refused dial
// takes it out of turn and the request goes to the next. A request with a body is not sent
// again; it gets a 502 once, and the next goes elsewhere.
func TestKilledBackendSkipped(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			a, b := startInstance(t, "a"), startInstance(t, "b")
			// Health checks far apart: only the refused connection can take b out of turn.
			proxy := startProxy(t, time.Hour, a, b)
			b.srv.CloseClientConnections()
			b.srv.Close()
			var got []string
			for range 4 {
				var body io.Reader
				if method == http.MethodPost {
					body = strings.NewReader("text=hi")
				}
				req, _ := http.NewRequest(method, proxy+"/who", body)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusBadGateway {
					got = append(got, "502")
				} else {
					got = append(got, string(data))
				}
			}
			want := "a a a a"
			if method == http.MethodPost {
				want = "a 502 a a"
			}
			if strings.Join(got, " ") != want {
				t.Errorf("answers %v, want %s", got, want)
			}
		})
	}
}

func TestNoHealthyBackend(t *testing.T) {
	a := startInstance(t, "a")
	a.down.Store(true)
	proxy := startProxy(t, time.Hour, a)
	resp, err := http.Get(proxy + "/who")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadGateway || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") ||
		strings.TrimSpace(string(body)) != "no healthy gifchat instance" {
		t.Errorf("got %s %q %q, want 502 with a plain reason", resp.Status, resp.Header.Get("Content-Type"), body)
	}
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{nil, true},
		{[]string{"-backends", "http://127.0.0.1:1"}, true},
		{[]string{"-backends", ""}, false},
		{[]string{"-backends", "127.0.0.1:8011"}, false},
		{[]string{"-backends", "ftp://x:1"}, false},
		{[]string{"-backends", "http://x:1/prefix"}, false},
		{[]string{"-health-interval", "0s"}, false},
		{[]string{"extra"}, false},
	} {
		_, err := parseFlags(tc.args, io.Discard)
		if (err == nil) != tc.ok {
			t.Errorf("%v: err %v, want ok %v", tc.args, err, tc.ok)
		}
	}
}
