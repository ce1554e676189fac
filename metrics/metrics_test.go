package metrics

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Instrument labels requests by route pattern (bounded: never the raw path), records the
// status, and keeps what streams and sockets need working through its wrapper.
func TestInstrumentLabelsByPatternAndKeepsStreamsWorking(t *testing.T) {
	m := New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /rooms/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "missing" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "room")
	})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush through the wrapper: %v", err)
		}
		io.WriteString(w, "data: hi\n\n")
	})
	mux.HandleFunc("GET /hijacked-stream", func(w http.ResponseWriter, r *http.Request) {
		// As the lobby stream does: take the connection and write the head by hand.
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack through the wrapper: %v", err)
			return
		}
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\ndata: hi\n\n")
		conn.Close()
	})
	up := websocket.Upgrader{}
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			t.Errorf("upgrade through the wrapper: %v", err)
			return
		}
		conn.WriteMessage(websocket.TextMessage, []byte("hello"))
		conn.Close()
	})
	srv := httptest.NewServer(m.Instrument(mux))
	defer srv.Close()

	for _, p := range []string{"/rooms/aaaa", "/rooms/bbbb", "/rooms/missing", "/nowhere", "/events", "/hijacked-stream"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, bufio.NewReader(resp.Body))
		resp.Body.Close()
	}
	conn, _, err := websocket.DefaultDialer.Dial(strings.Replace(srv.URL, "http", "ws", 1)+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, msg, err := conn.ReadMessage(); err != nil || string(msg) != "hello" {
		t.Fatalf("socket through the wrapper: %q %v", msg, err)
	}
	conn.Close()

	// A request is counted when its handler returns, which for the hijacked ones can be just
	// after the client has read everything: wait a little for the counts.
	wants := []struct {
		route, code string
		want        float64
	}{
		{"GET /rooms/{id}", "200", 2},
		{"GET /rooms/{id}", "404", 1},
		{"unmatched", "404", 1},
		{"GET /events", "200", 1},
		{"GET /hijacked-stream", "200", 1},
		{"GET /ws", "101", 1},
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var wrong []string
		for _, c := range wants {
			if got := testutil.ToFloat64(m.requests.WithLabelValues(c.route, c.code)); got != c.want {
				wrong = append(wrong, fmt.Sprintf("requests{route=%q,code=%q} = %v, want %v", c.route, c.code, got, c.want))
			}
		}
		if len(wrong) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(strings.Join(wrong, "\n"))
		}
	}
	// The registry serves and holds no raw path.
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	if strings.Contains(body, "aaaa") || strings.Contains(body, "missing") {
		t.Error("a raw path became a label value")
	}
	for _, name := range []string{"gifchat_http_requests_total", "gifchat_messages_total", "go_goroutines", "process_resident_memory_bytes"} {
		if !strings.Contains(body, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// Each Metrics has its own registry, so several servers can live in one process (tests).
func TestTwoInstancesDoNotShareState(t *testing.T) {
	a, b := New(), New()
	a.Message("text")
	a.RoomsLive(func() int { return 3 })
	b.RoomsLive(func() int { return 5 })
	if got := testutil.ToFloat64(b.messages.WithLabelValues("text")); got != 0 {
		t.Errorf("b counted a's message: %v", got)
	}
	if n, err := testutil.GatherAndCount(a.Registry(), "gifchat_rooms_live"); err != nil || n != 1 {
		t.Errorf("a's rooms_live: %d %v", n, err)
	}
}

// TestHijackedConnKeepsItsDescriptor: the status sniffer around a hijacked connection still
// offers the raw descriptor (room sockets peek at it to wait cheaply) and the connection
// itself (lobby streams write batches to it with one writev).
func TestHijackedConnKeepsItsDescriptor(t *testing.T) {
	m := New()
	checked := make(chan error, 1)
	srv := httptest.NewServer(m.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			checked <- err
			return
		}
		defer conn.Close()
		if _, ok := conn.(syscall.Conn); !ok {
			checked <- fmt.Errorf("the hijacked %T has no SyscallConn", conn)
			return
		}
		u, ok := conn.(interface{ NetConn() net.Conn })
		if !ok {
			checked <- fmt.Errorf("the hijacked %T has no NetConn", conn)
			return
		}
		if _, ok := u.NetConn().(*net.TCPConn); !ok {
			checked <- fmt.Errorf("NetConn is %T, want the TCP connection", u.NetConn())
			return
		}
		checked <- nil
	})))
	defer srv.Close()
	if resp, err := http.Get(srv.URL); err == nil {
		resp.Body.Close()
	}
	if err := <-checked; err != nil {
		t.Fatal(err)
	}
}
