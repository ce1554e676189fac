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
	"gifchat/i18n"
	"gifchat/realtime"
)

func card(id string, members int) components.RoomCard {
	return components.RoomCard{ID: id, Title: "Room " + id, Members: members, Capacity: 10,
		Owner: components.Person{ID: 1, Name: "calm-otter-01", Colour: "c1"}}
}

// subscribe opens a subscription on a stream holding n events and returns it with the
// snapshot, which is the first event.
func subscribe(t *testing.T, l *realtime.Lobby, n int) (*realtime.LobbySubscription, *realtime.ChanStream, string) {
	t.Helper()
	stream := realtime.NewChanStream(n)
	sub, err := l.Subscribe(stream, i18n.En)
	if err != nil {
		t.Fatal(err)
	}
	return sub, stream, next(t, stream)
}

// next reads one event, failing if none comes soon.
func next(t *testing.T, s *realtime.ChanStream) string {
	t.Helper()
	select {
	case b, ok := <-s.C:
		if !ok {
			t.Fatal("stream closed; want an event")
		}
		return b
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return ""
}

// expectNoEvent fails if an event arrives within a moment (the writers are goroutines, so
// "nothing yet" needs a little time to mean "nothing").
func expectNoEvent(t *testing.T, s *realtime.ChanStream) {
	t.Helper()
	select {
	case b, ok := <-s.C:
		if ok {
			t.Fatalf("unexpected event %q", b)
		}
		t.Fatal("stream closed unexpectedly")
	case <-time.After(50 * time.Millisecond):
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

	sub, stream, s := subscribe(t, l, 16)
	defer l.Unsubscribe(sub)
	if !strings.Contains(s, `hx-target="#room-list"`) || !strings.Contains(s, `hx-swap="outerHTML"`) || !strings.Contains(s, `id="room-list"`) {
		t.Errorf("snapshot is not one out-of-band replace of #room-list:\n%s", s)
	}
	if got := strings.Join(idsIn(s), ","); got != "r2,r1" {
		t.Errorf("snapshot lists %s; want r2,r1", got)
	}
	expectNoEvent(t, stream) // the snapshot is not also queued as events

	l.Upsert(card("r3", 0), 300) // new room
	l.Upsert(card("r3", 0), 300) // unchanged: no event
	l.Upsert(card("r1", 4), 999) // member count changed; keeps its place
	l.Remove("r2")               // gone
	l.Remove("r2")               // already gone: no event
	l.Upsert(card("r1", 4), 100) // unchanged again

	ev := next(t, stream)
	if !strings.Contains(ev, `hx-target="#room-list"`) || !strings.Contains(ev, `hx-swap="afterbegin"`) || !strings.Contains(ev, `id="room-r3"`) {
		t.Errorf("event 1 should add r3 at the top of the list:\n%s", ev)
	}
	ev = next(t, stream)
	if !strings.Contains(ev, `hx-target="#room-r1"`) || !strings.Contains(ev, `hx-swap="outerHTML"`) || !strings.Contains(ev, "4 / 10") {
		t.Errorf("event 2 should replace r1's card with 4 members:\n%s", ev)
	}
	ev = next(t, stream)
	if !strings.Contains(ev, `id="room-r2"`) || !strings.Contains(ev, `hx-swap-oob="delete"`) {
		t.Errorf("event 3 should delete r2's card:\n%s", ev)
	}
	expectNoEvent(t, stream)

	if got := l.Rooms(); len(got) != 2 || got[0].ID != "r3" || got[1].ID != "r1" {
		t.Errorf("Rooms() = %+v; want r3, r1 (r1 keeps its first creation time)", got)
	}
}

// TestLobbyDropsFullQueue: a subscriber that stops reading is dropped once its queue is full,
// the publisher never waits for it, and a subscriber that keeps up is not affected.
func TestLobbyDropsFullQueue(t *testing.T) {
	var dropped, subscribers atomic.Int64
	l := realtime.NewLobby(realtime.LobbyHooks{
		Dropped:     func() { dropped.Add(1) },
		Subscribers: func(n int) { subscribers.Store(int64(n)) },
	})
	stalledStream := realtime.NewChanStream(0) // the snapshot's send blocks until the end
	if _, err := l.Subscribe(stalledStream, i18n.En); err != nil {
		t.Fatal(err)
	}
	<-stalledStream.Sending // the writer holds the snapshot: the queue is empty behind it
	live, liveStream, _ := subscribe(t, l, 1)
	defer l.Unsubscribe(live)
	if subscribers.Load() != 2 {
		t.Fatalf("subscribers = %d, want 2", subscribers.Load())
	}

	var liveGot []string
	publish := func(i int) {
		l.Upsert(card(fmt.Sprintf("r%d", i), 0), int64(i))
		liveGot = append(liveGot, next(t, liveStream))
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
	// The stalled stream finishes the send it was blocked in, and is closed without the
	// rest: the browser reconnects for a fresh snapshot, which is all it needs.
	var got []string
	for ev := range stalledStream.C {
		got = append(got, ev)
	}
	if len(got) != 1 || !strings.Contains(got[0], `id="room-list"`) {
		t.Errorf("stalled subscriber got %d events before the close, want only the snapshot", len(got))
	}

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
			stream := realtime.NewChanStream(rooms + 1)
			sub, err := l.Subscribe(stream, i18n.En)
			if err != nil {
				t.Error(err)
				return
			}
			seen := map[string]int{}
			for len(seen) < rooms {
				select {
				case ev, ok := <-stream.C:
					if !ok {
						t.Error("stream closed early")
						return
					}
					for _, id := range idsIn(ev) {
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
	_, a, _ := subscribe(t, l, 4)
	_, b, _ := subscribe(t, l, 4)
	l.Upsert(card("r1", 0), 1)
	l.Close()
	for _, s := range []*realtime.ChanStream{a, b} {
		// What was queued before the close is still sent, then the stream ends.
		if ev := next(t, s); !strings.Contains(ev, `id="room-r1"`) {
			t.Errorf("event before Close = %q, want r1 added", ev)
		}
		select {
		case ev, ok := <-s.C:
			if ok {
				t.Errorf("event after Close: %q", ev)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("stream still open after Close")
		}
	}
	if subscribers.Load() != 0 {
		t.Errorf("subscribers after Close = %d", subscribers.Load())
	}
	// A stream that connects during shutdown must end too, or it holds the server's
	// graceful shutdown until its timeout.
	late, lateStream, snap := subscribe(t, l, 4)
	if !strings.Contains(snap, `id="room-list"`) {
		t.Errorf("no snapshot after Close: %q", snap)
	}
	select {
	case ev, ok := <-lateStream.C:
		if ok {
			t.Errorf("an event on a subscription made after Close: %q", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a subscription made after Close stays open")
	}
	l.Unsubscribe(late)        // safe after the end
	l.Upsert(card("r2", 0), 2) // publishing after Close is harmless
}

// The lobby renders its list and its events once per language its subscribers read, however
// many subscribe, and each subscriber gets the bytes of its own language.
func TestLobbyRendersOncePerLanguage(t *testing.T) {
	var snapshots atomic.Int64
	l := realtime.NewLobby(realtime.LobbyHooks{SnapshotRendered: func() { snapshots.Add(1) }})
	defer l.Close()
	l.Upsert(card("a", 1), 1)
	streams := map[i18n.Lang][]*realtime.ChanStream{}
	for range 3 {
		for _, lang := range i18n.All {
			s := realtime.NewChanStream(8)
			if _, err := l.Subscribe(s, lang); err != nil {
				t.Fatal(err)
			}
			streams[lang] = append(streams[lang], s)
		}
	}
	if n := snapshots.Load(); n != int64(len(i18n.All)) {
		t.Fatalf("the list was rendered %d times for 6 subscribers reading %d languages", n, len(i18n.All))
	}
	for _, lang := range i18n.All {
		first := next(t, streams[lang][0])
		for _, s := range streams[lang][1:] {
			if got := next(t, s); got != first {
				t.Fatalf("%s subscribers got different snapshots", lang.Code())
			}
		}
	}
	l.Upsert(card("b", 2), 2)
	events := map[i18n.Lang]string{}
	for _, lang := range i18n.All {
		for _, s := range streams[lang] {
			got := next(t, s)
			if events[lang] == "" {
				events[lang] = got
			} else if got != events[lang] {
				t.Fatalf("%s subscribers got different events", lang.Code())
			}
		}
	}
	if !strings.Contains(events[i18n.Ko], "Room b") || !strings.Contains(events[i18n.En], "Room b") {
		t.Fatalf("the new room is missing from an event: %q / %q", events[i18n.En], events[i18n.Ko])
	}
}
