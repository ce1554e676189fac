package handlers_test

// The lobby stream: the whole list first, then every change; the headers before any event;
// a reader that stalls is dropped without holding up the others; the stream ends on shutdown.

import (
	. "gifchat/handlers"

	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gifchat/components"
	"gifchat/realtime"
)

// TestLobbyStreamSnapshotThenNewRoom: the first event is the whole list; a room another
// session creates arrives within a second of its POST.
func TestLobbyStreamSnapshotThenNewRoom(t *testing.T) {
	ts := newTestServer(t)
	alice, bob, carol := ts.newPerson(t), ts.newPerson(t), ts.newPerson(t)
	first := ts.createRoom(t, alice, "Already here", 0, "")
	ts.createRoom(t, alice, "Private one", 0, "letmein")

	stream := ts.openLobbyStream(t, bob)
	snap := stream.next(t, 5*time.Second)
	if snap.Event != "" {
		t.Errorf("snapshot has event: %q; htmx swaps only unnamed messages", snap.Event)
	}
	if !strings.Contains(snap.Data, `hx-target="#room-list"`) || !strings.Contains(snap.Data, `id="room-list"`) || !strings.Contains(snap.Data, `aria-label="Rooms"`) {
		t.Errorf("first event is not the room list:\n%s", snap.Data)
	}
	if !strings.Contains(snap.Data, `id="room-`+first+`"`) || !strings.Contains(snap.Data, "Already here") || !strings.Contains(snap.Data, "Private one") {
		t.Errorf("snapshot misses the existing rooms:\n%s", snap.Data)
	}
	if strings.Count(snap.Data, `class="room-card"`) != 2 {
		t.Errorf("snapshot has %d cards, want 2", strings.Count(snap.Data, `class="room-card"`))
	}

	resp, _ := ts.postForm(t, noRedirect(carol), "/rooms", url.Values{"title": {"Brand new"}, "capacity": {"5"}}, htmxHeader)
	posted := time.Now()
	id := strings.TrimPrefix(resp.Header.Get("HX-Redirect"), "/rooms/")
	if !RoomIDPattern.MatchString(id) {
		t.Fatalf("create: %s", resp.Status)
	}
	ev := stream.waitFor(t, time.Second, roomEvent(id))
	if late := time.Since(posted); late > time.Second {
		t.Errorf("the new room arrived %v after the POST; want within 1s", late)
	}
	if !strings.Contains(ev.Data, "Brand new") || !strings.Contains(ev.Data, "0 / 5") || !strings.Contains(ev.Data, `hx-swap="afterbegin"`) || !strings.Contains(ev.Data, ">Join</a>") {
		t.Errorf("new-room event:\n%s", ev.Data)
	}
	carolName := ts.identity(t, carol).Nickname
	if !strings.Contains(ev.Data, carolName) {
		t.Errorf("new-room event does not name the owner %q", carolName)
	}

	// Someone entering changes the member count: one more event.
	conn := ts.dialRoom(t, alice, id, 0)
	defer conn.Close()
	ev = stream.waitFor(t, 5*time.Second, roomEvent(id))
	if !strings.Contains(ev.Data, "1 / 5") || !strings.Contains(ev.Data, `hx-target="#room-`+id+`"`) {
		t.Errorf("member-count event:\n%s", ev.Data)
	}

	// A reconnect (a hidden tab coming back) gets a fresh snapshot with everything.
	again := ts.openLobbyStream(t, bob)
	snap = again.next(t, 5*time.Second)
	if strings.Count(snap.Data, `class="room-card"`) != 3 || !strings.Contains(snap.Data, "1 / 5") {
		t.Errorf("second snapshot:\n%s", snap.Data)
	}
}

