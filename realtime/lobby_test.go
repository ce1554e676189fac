package realtime_test

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gifchat/components"
	"gifchat/realtime"
)

func card(id string, members int) components.RoomCard {
	return components.RoomCard{ID: id, Title: "Room " + id, Members: members, Capacity: 10,
		Owner: components.Person{ID: 1, Name: "calm-otter-01", Colour: "c1"}}
}

// next reads one event, failing if none comes: publishing is synchronous, so an event that
// was published is already in the queue.
func next(t *testing.T, s *realtime.LobbySubscription) string {
	t.Helper()
	select {
	case b, ok := <-s.C:
		if !ok {
			t.Fatal("subscription closed; want an event")
		}
		return string(b)
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return ""
}

func expectNoEvent(t *testing.T, s *realtime.LobbySubscription) {
	t.Helper()
	select {
	case b, ok := <-s.C:
		if ok {
			t.Fatalf("unexpected event %q", b)
		}
		t.Fatal("subscription closed unexpectedly")
	default:
	}
}

var roomIDs = regexp.MustCompile(`id="room-(r[0-9]+)"`)

func idsIn(payload string) []string {
	var out []string
	for _, m := range roomIDs.FindAllStringSubmatch(payload, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestLobbySnapshotThenEventsInOrder(t *testing.T) {
	l := realtime.NewLobby(realtime.LobbyHooks{})
	l.Upsert(card("r1", 0), 100)
	l.Upsert(card("r2", 3), 200)

	if got := l.Rooms(); len(got) != 2 || got[0].ID != "r2" || got[1].ID != "r1" {
		t.Fatalf("Rooms() = %+v; want r2, r1 (newest first)", got)
	}
	if c, ok := l.Room("r2"); !ok || c.Members != 3 {
		t.Errorf("Room(r2) = %+v, %v", c, ok)
	}

	sub, snap, err := l.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unsubscribe(sub)
	s := string(snap)
	if !strings.Contains(s, `hx-target="#room-list"`) || !strings.Contains(s, `hx-swap="outerHTML"`) || !strings.Contains(s, `id="room-list"`) {
		t.Errorf("snapshot is not one out-of-band replace of #room-list:\n%s", s)
	}
	if got := strings.Join(idsIn(s), ","); got != "r2,r1" {
		t.Errorf("snapshot lists %s; want r2,r1", got)
	}
	expectNoEvent(t, sub) // the snapshot is not also queued as events

	l.Upsert(card("r3", 0), 300) // new room
	l.Upsert(card("r3", 0), 300) // unchanged: no event
	l.Upsert(card("r1", 4), 999) // member count changed; keeps its place
	l.Remove("r2")               // gone
	l.Remove("r2")               // already gone: no event
	l.Upsert(card("r1", 4), 100) // unchanged again

	ev := next(t, sub)
	if !strings.Contains(ev, `hx-target="#room-list"`) || !strings.Contains(ev, `hx-swap="afterbegin"`) || !strings.Contains(ev, `id="room-r3"`) {
		t.Errorf("event 1 should add r3 at the top of the list:\n%s", ev)
	}
	ev = next(t, sub)
	if !strings.Contains(ev, `hx-target="#room-r1"`) || !strings.Contains(ev, `hx-swap="outerHTML"`) || !strings.Contains(ev, "4 / 10") {
		t.Errorf("event 2 should replace r1's card with 4 members:\n%s", ev)
	}
	ev = next(t, sub)
	if !strings.Contains(ev, `id="room-r2"`) || !strings.Contains(ev, `hx-swap-oob="delete"`) {
		t.Errorf("event 3 should delete r2's card:\n%s", ev)
	}
	expectNoEvent(t, sub)

	if got := l.Rooms(); len(got) != 2 || got[0].ID != "r3" || got[1].ID != "r1" {
		t.Errorf("Rooms() = %+v; want r3, r1 (r1 keeps its first creation time)", got)
	}
}

// TestLobbyDropsFullQueue: a subscriber that never reads is dropped once its queue is full,
// the publisher never waits for it, and a subscriber that keeps up is not affected.
func TestLobbyDropsFullQueue(t *testing.T) {
	var dropped, subscribers atomic.Int64
	l := realtime.NewLobby(realtime.LobbyHooks{
		Dropped:     func() { dropped.Add(1) },
		Subscribers: func(n int) { subscribers.Store(int64(n)) },
	})
	stalled, _, err := l.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	live, _, err := l.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unsubscribe(live)
	if subscribers.Load() != 2 {
		t.Fatalf("subscribers = %d, want 2", subscribers.Load())
	}

	var liveGot []string
	publish := func(i int) {
		l.Upsert(card(fmt.Sprintf("r%d", i), 0), int64(i))
		liveGot = append(liveGot, next(t, live))
	}
	for i := range realtime.LobbySubscriberQueue {
		publish(i)
	}
	if dropped.Load() != 0 {
		t.Fatalf("dropped after %d events; the queue holds %d", realtime.LobbySubscriberQueue, realtime.LobbySubscriberQueue)
	}
	publish(realtime.LobbySubscriberQueue) // one more than the stalled queue holds
	if dropped.Load() != 1 {
		t.Fatalf("Dropped hook called %d times, want 1", dropped.Load())
	}
	if subscribers.Load() != 1 {
		t.Errorf("subscribers after the drop = %d, want 1", subscribers.Load())
	}
	// The stalled subscriber gets what was queued, then its channel closes: the stream ends and
	// the browser reconnects for a fresh snapshot.
	n := 0
	for range stalled.C {
		n++
	}
	if n != realtime.LobbySubscriberQueue {
		t.Errorf("stalled subscriber drained %d events before the close, want %d", n, realtime.LobbySubscriberQueue)
	}
	l.Unsubscribe(stalled) // safe after a drop
	l.Unsubscribe(stalled)

	publish(realtime.LobbySubscriberQueue + 1)
	if len(liveGot) != realtime.LobbySubscriberQueue+2 {
		t.Errorf("live subscriber got %d events, want %d", len(liveGot), realtime.LobbySubscriberQueue+2)
	}
	for i, ev := range liveGot {
		if ids := idsIn(ev); len(ids) != 1 || ids[0] != fmt.Sprintf("r%d", i) {
			t.Fatalf("live event %d is about %v, want r%d", i, ids, i)
		}
	}
	if dropped.Load() != 1 {
		t.Errorf("Dropped hook called %d times, want 1", dropped.Load())
	}
}

// TestLobbySubscribeWhilePublishing: however a subscribe interleaves with publishing, the
// snapshot plus the events after it name every room exactly once.
func TestLobbySubscribeWhilePublishing(t *testing.T) {
	l := realtime.NewLobby(realtime.LobbyHooks{})
	const rooms = 40
	const subscribers = 8
	var wg sync.WaitGroup
	views := make([]map[string]int, subscribers)
	start := make(chan struct{})
	for i := range subscribers {
		wg.Go(func() {
			<-start
			sub, snap, err := l.Subscribe()
			if err != nil {
				t.Error(err)
				return
			}
			seen := map[string]int{}
			for _, id := range idsIn(string(snap)) {
				seen[id]++
			}
			for len(seen) < rooms {
				select {
				case b, ok := <-sub.C:
					if !ok {
						t.Error("subscription closed early")
						return
					}
					for _, id := range idsIn(string(b)) {
						seen[id]++
					}
				case <-time.After(5 * time.Second):
					t.Errorf("subscriber %d saw only %d of %d rooms", i, len(seen), rooms)
					return
				}
			}
			l.Unsubscribe(sub)
			views[i] = seen
		})
	}
	close(start)
	for i := range rooms {
		l.Upsert(card(fmt.Sprintf("r%d", i), 0), int64(i))
	}
	wg.Wait()
	for i, seen := range views {
		for id, n := range seen {
			if n != 1 {
				t.Errorf("subscriber %d saw %s %d times", i, id, n)
			}
		}
	}
}

func TestLobbyClose(t *testing.T) {
	var subscribers atomic.Int64
	l := realtime.NewLobby(realtime.LobbyHooks{Subscribers: func(n int) { subscribers.Store(int64(n)) }})
	a, _, _ := l.Subscribe()
	b, _, _ := l.Subscribe()
	l.Close()
	for _, s := range []*realtime.LobbySubscription{a, b} {
		if _, ok := <-s.C; ok {
			t.Error("subscription still open after Close")
		}
		l.Unsubscribe(s)
	}
	if subscribers.Load() != 0 {
		t.Errorf("subscribers after Close = %d", subscribers.Load())
	}
	// A stream that connects during shutdown must end too, or it holds the server's
	// graceful shutdown until its timeout.
	late, snap, err := l.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	if len(snap) == 0 {
		t.Error("no snapshot after Close")
	}
	select {
	case _, ok := <-late.C:
		if ok {
			t.Error("an event on a subscription made after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a subscription made after Close stays open")
	}
	l.Unsubscribe(late)
	l.Upsert(card("r1", 0), 1) // publishing after Close is harmless
}
