package handlers_test

// Rate limits against a real server with real sockets. The limiter's clock is a test clock,
// so nothing here depends on how fast the machine is: tokens come back only when the test
// moves the clock.

import (
	. "gifchat/handlers"

	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// testClock is a clock that moves only when told.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// limitHits counts OnLimited calls by "action/scope".
type limitHits struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *limitHits) add(action, scope string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == nil {
		h.n = map[string]int{}
	}
	h.n[action+"/"+scope]++
}

func (h *limitHits) get(key string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[key]
}

// limitedServer is the app with RateLimits wired as main.go wires it: the Guard for HTTP and
// realtime's Hooks.Allow for socket frames.
type limitedServer struct {
	*testServer
	limits *RateLimits
	clock  *testClock
	hits   *limitHits
}

func newLimitedServer(t *testing.T, cfg RateLimitConfig, opts ...testServerOption) *limitedServer {
	t.Helper()
	clock, hits := newTestClock(), &limitHits{}
	cfg.Now, cfg.OnLimited = clock.Now, hits.add
	ts := newTestServer(t, append([]testServerOption{withRateLimits(cfg)}, opts...)...)
	return &limitedServer{testServer: ts, limits: ts.App.Limits, clock: clock, hits: hits}
}

// only returns the production rates with every action but the named ones off.
func only(rates map[string]string) map[string]Rate {
	out := map[string]Rate{}
	for _, a := range []string{ActionSay, ActionControl, ActionCreateRoom, ActionUpload, ActionConnect, ActionEnter, ActionNewSession, ActionRename} {
		out[a] = Rate{}
	}
	for a, spec := range rates {
		r, err := ParseRate(spec)
		if err != nil {
			panic(err)
		}
		out[a] = r
	}
	return out
}

// A burst of 10, then 2 per second, per session: the 11th message in a burst is refused with
// a reason to its sender only, nobody else notices, and nothing is stored.
func TestRateLimitMessagesOverSocket(t *testing.T) {
	ts := newLimitedServer(t, RateLimitConfig{Rates: only(map[string]string{ActionSay: "2/s:10"}), AddressFactor: 100})
	alice, bob := ts.newPerson(t), ts.newPerson(t)
	room := ts.createRoom(t, alice, "Flood", 0, "")
	a := ts.joined(t, alice, room)
	b := ts.joined(t, bob, room)

	for i := 1; i <= 12; i++ {
		a.say(t, fmt.Sprintf("flood-%02d", i))
	}
	a.waitCount(t, "You are sending messages too fast", 2)
	a.waitFor(t, "flood-10")
	// Half a second later one token is back; a second after that, two more.
	ts.clock.Advance(500 * time.Millisecond)
	a.say(t, "flood-13")
	a.say(t, "flood-14") // refused: no token yet
	a.waitCount(t, "You are sending messages too fast", 3)
	ts.clock.Advance(time.Second)
	a.say(t, "flood-15")
	// The hub delivers in order: once bob has flood-15, anything accepted before it has arrived.
	got := b.waitFor(t, "flood-15")
	for _, refused := range []string{"flood-11", "flood-12", "flood-14", "too fast"} {
		if strings.Contains(got, refused) {
			t.Errorf("bob received %q", refused)
		}
	}
	stored := ts.storedTexts(t, room, 0)
	want := []string{"flood-01", "flood-02", "flood-03", "flood-04", "flood-05", "flood-06", "flood-07", "flood-08", "flood-09", "flood-10", "flood-13", "flood-15"}
	var texts []string
	for _, s := range stored {
		if strings.HasPrefix(s, "flood-") {
			texts = append(texts, s)
		}
	}
	if strings.Join(texts, " ") != strings.Join(want, " ") {
		t.Errorf("stored %v\n  want %v", texts, want)
	}
	if n := ts.hits.get("say/session"); n != 3 {
		t.Errorf("%d session refusals counted, want 3", n)
	}
	// The refused sender's socket stays open and usable.
	if strings.Contains(a.received(), "status-closed") {
		t.Error("a rate-limited sender's composer was taken away")
	}
}

