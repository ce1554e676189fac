package realtime

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"gifchat/cluster"
	"gifchat/db"
	"gifchat/db/dbtest"
	"gifchat/i18n"
)

// testEnv is a real store on a file, a lobby, the room registry and an HTTP server whose
// socket route admits the identity named in the query (the session layer is the handlers'
// business and is tested there).
type testEnv struct {
	t       *testing.T
	dir     string
	store   *db.Store
	lobby   *Lobby
	rooms   *Rooms
	srv     *httptest.Server
	renders atomic.Int64
	slow    atomic.Int64
}

func newEnv(t *testing.T, cfg Config) *testEnv {
	t.Helper()
	return newEnvAt(t, t.TempDir(), cfg)
}

// newEnvB is newEnv for benchmarks.
func newEnvB(b *testing.B, cfg Config) *testEnv {
	b.Helper()
	return newEnvTB(b, b.TempDir(), cfg)
}

func (e *testEnv) personB(b *testing.B, name string) db.Identity {
	n := personSeq.Add(1)
	id, err := e.store.CreateIdentitySession(context.Background(), fmt.Sprintf("token-%s-%d-%d", name, n, time.Now().UnixNano()), fmt.Sprintf("%s-%d", name, n), "c1")
	if err != nil {
		b.Fatal(err)
	}
	return id
}

func newEnvAt(t *testing.T, dir string, cfg Config) *testEnv {
	t.Helper()
	e := newEnvTB(t, dir, cfg)
	e.t = t
	return e
}

func newEnvTB(t testing.TB, dir string, cfg Config) *testEnv {
	t.Helper()
	var store *db.Store
	var err error
	if dbtest.OnPostgres() {
		store, err = db.OpenPostgres(context.Background(), dbtest.PostgresURLFor(t, dir), db.PostgresOptions{})
	} else {
		store, err = db.Open(context.Background(), filepath.Join(dir, "test.db"), db.Options{Synchronous: "NORMAL"})
	}
	if err != nil {
		t.Fatal(err)
	}
	return startEnv(t, dir, store, cfg, nil)
}

// startEnv runs the hubs on store (closed with the env), as one instance of a cluster when
// broker is not nil.
func startEnv(t testing.TB, dir string, store *db.Store, cfg Config, broker cluster.Broker) *testEnv {
	e := &testEnv{dir: dir, store: store}
	cfg.Hooks.Render = func() { e.renders.Add(1) }
	cfg.Hooks.SlowClient = func() { e.slow.Add(1) }
	e.lobby = NewLobby(LobbyHooks{})
	e.rooms = NewRooms(store, e.lobby, cfg, slog.New(slog.DiscardHandler), nil)
	if broker != nil {
		e.rooms.SetCluster(broker, broker.Instance(), ClusterHooks{})
	}
	if err := e.rooms.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	up := websocket.Upgrader{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, _ := strconv.ParseInt(r.URL.Query().Get("who"), 10, 64)
		after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
		ident, err := store.IdentityByID(r.Context(), who)
		if err != nil {
			http.Error(w, "no such identity", http.StatusUnauthorized)
			return
		}
		if l, ok := i18n.Parse(r.URL.Query().Get("lang")); ok { // as handlers' withLang would
			r = r.WithContext(i18n.With(r.Context(), l))
		}
		sock, err := Upgrade(&up, w, r)
		if err != nil {
			return
		}
		// The client's address is the test's to choose (?addr=), as a proxy would tell it.
		e.rooms.Serve(sock, r.URL.Query().Get("room"), ident, r.URL.Query().Get("addr"), after, nil)
	}))
	t.Cleanup(e.close)
	return e
}

var closeOnce sync.Map

func (e *testEnv) close() {
	if _, done := closeOnce.LoadOrStore(e, true); done {
		return
	}
	e.srv.CloseClientConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.rooms.Shutdown(ctx)
	e.srv.Close()
	e.store.Close()
}

var personSeq atomic.Int64

func (e *testEnv) person(name string) db.Identity {
	e.t.Helper()
	n := personSeq.Add(1)
	id, err := e.store.CreateIdentitySession(context.Background(), fmt.Sprintf("token-%s-%d-%d", name, n, time.Now().UnixNano()), fmt.Sprintf("%s-%d", name, n), "c1")
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *testEnv) room(owner db.Identity, capacity int, passwordHash string) db.Room {
	e.t.Helper()
	r, err := e.store.CreateRoom(context.Background(), db.Room{
		ID: fmt.Sprintf("room%012d", personSeq.Add(1)), Title: "Test room", Capacity: capacity, OwnerID: owner.ID, PasswordHash: passwordHash,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.rooms.Add(r)
	return r
}

// sock is a test client: a real gorilla dialer and a goroutine collecting frames.
type sock struct {
	t      *testing.T
	conn   *websocket.Conn
	mu     sync.Mutex
	frames []string
	msgs   []seenMsg
	notify chan struct{}
	closed chan struct{}
	code   int
	reason string
}

func (e *testEnv) dial(who db.Identity, roomID string, after int64) *sock {
	e.t.Helper()
	return e.dialFrom(who, roomID, after, "")
}

// dialFrom is dial from a client address (as bars key it; "" unknown).
func (e *testEnv) dialFrom(who db.Identity, roomID string, after int64, addr string) *sock {
	e.t.Helper()
	return e.dialWith(who, roomID, after, addr, i18n.En)
}

// dialShowing is dial for a page whose members panel has the fingerprint digest (?panel=).
func (e *testEnv) dialShowing(who db.Identity, roomID string, after int64, digest string) *sock {
	e.t.Helper()
	return e.dialURL(fmt.Sprintf("/ws?room=%s&who=%d&after=%d&panel=%s", roomID, who.ID, after, url.QueryEscape(digest)))
}

// dialIn is dial for a browser that reads lang.
func (e *testEnv) dialIn(who db.Identity, roomID string, lang i18n.Lang) *sock {
	e.t.Helper()
	return e.dialWith(who, roomID, 0, "", lang)
}

func (e *testEnv) dialWith(who db.Identity, roomID string, after int64, addr string, lang i18n.Lang) *sock {
	e.t.Helper()
	return e.dialURL(fmt.Sprintf("/ws?room=%s&who=%d&after=%d&addr=%s&lang=%s", roomID, who.ID, after, url.QueryEscape(addr), lang.Code()))
}

// dialURL dials the test server's socket at path (with its query) and reads it.
func (e *testEnv) dialURL(path string) *sock {
	e.t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(e.srv.URL, "http")+path, nil)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	s := &sock{t: e.t, conn: conn, notify: make(chan struct{}, 1), closed: make(chan struct{})}
	go s.read()
	e.t.Cleanup(func() { conn.Close() })
	return s
}

func (s *sock) read() {
	defer close(s.closed)
	for {
		_, data, err := s.conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if ok := asClose(err, &ce); ok {
				s.mu.Lock()
				s.code, s.reason = ce.Code, ce.Text
				s.mu.Unlock()
			}
			return
		}
		parsed := parseMessages(string(data))
		s.mu.Lock()
		if len(data) < 64<<10 {
			s.frames = append(s.frames, string(data))
		}
		s.msgs = append(s.msgs, parsed...)
		s.mu.Unlock()
		select {
		case s.notify <- struct{}{}:
		default:
		}
	}
}

