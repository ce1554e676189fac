// Package realtime carries live state to browsers: the lobby stream (SSE) and the room hubs
// (WebSocket). It renders events once, with components, and fans out the same bytes.
package realtime

import (
	"bytes"
	"context"
	"sort"
	"sync"

	"gifchat/components"
)

// LobbySubscriberQueue is how many events a lobby subscriber may fall behind before it is
// dropped. A dropped subscriber reconnects and gets a fresh snapshot, so dropping loses nothing.
const LobbySubscriberQueue = 64

// Lobby keeps the lobby's view of every room (title, members now, capacity, owner) and streams
// changes to subscribers. It is the single source of the list both for the snapshot sent on
// connect and for the events after it; taking the snapshot and registering happen under one
// lock, so a subscriber never misses an event nor sees one twice.
type Lobby struct {
	mu    sync.Mutex
	rooms map[string]lobbyRoom
	subs  map[*LobbySubscription]struct{}
	hooks LobbyHooks
	// closed is set by Close: later subscriptions end at once instead of outliving shutdown.
	closed bool
}

type lobbyRoom struct {
	card    components.RoomCard
	created int64
}

// LobbyHooks observe the lobby for metrics; nil fields are skipped.
type LobbyHooks struct {
	Subscribers func(n int)
	Dropped     func()
}

// LobbySubscription is one open lobby stream.
type LobbySubscription struct {
	// C delivers rendered event payloads (HTML with out-of-band parts). It is closed when the
	// subscriber is dropped for falling behind or the lobby shuts down.
	C  <-chan []byte
	ch chan []byte
}

// NewLobby returns an empty lobby.
func NewLobby(hooks LobbyHooks) *Lobby {
	return &Lobby{rooms: map[string]lobbyRoom{}, subs: map[*LobbySubscription]struct{}{}, hooks: hooks}
}

// Subscribe registers a subscriber and returns it with a snapshot of the whole list, which
// the stream sends first.
func (l *Lobby) Subscribe() (*LobbySubscription, []byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var buf bytes.Buffer
	if err := components.RoomListOOB(l.sortedLocked()).Render(context.Background(), &buf); err != nil {
		return nil, nil, err
	}
	ch := make(chan []byte, LobbySubscriberQueue)
	s := &LobbySubscription{C: ch, ch: ch}
	if l.closed {
		// A stream opened during shutdown gets its snapshot and ends, so it cannot hold the
		// server's graceful shutdown open until its timeout.
		close(ch)
		return s, buf.Bytes(), nil
	}
	l.subs[s] = struct{}{}
	l.countLocked()
	return s, buf.Bytes(), nil
}

// Unsubscribe removes a subscriber (safe to call after it was dropped).
func (l *Lobby) Unsubscribe(s *LobbySubscription) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.subs[s]; ok {
		delete(l.subs, s)
		close(s.ch)
		l.countLocked()
	}
}

// Rooms returns the current list, newest first.
func (l *Lobby) Rooms() []components.RoomCard {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sortedLocked()
}

// Room returns one room's card.
func (l *Lobby) Room(id string) (components.RoomCard, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.rooms[id]
	return r.card, ok
}

// Upsert adds a room or updates its card (member count, owner) and tells every subscriber.
// createdAt orders the list; it is kept from the first call.
func (l *Lobby) Upsert(card components.RoomCard, createdAt int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	old, exists := l.rooms[card.ID]
	if exists {
		if old.card == card {
			return
		}
		createdAt = old.created
	}
	l.rooms[card.ID] = lobbyRoom{card: card, created: createdAt}
	var buf bytes.Buffer
	if err := components.RoomItemOOB(card, !exists).Render(context.Background(), &buf); err != nil {
		return
	}
	l.publishLocked(buf.Bytes())
}

// Remove takes a room off the list and tells every subscriber.
func (l *Lobby) Remove(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.rooms[id]; !ok {
		return
	}
	delete(l.rooms, id)
	var buf bytes.Buffer
	if err := components.RoomGoneOOB(id).Render(context.Background(), &buf); err != nil {
		return
	}
	l.publishLocked(buf.Bytes())
}

// Close drops every subscriber; their streams end.
func (l *Lobby) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for s := range l.subs {
		delete(l.subs, s)
		close(s.ch)
	}
	l.countLocked()
}

// publishLocked hands the same bytes to every subscriber without ever blocking: one whose
// queue is full is dropped, and catches up from the snapshot when it reconnects.
func (l *Lobby) publishLocked(payload []byte) {
	for s := range l.subs {
		select {
		case s.ch <- payload:
		default:
			delete(l.subs, s)
			close(s.ch)
			if l.hooks.Dropped != nil {
				l.hooks.Dropped()
			}
		}
	}
	l.countLocked()
}

func (l *Lobby) countLocked() {
	if l.hooks.Subscribers != nil {
		l.hooks.Subscribers(len(l.subs))
	}
}

func (l *Lobby) sortedLocked() []components.RoomCard {
	rooms := make([]lobbyRoom, 0, len(l.rooms))
	for _, r := range l.rooms {
		rooms = append(rooms, r)
	}
	sort.Slice(rooms, func(i, j int) bool {
		if rooms[i].created != rooms[j].created {
			return rooms[i].created > rooms[j].created
		}
		return rooms[i].card.ID < rooms[j].card.ID
	})
	out := make([]components.RoomCard, len(rooms))
	for i, r := range rooms {
		out[i] = r.card
	}
	return out
}