// Two sessions on one address share the address's bucket: together they cannot exceed it,
// though each is within its own.
func TestRateLimitPerAddress(t *testing.T) {
	ts := newLimitedServer(t, RateLimitConfig{Rates: only(map[string]string{ActionSay: "1/m:4", ActionConnect: "1/m:100"}), AddressFactor: 1.5})
	alice, bob := ts.newPerson(t), ts.newPerson(t)
	room := ts.createRoom(t, alice, "Shared address", 0, "")
	a := ts.joined(t, alice, room)
	b := ts.joined(t, bob, room)
	for i := 1; i <= 4; i++ {
		a.say(t, fmt.Sprintf("alice-%d", i))
	}
	a.waitFor(t, "alice-4")
	for i := 1; i <= 4; i++ {
		b.say(t, fmt.Sprintf("bob-%d", i))
	}
	b.waitCount(t, "You are sending messages too fast", 2) // the address's 6 are used up after bob's 2nd
	b.waitFor(t, "bob-2")
	if n := ts.hits.get("say/address"); n != 2 {
		t.Errorf("%d address refusals, want 2", n)
	}
	if texts := ts.storedTexts(t, room, 0); containsText(texts, "bob-3") || containsText(texts, "bob-4") {
		t.Errorf("stored past the address limit: %q", texts)
	}
}

func TestRateLimitNoJSPost(t *testing.T) {
	ts := newLimitedServer(t, RateLimitConfig{Rates: only(map[string]string{ActionSay: "2/s:3"}), AddressFactor: 100})
	alice := noRedirect(ts.newPerson(t))
	room := ts.createRoom(t, alice, "Forms", 0, "")
	for i := 1; i <= 3; i++ {
		if resp, _ := ts.postForm(t, alice, "/rooms/"+room+"/messages", url.Values{"text": {fmt.Sprint("form-", i)}}, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("post %d: %s", i, resp.Status)
		}
	}
	resp, page := ts.postForm(t, alice, "/rooms/"+room+"/messages", url.Values{"text": {"form-4"}}, nil)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(page, "You are sending messages too fast") {
		t.Fatalf("fourth post: %s\n%s", resp.Status, page)
	}
	if !strings.Contains(page, `value="form-4"`) {
		t.Error("the refused text is not kept in the form")
	}
	if containsText(ts.storedTexts(t, room, 0), "form-4") {
		t.Error("a rate-limited post was stored")
	}
}

func TestRateLimitCreateRoom(t *testing.T) {
	ts := newLimitedServer(t, RateLimitConfig{Rates: only(map[string]string{ActionCreateRoom: "6/m:3"}), AddressFactor: 100})
	alice := noRedirect(ts.newPerson(t))
	for i := 1; i <= 3; i++ {
		ts.createRoom(t, alice, fmt.Sprint("Room ", i), 0, "")
	}
	resp, page := ts.postForm(t, alice, "/rooms", url.Values{"title": {"Room 4"}}, nil)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(page, "You are creating rooms too fast; try again in 10 seconds.") {
		t.Fatalf("fourth room: %s\n%s", resp.Status, page)
	}
	resp, page = ts.postForm(t, alice, "/rooms", url.Values{"title": {"Room 4"}}, http.Header{"Hx-Request": {"true"}})
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(page, "too fast") || isWholePage(page) {
		t.Fatalf("fourth room with htmx: %s\n%s", resp.Status, page)
	}
	if n := len(ts.Lobby.Rooms()); n != 3 {
		t.Fatalf("%d rooms, want 3", n)
	}
	ts.clock.Advance(10 * time.Second)
	ts.createRoom(t, alice, "Room 4", 0, "")
}