// TestLobbyStreamHeadersFirst holds the lobby while the stream subscribes, so no event can
// be written: the response headers must still arrive.
func TestLobbyStreamHeadersFirst(t *testing.T) {
	var armed atomic.Bool
	entered, release := make(chan struct{}), make(chan struct{})
	ts := newTestServer(t, withLobbyHooks(realtime.LobbyHooks{Subscribers: func(int) {
		// Called under the lobby's lock as a stream subscribes, before its snapshot goes out.
		if armed.CompareAndSwap(true, false) {
			close(entered)
			<-release
		}
	}}))
	person := ts.newPerson(t)
	armed.Store(true)
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()

	opened := make(chan *sseStream, 1)
	go func() { opened <- ts.openLobbyStream(t, person) }()
	var stream *sseStream
	select {
	case stream = <-opened:
	case <-time.After(10 * time.Second):
		t.Fatal("the response headers did not arrive before the first event")
	}
	<-entered // the stream had not sent its snapshot yet
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
		if got := stream.Header.Get(k); !strings.HasPrefix(got, want) {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if _, ok := stream.tryNext(50 * time.Millisecond); ok {
		t.Fatal("an event arrived while the lobby was held")
	}
	close(release)
	if snap := stream.next(t, 5*time.Second); !strings.Contains(snap.Data, `id="room-list"`) {
		t.Errorf("first event after the headers is not the snapshot:\n%s", snap.Data)
	}
}

// TestLobbyStreamOutlivesWriteTimeout: the server's WriteTimeout (a minute in production,
// shortened here) must not cut the stream.
func TestLobbyStreamOutlivesWriteTimeout(t *testing.T) {
	// 1 s, not less: the timeout also bounds the creator's POST, which can take a few hundred
	// milliseconds under -race on a busy machine.
	ts := newTestServer(t, withHTTPServer(func(s *http.Server) { s.WriteTimeout = time.Second }))
	watcher, creator := ts.newPerson(t), ts.newPerson(t)
	stream := ts.openLobbyStream(t, watcher)
	stream.next(t, 5*time.Second)
	time.Sleep(1500 * time.Millisecond) // well past the server's write timeout
	id := ts.createRoom(t, creator, "Late news", 0, "")
	stream.waitFor(t, 5*time.Second, roomEvent(id))
	select {
	case <-stream.ended:
		t.Fatal("the stream ended")
	default:
	}
}

// TestLobbyStreamStalledSubscriber: a stream whose reader never reads is dropped, and while
// it is stuck the others still get every event, a new room within a second.
func TestLobbyStreamStalledSubscriber(t *testing.T) {
	var subscribers, dropped atomic.Int64
	ts := newTestServer(t, withConfig(Config{MaxRoomsPerPerson: 1000}), withLobbyHooks(realtime.LobbyHooks{
		Subscribers: func(n int) { subscribers.Store(int64(n)) },
		Dropped:     func() { dropped.Add(1) },
	}))
	watcher, creator := ts.newPerson(t), ts.newPerson(t)
	live := ts.openLobbyStream(t, watcher)
	live.next(t, 5*time.Second)

	// The stalled subscriber: asks for the stream and never reads a byte.
	addr := strings.TrimPrefix(ts.URL, "http://")
	stalled, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	stalled.(*net.TCPConn).SetReadBuffer(4 << 10)
	fmt.Fprintf(stalled, "GET /rooms/events HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nAccept: text/event-stream\r\n\r\n", addr, ts.sessionCookie(creator).String())
	for deadline := time.Now().Add(5 * time.Second); subscribers.Load() < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("the stalled stream never subscribed (%d subscribers)", subscribers.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}

	// Big changes to one card until the stalled stream's socket buffers fill, its handler
	// blocks in a write, its queue of realtime.LobbySubscriberQueue fills behind it and it is
	// dropped. Every 16th change is a room created over HTTP instead, so several rooms are
	// created while the stalled stream is stuck but still subscribed; each change and each
	// room must reach the live stream within a second of its publish.
	flood := components.RoomCard{ID: "flood", Title: strings.Repeat("w", 32<<10), Capacity: 100}
	const maxEvents = 5000
	events, rooms := 0, 0
	for ; events < maxEvents; events++ {
		if dropped.Load() > 0 && events%16 == 0 {
			break
		}
		if events%16 == 15 {
			resp, _ := ts.postForm(t, noRedirect(creator), "/rooms", url.Values{"title": {fmt.Sprintf("During the stall %d", events)}}, nil)
			posted := time.Now()
			id := strings.TrimPrefix(resp.Header.Get("Location"), "/rooms/")
			if !RoomIDPattern.MatchString(id) {
				t.Fatalf("create room: %s", resp.Status)
			}
			live.waitFor(t, time.Second, roomEvent(id))
			if late := time.Since(posted); late > time.Second {
				t.Fatalf("room %d arrived %v after its POST", rooms, late)
			}
			rooms++
			continue
		}
		flood.Members = events % 100
		flood.Capacity = 100 + events/100 // keep every card different from the last
		published := time.Now()
		ts.Lobby.Upsert(flood, 1)
		live.waitFor(t, time.Second, roomEvent("flood"))
		if late := time.Since(published); late > time.Second {
			t.Fatalf("change %d arrived %v after its publish", events, late)
		}
	}
	if dropped.Load() != 1 {
		t.Fatalf("after %d events of 32 KiB, %d subscribers dropped; want the stalled one", events, dropped.Load())
	}
	if subscribers.Load() != 1 {
		t.Errorf("%d subscribers after the drop, want 1 (the live one)", subscribers.Load())
	}
	if rooms < realtime.LobbySubscriberQueue/16 {
		t.Errorf("only %d rooms created during the flood", rooms)
	}
	ts.Lobby.Remove("flood")
	live.waitFor(t, 5*time.Second, roomEvent("flood"))

	// The stalled connection is still open and unread; the live lobby still gets a new room
	// within a second of its POST.
	resp, _ := ts.postForm(t, noRedirect(creator), "/rooms", url.Values{"title": {"After the stall"}}, nil)
	posted := time.Now()
	id := strings.TrimPrefix(resp.Header.Get("Location"), "/rooms/")
	live.waitFor(t, time.Second, roomEvent(id))
	if late := time.Since(posted); late > time.Second {
		t.Errorf("new room arrived %v after the POST", late)
	}
	select {
	case <-live.ended:
		t.Error("the live stream ended")
	default:
	}
	if dropped.Load() != 1 {
		t.Errorf("%d subscribers dropped, want 1", dropped.Load())
	}
}

// TestLobbyStreamEndsOnShutdown: closing the lobby (as main does on shutdown) ends open streams.
func TestLobbyStreamEndsOnShutdown(t *testing.T) {
	ts := newTestServer(t)
	stream := ts.openLobbyStream(t, ts.newPerson(t))
	stream.next(t, 5*time.Second)
	ts.Lobby.Close()
	select {
	case <-stream.ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream is still open after the lobby closed")
	}
}
