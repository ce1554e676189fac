package handlers_test

// Connection bounds at the HTTP surface: lobby streams are capped per person and per client
// address, each refusal a 429 whose body htmx can show; the lobby's snapshot is rendered
// once for everyone who connects while the list stays the same.

import (
	. "gifchat/handlers"

	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gifchat/realtime"
)

// lobbyStreamRefused opens GET /rooms/events as htmx does, expecting a refusal, and returns
// it with its body.
func (ts *testServer) lobbyStreamRefused(t *testing.T, person *http.Client, header http.Header) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/rooms/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("HX-Request", "true")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := person.Do(req)
	if err != nil {
		t.Fatalf("lobby stream: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatalf("lobby stream opened (%s); want a refusal", resp.Header.Get("Content-Type"))
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// TestLobbyStreamsCappedPerPersonAndAddress: a person may hold MaxLobbyStreamsPerPerson
// streams, everyone behind one address MaxLobbyStreamsPerAddress; one more is a 429 whose
// body is a partial htmx swaps in above the room list (the first request's refusal is
// swapped, not retried), saying which cap and what to do. Another address counts apart.
func TestLobbyStreamsCappedPerPersonAndAddress(t *testing.T) {
	ts := newTestServer(t, withConfig(Config{MaxLobbyStreamsPerPerson: 2, MaxLobbyStreamsPerAddress: 3, TrustProxy: true}))
	alice, bob, carol := ts.newPerson(t), ts.newPerson(t), ts.newPerson(t)

	ts.openLobbyStream(t, alice)
	ts.openLobbyStream(t, alice)
	resp, body := ts.lobbyStreamRefused(t, alice, nil)
	wantRefusal := func(resp *http.Response, body, reason string) {
		t.Helper()
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("status %s, want 429", resp.Status)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("Content-Type %q: htmx swaps HTML", ct)
		}
		if !strings.Contains(body, `<hx-partial hx-target="#room-list" hx-swap="beforebegin">`) || !strings.Contains(body, `role="alert"`) {
			t.Errorf("the refusal is not a partial for the lobby:\n%s", body)
		}
		if !strings.Contains(body, reason) {
			t.Errorf("the refusal does not say %q:\n%s", reason, body)
		}
		if isWholePage(body) {
			t.Error("the refusal is a whole page; the stream's element gets only a partial")
		}
	}
	wantRefusal(resp, body, "You have the lobby open in 2 tabs already")

	ts.openLobbyStream(t, bob) // the third from this address
	resp, body = ts.lobbyStreamRefused(t, carol, nil)
	wantRefusal(resp, body, "The lobby is open in 3 tabs from your network already")

	// Behind the trusted proxy, another client address counts apart; and alice's own cap
	// holds wherever she comes from.
	elsewhere := http.Header{"X-Forwarded-For": {"203.0.113.9"}}
	ts.openLobbyStreamWith(t, carol, elsewhere)
	resp, body = ts.lobbyStreamRefused(t, alice, elsewhere)
	wantRefusal(resp, body, "You have the lobby open in 2 tabs already")
}

// TestLobbySnapshotRenderedOnceForManySubscribers: ten people connecting to an unchanged
// lobby share one rendering of the list; a new room makes the next snapshot fresh.
func TestLobbySnapshotRenderedOnceForManySubscribers(t *testing.T) {
	var renders atomic.Int64
	ts := newTestServer(t, withLobbyHooks(realtime.LobbyHooks{SnapshotRendered: func() { renders.Add(1) }}))
	owner := ts.newPerson(t)
	ts.createRoom(t, owner, "First", 0, "")
	for range 10 {
		s := ts.openLobbyStream(t, ts.newPerson(t))
		if snap := s.next(t, 5*time.Second); !strings.Contains(snap.Data, "First") {
			t.Fatalf("snapshot without the room:\n%s", snap.Data)
		}
	}
	if n := renders.Load(); n != 1 {
		t.Fatalf("ten subscribers to an unchanged list: %d renderings, want 1", n)
	}
	ts.createRoom(t, owner, "Second", 0, "")
	for range 3 {
		s := ts.openLobbyStream(t, ts.newPerson(t))
		if snap := s.next(t, 5*time.Second); !strings.Contains(snap.Data, "Second") {
			t.Fatalf("snapshot after a change misses it:\n%s", snap.Data)
		}
	}
	if n := renders.Load(); n != 2 {
		t.Fatalf("after one change and three subscribers: %d renderings in all, want 2", n)
	}
}