// Password guessing: a burst of attempts, then one every few seconds, even with the right one.
func TestRateLimitPasswordAttempts(t *testing.T) {
	ts := newLimitedServer(t, RateLimitConfig{Rates: only(map[string]string{ActionEnter: "10/m:5"}), AddressFactor: 100})
	owner, guesser := ts.newPerson(t), noRedirect(ts.newPerson(t))
	room := ts.createRoom(t, owner, "Vault", 0, "open sesame")
	for i := 0; i < 5; i++ {
		if resp, _ := ts.postForm(t, guesser, "/rooms/"+room+"/enter", url.Values{"password": {fmt.Sprint("guess", i)}}, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %s", i, resp.Status)
		}
	}
	resp, page := ts.postForm(t, guesser, "/rooms/"+room+"/enter", url.Values{"password": {"open sesame"}}, nil)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(page, "Too many password attempts") {
		t.Fatalf("sixth attempt: %s\n%s", resp.Status, page)
	}
	if ok, _ := ts.Store.HasRoomEntry(t.Context(), room, ts.identity(t, guesser).ID); ok {
		t.Fatal("a rate-limited attempt was let in")
	}
	ts.clock.Advance(6 * time.Second)
	if resp, _ := ts.postForm(t, guesser, "/rooms/"+room+"/enter", url.Values{"password": {"open sesame"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after waiting: %s", resp.Status)
	}
}

// A connect over the limit is turned away with 1013, on which htmx retries with backoff (a
// 4xxx would stop it for good), and the reason as a status fragment.
func TestRateLimitConnects(t *testing.T) {
	ts := newLimitedServer(t, RateLimitConfig{Rates: only(map[string]string{ActionConnect: "30/m:3"}), AddressFactor: 100})
	alice := ts.newPerson(t)
	room := ts.createRoom(t, alice, "Reconnects", 0, "")
	for i := 0; i < 3; i++ {
		p := ts.joined(t, alice, room)
		p.conn.Close()
	}
	p := watch(ts.dialRoom(t, alice, room, 0))
	code, _ := p.waitClose(t)
	if code != websocket.CloseTryAgainLater || !strings.Contains(p.received(), "Too many connections") {
		t.Fatalf("fourth connect: close %d, received:\n%s", code, p.received())
	}
	if strings.Contains(p.received(), memberPanel) {
		t.Fatal("the refused socket was admitted first")
	}
	ts.clock.Advance(2 * time.Second)
	ts.joined(t, alice, room)
	if n := ts.hits.get("connect/session"); n != 1 {
		t.Errorf("%d connect refusals counted, want 1", n)
	}
}

func TestRateLimitUploads(t *testing.T) {
	clock, hits := newTestClock(), &limitHits{}
	rl := NewRateLimits(RateLimitConfig{Rates: only(map[string]string{ActionUpload: "20/m:2"}), AddressFactor: 100, Now: clock.Now, OnLimited: hits.add})
	ts := startGIFServer(t, gifServerOptions{guard: rl})
	alice := ts.newPerson(t)
	room := ts.createRoom(t, alice, "GIF flood", 0, "")
	for i := 0; i < 2; i++ {
		if resp, text := ts.uploadGIF(t, alice, room, "ok.gif", testGIF(t, 8, 8, 1, 100+i)); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("upload %d: %s\n%s", i, resp.Status, text)
		}
	}
	resp, text := ts.uploadGIF(t, alice, room, "third.gif", testGIF(t, 8, 8, 1, 102))
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(text, "You are uploading GIFs too fast") {
		t.Fatalf("third upload: %s\n%s", resp.Status, text)
	}
	if n := len(ts.gifMessages(t, room)); n != 2 {
		t.Errorf("%d GIF messages, want 2", n)
	}
	if n := len(ts.files(t)); n != 2 {
		t.Errorf("%d GIF files, want 2", n)
	}
	if hits.get("upload/session") != 1 {
		t.Error("the refusal was not counted")
	}
}

// Every cookie-less visit mints an identity row, so one address may only mint so many: past
// its burst a visitor without a session gets a 429 page saying why, while people who have a
// session carry on, and the address gets more as time passes.
func TestRateLimitNewSessions(t *testing.T) {
	ts := newLimitedServer(t, RateLimitConfig{Rates: only(map[string]string{ActionNewSession: "6/m:3"}), AddressFactor: 1})
	var people []*http.Client
	for range 3 {
		people = append(people, ts.newPerson(t))
	}
	stranger := &http.Client{Transport: ts.srv.Client().Transport}
	resp, page := ts.get(t, stranger, "/")
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(page, "Too many new visitors from your network at once; try again in 10 seconds.") {
		t.Fatalf("fourth new visitor: %s\n%s", resp.Status, page)
	}
	if resp.Header.Get("Retry-After") == "" || len(resp.Cookies()) != 0 {
		t.Errorf("refusal: Retry-After %q, cookies %v", resp.Header.Get("Retry-After"), resp.Cookies())
	}
	if n := ts.hits.get("new-session/address"); n != 1 {
		t.Errorf("%d refusals counted, want 1", n)
	}
	// A scanner's cookie-less socket or stream is refused the same way.
	if resp, _ := ts.get(t, stranger, "/rooms/events"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("cookie-less lobby stream: %s", resp.Status)
	}
	for i, p := range people { // sessions already given are not limited
		if resp, _ := ts.get(t, p, "/"); resp.StatusCode != http.StatusOK {
			t.Fatalf("person %d with a session: %s", i, resp.Status)
		}
	}
	ts.clock.Advance(10 * time.Second)
	ts.newPerson(t)
}
