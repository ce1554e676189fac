package handlers_test

// The shared test server of package handlers. Every test here talks to the real app over a
// real loopback connection: the app as main.go builds it (gifchat/app: a db.Store on a file
// in t.TempDir(), the GIF store, the lobby, the room hubs behind the group-commit writer,
// metrics, the handler), served by httptest. One thing differs from main's defaults: rate
// limits are off (tests create rooms and posts in loops); withRateLimits puts them back. Its
// API is small on purpose and meant to stay stable; add an option rather than change a
// signature.
//
//	ts := newTestServer(t)                       // or newTestServer(t, withRealtimeConfig(...))
//	alice := ts.newPerson(t)                     // an *http.Client with a session
//	id := ts.createRoom(t, alice, "Lunch", 0, "") // 0: the default capacity
//	conn := ts.dialRoom(t, alice, id, 0)         // the room's WebSocket as alice
//	resp, body := ts.get(t, noRedirect(alice), "/rooms/"+id)
//
// The tests are in files named after what they test (create_room, sessions, private_rooms,
// deletion, lobby_stream, ...); helpers shared between files are in files named after what
// they are (this one, room_socket_helpers, lobby_stream_helpers, gif_helpers). A test that
// guards against a bug of the original Express + Socket.IO app says which in a comment that
// starts "Original:".

import (
	"gifchat/app"
	"gifchat/db/dbtest"
	. "gifchat/handlers"

	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"gifchat/components"
	"gifchat/db"
	"gifchat/media"
	"gifchat/realtime"
	"gifchat/vocab"

	"gifchat/logtest"
)

// testServer is one running app. Close it early to restart on the same DataDir; otherwise it
// is closed when the test ends.
type testServer struct {
	URL     string // e.g. http://127.0.0.1:41234 (https:// with withTLS)
	DataDir string // holds gifchat.db
	App     *app.App
	Store   *db.Store
	Lobby   *realtime.Lobby
	Rooms   *realtime.Rooms
	GIFs    *media.Store

	srv       *httptest.Server
	logs      *logtest.Buffer
	closeOnce sync.Once
}

// testServerOption changes how newTestServer builds the app.
type testServerOption func(*testServerSetup)

type testServerSetup struct {
	dataDir    string
	tls        bool
	realtime   realtime.Config
	handlers   Config
	lobbyHooks realtime.LobbyHooks
	rateLimits *RateLimitConfig
	guard      Guard
	http       func(*http.Server)
}

// withRealtimeConfig sets the hubs' configuration (EmptyRoomGrace, LeaveDebounce, ...);
// zero fields keep realtime's defaults, as in production.
func withRealtimeConfig(c realtime.Config) testServerOption {
	return func(s *testServerSetup) { s.realtime = c }
}

// withConfig sets the handlers' configuration (MaxFormBytes, MaxRoomsPerPerson, ...).
func withConfig(c Config) testServerOption {
	return func(s *testServerSetup) { s.handlers = c }
}

// withDataDir serves from an existing data directory, to restart on the same database.
func withDataDir(dir string) testServerOption {
	return func(s *testServerSetup) { s.dataDir = dir }
}

// withTLS serves over HTTPS (httptest's certificate, trusted by newPerson's clients).
func withTLS() testServerOption {
	return func(s *testServerSetup) { s.tls = true }
}

// withLobbyHooks observes the lobby (subscriber count, drops).
func withLobbyHooks(h realtime.LobbyHooks) testServerOption {
	return func(s *testServerSetup) { s.lobbyHooks = h }
}

// withGuard answers every request's rate-limit question with g (frames are not limited).
func withGuard(g Guard) testServerOption {
	return func(s *testServerSetup) { s.guard = g }
}

// withRateLimits turns rate limits on, as main does by default (ts.App.Limits is the limiter).
func withRateLimits(cfg RateLimitConfig) testServerOption {
	return func(s *testServerSetup) { s.rateLimits = &cfg }
}

// withHTTPServer adjusts the http.Server before it starts (e.g. a short WriteTimeout).
func withHTTPServer(fn func(*http.Server)) testServerOption {
	return func(s *testServerSetup) { s.http = fn }
}