func asClose(err error, target **websocket.CloseError) bool {
	ce, ok := err.(*websocket.CloseError)
	if ok {
		*target = ce
	}
	return ok
}

func (s *sock) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.frames, "")
}

// waitFor waits until the received text satisfies ok.
func (s *sock) waitFor(what string, ok func(string) bool) {
	s.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		if ok(s.text()) {
			return
		}
		select {
		case <-s.notify:
		case <-s.closed:
			if ok(s.text()) {
				return
			}
			s.t.Fatalf("socket closed (code %d %q) while waiting for %s; got:\n%s", s.code, s.reason, what, clip(s.text()))
		case <-deadline:
			s.t.Fatalf("timed out waiting for %s; got:\n%s", what, clip(s.text()))
		}
	}
}

func (s *sock) waitText(sub string) {
	s.t.Helper()
	s.waitFor(fmt.Sprintf("%q", sub), func(txt string) bool { return strings.Contains(txt, sub) })
}

// waitClose waits for the server's close frame and returns its code and reason.
func (s *sock) waitClose() (int, string) {
	s.t.Helper()
	select {
	case <-s.closed:
	case <-time.After(5 * time.Second):
		s.t.Fatalf("socket not closed; got:\n%s", clip(s.text()))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.code, s.reason
}

func (s *sock) say(text string) {
	s.t.Helper()
	s.send(fmt.Sprintf(`{"action":"say","text":%q,"headers":{"HX-Request":"true"}}`, text))
}

func (s *sock) send(frame string) {
	s.t.Helper()
	if err := s.conn.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		s.t.Fatalf("send: %v", err)
	}
}

type seenMsg struct {
	ID   int64
	Kind string
	Text string
}

// messages lists the chat messages received, in arrival order.
func (s *sock) messages() []seenMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seenMsg(nil), s.msgs...)
}

func parseMessages(frame string) []seenMsg {
	// A plain scan rather than a regexp: bulk tests push megabytes through here under -race.
	var out []seenMsg
	for {
		i := strings.Index(frame, `<article id="msg-`)
		if i < 0 {
			return out
		}
		frame = frame[i+len(`<article id="msg-`):]
		end := strings.IndexByte(frame, '"')
		id, _ := strconv.ParseInt(frame[:end], 10, 64)
		m := seenMsg{ID: id}
		if k := strings.Index(frame, `data-kind="`); k >= 0 {
			rest := frame[k+len(`data-kind="`):]
			m.Kind = rest[:strings.IndexByte(rest, '"')]
		}
		closeAt := strings.Index(frame, "</article>")
		body := frame[:closeAt]
		if t := strings.Index(body, `<p class="msg-text"`); t >= 0 {
			txt := body[t:]
			txt = txt[strings.IndexByte(txt, '>')+1:]
			m.Text = html.UnescapeString(txt[:strings.Index(txt, "</p>")])
		}
		out = append(out, m)
		frame = frame[closeAt:]
	}
}

func (s *sock) texts(kind string) []string {
	var out []string
	for _, m := range s.messages() {
		if kind == "" || m.Kind == kind {
			out = append(out, m.Text)
		}
	}
	return out
}

func (s *sock) countText(sub string) int {
	return strings.Count(s.text(), sub)
}

// clip keeps failure output readable.
func clip(s string) string {
	if len(s) > 3000 {
		return s[:1500] + "\n…\n" + s[len(s)-1500:]
	}
	return s
}

// waitForLong polls cond for bulk tests whose frames are not kept as text.
func (s *sock) waitForLong(what string, limit time.Duration, cond func() bool) {
	s.t.Helper()
	deadline := time.After(limit)
	for !cond() {
		select {
		case <-s.notify:
		case <-s.closed:
			if cond() {
				return
			}
			s.t.Fatalf("socket closed (code %d %q) while waiting for %s", s.code, s.reason, what)
		case <-deadline:
			s.t.Fatalf("timed out waiting for %s (%d messages so far)", what, len(s.messages()))
		}
	}
}
