package e2e

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gifchat/app"
	"gifchat/db/dbtest"
	"gifchat/handlers"
	"gifchat/realtime"
	"gifchat/static"
)

// Short lifetimes so "the room disappears after the grace" is seen within seconds. The
// grace also bounds how long a new room may wait for its creator's socket, which on a
// loaded CI machine (race detector, bcrypt) has taken 2.4 s: hence not shorter.
const (
	testEmptyRoomGrace = 5 * time.Second
	testLeaveDebounce  = 500 * time.Millisecond
	testMaxGIFBytes    = 5 << 20
)

// testServer is the real handler, wired the way main.go wires it, on a real loopback port.
type testServer struct {
	URL   string
	conns *connTracker
	// lobbyStreams counts open lobby streams, so a test can know every lobby is listening
	// before it changes the room list (and so sees a live update, not a first snapshot).
	lobbyStreams atomic.Int64
}

// serverOption changes how the test server answers, to stage network conditions.
type serverOption func(*connTracker)

// slowPaths delays every response whose path matches re, like a slow network would.
func slowPaths(re *regexp.Regexp, delay time.Duration) serverOption {
	return func(c *connTracker) { c.slow, c.slowBy = re, delay }
}

// startServer builds the server as main.go's run does and serves it until the test ends.
func startServer(t *testing.T, opts ...serverOption) *testServer {
	t.Helper()
	if err := static.Check(); err != nil {
		t.Fatalf("static assets missing (run the assets task): %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &testLogWriter{t: t}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	ts := &testServer{conns: &connTracker{bySession: map[string]map[net.Conn]struct{}{}}}
	for _, o := range opts {
		o(ts.conns)
	}
	// The app as main.go builds it with its default flags: metrics, rate limits on (so the
	// suite notices a limit too strict for ordinary use), the group-commit writer. Only the
	// grace and the leave debounce are shortened.
	var postgres string
	if dbtest.OnPostgres() {
		postgres = dbtest.PostgresURL(t)
	}
	a, err := app.New(ctx, app.Config{
		DataDir:  t.TempDir(),
		Postgres: postgres,
		Log:      log,
		Realtime: realtime.Config{
			EmptyRoomGrace: testEmptyRoomGrace,
			LeaveDebounce:  testLeaveDebounce,
		},
		Handlers:   handlers.Config{MaxGIFBytes: testMaxGIFBytes},
		RateLimits: &handlers.RateLimitConfig{},
		LobbyHooks: realtime.LobbyHooks{Subscribers: func(n int) { ts.lobbyStreams.Store(int64(n)) }},
	})
	if err != nil {
		cancel()
		t.Fatalf("start the app: %v", err)
	}
	handler := a.Handler

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		a.Close()
		t.Fatalf("listen: %v", err)
	}
	conns := ts.conns
	srv := &http.Server{
		Handler:           conns.wrap(log, handler),
		ConnContext:       conns.connContext,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(ln)
	}()
	// Registered first, so it runs after every browser has been closed.
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := a.Drain(sctx); err != nil {
			t.Logf("drain: %v", err)
		}
		srv.Close()
		<-served
		cancel()
		a.Close()
		logs.stop()
	})
	ts.URL = "http://" + ln.Addr().String()
	return ts
}

// waitLobbyStreams waits until at least n lobby pages hold an open event stream.
func (s *testServer) waitLobbyStreams(t *testing.T, n int, people ...*person) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for s.lobbyStreams.Load() < int64(n) {
		if time.Now().After(deadline) {
			var states []string
			for _, p := range people {
				states = append(states, p.name+": "+eval[string](t, p, `document.visibilityState + ", streams requested: " + performance.getEntriesByType('resource').filter(e => e.name.includes('/rooms/events')).map(e => e.responseStatus + ' after ' + Math.round(e.startTime) + 'ms').join('; ')`))
			}
			t.Fatalf("only %d of %d lobby pages opened their event stream (%s)", s.lobbyStreams.Load(), n, strings.Join(states, " | "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// connTracker remembers which TCP connections carried which session, so a test can cut
// one person's connections (WebSocket included) the way a dropped network would.
type connTracker struct {
	mu        sync.Mutex
	bySession map[string]map[net.Conn]struct{}
	slow      *regexp.Regexp // responses to delay, or nil
	slowBy    time.Duration
}

type connKey struct{}

func (c *connTracker) connContext(ctx context.Context, conn net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, conn)
}

func (c *connTracker) wrap(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		log.Debug("request", "method", r.Method, "path", r.URL.RequestURI(), "remote", r.RemoteAddr)
		if c.slow != nil && c.slow.MatchString(r.URL.Path) {
			time.Sleep(c.slowBy)
		}
		defer func() {
			log.Debug("request done", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "took", time.Since(start).Round(time.Millisecond))
		}()
		conn, _ := r.Context().Value(connKey{}).(net.Conn)
		if ck, err := r.Cookie(handlers.SessionCookie); err == nil && conn != nil {
			c.mu.Lock()
			set := c.bySession[ck.Value]
			if set == nil {
				set = map[net.Conn]struct{}{}
				c.bySession[ck.Value] = set
			}
			set[conn] = struct{}{}
			c.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

// cut ends every connection that carried the session, as a network cut does, and returns
// how many it ended. A TCP connection is shut down both ways: the browser sees it end, and
// the server reads its end as it would a peer going away (an idle socket's poller is told,
// idlewait_linux.go) and closes it itself. Closing the descriptor under the server instead
// is not something a network does: a parked socket would never hear of it.
func (c *connTracker) cut(session string) int {
	c.mu.Lock()
	set := c.bySession[session]
	delete(c.bySession, session)
	c.mu.Unlock()
	n := 0
	for conn := range set {
		if tc, ok := conn.(*net.TCPConn); ok {
			if tc.CloseRead() == nil && tc.CloseWrite() == nil {
				n++
			}
			continue
		}
		if conn.Close() == nil {
			n++
		}
	}
	return n
}

// testLogWriter keeps the server's log and prints it only when the test failed: quiet
// when green, the whole story when red. Lines written after the test are dropped.
type testLogWriter struct {
	mu      sync.Mutex
	t       *testing.T
	lines   []string
	stopped bool
}

var _ io.Writer = (*testLogWriter)(nil)

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.lines = append(w.lines, strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testLogWriter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.t.Failed() {
		const keep = 200
		lines := w.lines
		if len(lines) > keep {
			lines = lines[len(lines)-keep:]
		}
		w.t.Logf("server log (last %d lines):\n  %s", len(lines), strings.Join(lines, "\n  "))
	}
}