// newTestServer starts the app. The server's own log is kept and printed if the test fails.
func newTestServer(t *testing.T, opts ...testServerOption) *testServer {
	t.Helper()
	var setup testServerSetup
	for _, o := range opts {
		o(&setup)
	}
	if setup.dataDir == "" {
		setup.dataDir = t.TempDir()
	}
	ctx := context.Background()
	logs := &logtest.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// bcrypt at its minimum cost: the default costs about a second per hash under -race.
	if setup.handlers.PasswordCost == 0 {
		setup.handlers.PasswordCost = bcrypt.MinCost
	}
	var postgres string
	if dbtest.OnPostgres() {
		postgres = dbtest.PostgresURLFor(t, setup.dataDir) // a restart on the same data: the same database
	}
	a, err := app.New(ctx, app.Config{
		DataDir:    setup.dataDir,
		Postgres:   postgres,
		Log:        log,
		Realtime:   setup.realtime,
		Handlers:   setup.handlers,
		RateLimits: setup.rateLimits,
		Guard:      setup.guard,
		LobbyHooks: setup.lobbyHooks,
	})
	if err != nil {
		t.Fatalf("start the app: %v", err)
	}
	if a.Store.KeepsGIFBytes() != (postgres != "") {
		t.Fatalf("asked for PostgreSQL: %v; the app's store keeps GIF bytes: %v", postgres != "", a.Store.KeepsGIFBytes())
	}
	handler := a.Handler

	srv := httptest.NewUnstartedServer(handler)
	srv.Config.ReadHeaderTimeout = 10 * time.Second
	srv.Config.MaxHeaderBytes = 32 << 10
	srv.Config.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	if setup.http != nil {
		setup.http(srv.Config)
	}
	if setup.tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	ts := &testServer{URL: srv.URL, DataDir: setup.dataDir, App: a, Store: a.Store, Lobby: a.Lobby, Rooms: a.Rooms, GIFs: a.GIFs,
		srv: srv, logs: logs}
	t.Cleanup(func() {
		ts.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", ts.Logs())
		}
	})
	return ts
}

// Close shuts the app down in main.go's order: sockets closed with 1012, lobby streams
// ended, connections closed, GIF clean-ups and pending writes finished, then the database.
// Safe to call more than once.
func (ts *testServer) Close() {
	ts.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ts.App.Drain(ctx)
		ts.srv.CloseClientConnections()
		ts.srv.Close()
		ts.App.Close()
	})
}

// Logs returns what the server has logged so far (JSON lines).
func (ts *testServer) Logs() string { return ts.logs.String() }

// newPerson returns a client with its own cookie jar and connections, like a separate
// browser, that has visited the lobby once and so holds a session. It follows redirects;
// noRedirect(c) gives the same person without.
func (ts *testServer) newPerson(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := ts.srv.Client().Transport.(*http.Transport).Clone()
	c := &http.Client{Jar: jar, Transport: tr, Timeout: 30 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	resp, _ := ts.get(t, c, "/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / for a new person: %s", resp.Status)
	}
	if ts.sessionCookie(c) == nil {
		t.Fatal("GET / set no session cookie")
	}
	return c
}

// noRedirect returns the same person (same jar and connections) without following
// redirects, so a test sees the 303 itself.
func noRedirect(c *http.Client) *http.Client {
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cc
}

// sessionCookie returns the person's session cookie (under either name), or nil.
func (ts *testServer) sessionCookie(c *http.Client) *http.Cookie {
	u, _ := url.Parse(ts.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == SessionCookie || ck.Name == HostSessionCookie {
			return ck
		}
	}
	return nil
}

// identity returns the stored identity behind a person's session.
func (ts *testServer) identity(t *testing.T, c *http.Client) db.Identity {
	t.Helper()
	ck := ts.sessionCookie(c)
	if ck == nil {
		t.Fatal("person has no session cookie")
	}
	id, err := ts.Store.IdentityBySession(context.Background(), HashToken(ck.Value))
	if err != nil {
		t.Fatalf("identity for session: %v", err)
	}
	return id
}

// get fetches a path and returns the response with its whole body (already closed).
func (ts *testServer) get(t *testing.T, c *http.Client, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ts.do(t, c, req)
}

// postForm posts a URL-encoded form; header adds request headers (e.g. HX-Request), may be nil.
func (ts *testServer) postForm(t *testing.T, c *http.Client, path string, form url.Values, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, vs := range header {
		req.Header[k] = vs
	}
	return ts.do(t, c, req)
}

func (ts *testServer) do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL.Path, err)
	}
	return resp, string(body)
}

// createRoom creates a room through the form, as the person, and returns its id. capacity 0
// leaves the field out (the default), password "" makes a public room.
func (ts *testServer) createRoom(t *testing.T, person *http.Client, title string, capacity int, password string) string {
	t.Helper()
	form := url.Values{"title": {title}}
	if capacity != 0 {
		form.Set("capacity", strconv.Itoa(capacity))
	}
	if password != "" {
		form.Set("password", password)
	}
	resp, body := ts.postForm(t, noRedirect(person), "/rooms", form, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create room %q: %s\n%s", title, resp.Status, body)
	}
	id, ok := strings.CutPrefix(resp.Header.Get("Location"), "/rooms/")
	if !ok || !RoomIDPattern.MatchString(id) {
		t.Fatalf("create room %q: Location %q is not /rooms/{id}", title, resp.Header.Get("Location"))
	}
	return id
}

// dialRoom opens the room's WebSocket as the person (session cookie and a same-origin
// Origin header), asking for the messages after id after. It fails the test if the
// handshake fails; a refusal is an accepted socket closed with a 4xxx code. The socket is
// closed when the test ends.
func (ts *testServer) dialRoom(t *testing.T, person *http.Client, roomID string, after int64) *websocket.Conn {
	t.Helper()
	u := strings.Replace(ts.URL, "http", "ws", 1) + "/rooms/" + roomID + "/ws?after=" + strconv.FormatInt(after, 10)
	h := http.Header{"Origin": {ts.URL}}
	if ck := ts.sessionCookie(person); ck != nil {
		h.Set("Cookie", ck.String())
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, TLSClientConfig: ts.tlsConfig()}
	conn, resp, err := d.Dial(u, h)
	if err != nil {
		status := "no response"
		if resp != nil {
			status = resp.Status
		}
		t.Fatalf("dial room %s: %v (%s)", roomID, err, status)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// tlsConfig is the client TLS configuration that trusts a withTLS server (nil otherwise).
func (ts *testServer) tlsConfig() *tls.Config {
	if tr, ok := ts.srv.Client().Transport.(*http.Transport); ok && tr.TLSClientConfig != nil {
		return tr.TLSClientConfig.Clone()
	}
	return nil
}

// Shortcuts and checks most tests share.

// htmxHeader marks a request as htmx sends it (postForm's header).
var htmxHeader = http.Header{"Hx-Request": {"true"}}

// isWholePage reports whether body is a whole HTML document, not a fragment.
func isWholePage(body string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(body)), "<!doctype html>") && strings.Contains(body, "</html>")
}

// storedTexts returns the bodies of a room's stored messages (as viewer sees them), oldest first.
func (ts *testServer) storedTexts(t *testing.T, room string, viewer int64) []string {
	t.Helper()
	msgs, err := ts.Store.LatestMessages(context.Background(), room, viewer, 10000)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		if m.Kind == vocab.KindNotice {
			// Notices are stored as data; this is how a reader sees them.
			out = append(out, components.NoticeText(context.Background(), realtime.MessageView(m)))
			continue
		}
		out = append(out, m.Body)
	}
	return out
}

// containsText reports whether any of texts contains s.
func containsText(texts []string, s string) bool {
	for _, x := range texts {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

// assertNothingCreated checks the database, the lobby and the hubs hold no room.
func (ts *testServer) assertNothingCreated(t *testing.T) {
	t.Helper()
	rooms, err := ts.Store.ListRooms(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rooms) != 0 {
		t.Errorf("database holds %d rooms, want none: %+v", len(rooms), rooms)
	}
	if got := ts.Lobby.Rooms(); len(got) != 0 {
		t.Errorf("lobby lists %d rooms, want none", len(got))
	}
	if n := ts.Rooms.Count(); n != 0 {
		t.Errorf("%d room hubs running, want none", n)
	}
}
