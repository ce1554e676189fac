// Package realtime carries live state to browsers: the lobby stream (SSE) and the room hubs
// (WebSocket). It renders events once, with components, and fans out the same bytes.
package realtime

import (
	"bytes"
	"errors"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/a-h/templ"

	"gifchat/components"
	"gifchat/i18n"
)

// LobbySubscriberQueue is how many events a lobby subscriber may fall behind before it is
// dropped. A dropped subscriber reconnects and gets a fresh snapshot, so dropping loses nothing.
const LobbySubscriberQueue = 64

// LobbyHeartbeat is how often every lobby stream gets a comment line, so proxies keep it open
// and a subscriber that has gone away is noticed (its write fails).
const LobbyHeartbeat = 20 * time.Second

// Lobby keeps the lobby's view of every room (title, members now, capacity, owner) and streams
// changes to subscribers. It is the single source of the list both for the snapshot sent on
// connect and for the events after it; taking the snapshot and registering happen under one
// lock, so a subscriber never misses an event nor sees one twice.
//
// Events are rendered and framed once and the same bytes queued for every subscriber; so is
// the snapshot, rendered again only after the list has changed. Each subscriber's outbox
// runs a writer only while it has something to send, so an idle stream costs no goroutine:
// ten thousand open lobbies are ten thousand connections and queues.
type Lobby struct {
	mu    sync.Mutex
	rooms map[string]lobbyRoom
	subs  map[*LobbySubscription]struct{}
	hooks LobbyHooks
	// snapshot is the whole list, rendered and framed in each language as the next
	// subscriber reading it gets it; reset once the list has changed. Every room needs mu,
	// so it is not held to render the list for each connect.
	snapshot *frag
	// closed is set by Close: later subscriptions end at once instead of outliving shutdown.
	closed    bool
	heartbeat time.Duration
	beat      *time.Timer // runs while there are subscribers

	streams lobbyStreams
}

type lobbyRoom struct {
	card    components.RoomCard
	created int64
}

// LobbyHooks observe the lobby for metrics; nil fields are skipped.
type LobbyHooks struct {
	Subscribers func(n int)
	Dropped     func()
	// SnapshotRendered is told each time the whole list is rendered for subscribers: once
	// per change of the list at most, however many subscribe in between.
	SnapshotRendered func()
}

// LobbyStream is where one subscriber's events go: an event-stream response.
type LobbyStream interface {
	// Send writes framed events (and flushes them), each whole; only one Send runs at a time.
	Send(events [][]byte) error
	// Close ends the stream. It is called once, after the last Send.
	Close()
}

// LobbySubscription is one open lobby stream.
type LobbySubscription struct {
	lobby  *Lobby
	lang   i18n.Lang
	stream LobbyStream
	out    *outbox
}

// NewLobby returns an empty lobby.
func NewLobby(hooks LobbyHooks) *Lobby {
	return &Lobby{rooms: map[string]lobbyRoom{}, subs: map[*LobbySubscription]struct{}{}, hooks: hooks, heartbeat: LobbyHeartbeat}
}

// Subscribe registers a stream and sends it a snapshot of the whole list first, then every
// change and a heartbeat, until the stream fails, falls LobbySubscriberQueue events behind,
// is unsubscribed or the lobby closes; the stream is then closed.
//
// The stream's events are rendered in lang: once per language its subscribers read.
func (l *Lobby) Subscribe(stream LobbyStream, lang i18n.Lang) (*LobbySubscription, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	snapshot := l.snapshotLocked().In(lang)
	if snapshot == nil {
		return nil, errLobbyRender
	}
	s := &LobbySubscription{lobby: l, stream: stream, lang: lang}
	// No byte bound: what a subscriber holds are events and the snapshot, the same bytes for
	// every subscriber, and at most LobbySubscriberQueue of them.
	s.out = newOutbox((*lobbySink)(s), LobbySubscriberQueue, 0)
	if l.closed {
		// A stream opened during shutdown gets its snapshot and ends, so it cannot hold the
		// server's graceful shutdown open until its timeout.
		s.out.push(snapshot)
		s.out.close(false)
		return s, nil
	}
	l.subs[s] = struct{}{}
	if l.beat == nil {
		l.beat = time.AfterFunc(l.heartbeat, l.beatAll)
	}
	l.countLocked()
	s.out.push(snapshot)
	return s, nil
}

// snapshotLocked returns the whole list as one framed event: in each language, the bytes
// rendered for an earlier subscriber while the list has not changed since, else freshly
// rendered ones.
func (l *Lobby) snapshotLocked() *frag {
	if l.snapshot == nil {
		l.snapshot = &frag{comp: components.RoomListOOB(l.sortedLocked()), render: func(lang i18n.Lang, c templ.Component) []byte {
			if l.hooks.SnapshotRendered != nil {
				l.hooks.SnapshotRendered()
			}
			return l.renderEvent(lang, c)
		}}
	}
	return l.snapshot
}

var errLobbyRender = errors.New("lobby: the room list could not be rendered")

// event prepares one framed event for every subscriber, rendered once per language read.
func (l *Lobby) event(c templ.Component) *frag { return &frag{comp: c, render: l.renderEvent} }

func (l *Lobby) renderEvent(lang i18n.Lang, c templ.Component) []byte {
	b, err := renderIn(lang, c)
	if err != nil {
		return nil
	}
	return frameSSE(b)
}

// Unsubscribe ends a subscription: what is queued is dropped and the stream closed (safe to
// call after it has ended).
func (l *Lobby) Unsubscribe(s *LobbySubscription) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.removeLocked(s)
	s.out.close(true)
}

func (l *Lobby) removeLocked(s *LobbySubscription) {
	if _, ok := l.subs[s]; ok {
		delete(l.subs, s)
		l.countLocked()
	}
}

// beatAll queues a heartbeat for every subscriber; it reschedules itself while any remain.
func (l *Lobby) beatAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for s := range l.subs {
		s.out.keepalive()
	}
	if len(l.subs) > 0 && !l.closed {
		l.beat.Reset(l.heartbeat)
	} else {
		l.beat = nil
	}
}

// lobbySink is a subscription as its outbox's sink.
type lobbySink LobbySubscription

func (s *lobbySink) send(events [][]byte) error { return s.stream.Send(events) }

func (s *lobbySink) keepalive() error { return s.stream.Send([][]byte{sseComment}) }

func (s *lobbySink) end(bool) {
	l := s.lobby
	l.mu.Lock()
	l.removeLocked((*LobbySubscription)(s))
	l.mu.Unlock()
	s.stream.Close()
}

var sseComment = []byte(": ping\n\n")

// frameSSE frames HTML as one event: a data: line per line of payload, then a blank line.
// A browser's event-stream parser ends a line at \r\n, \n or a lone \r, so all three end one
// here: a lone \r left inside a data: line would end it early, and the browser would read
// what follows as a field of its own (an "event:" or "id:" of the payload's choosing).
func frameSSE(payload []byte) []byte {
	buf := make([]byte, 0, len(payload)+len(payload)/32+16)
	for len(payload) > 0 {
		line := payload
		if i := bytes.IndexAny(payload, "\r\n"); i >= 0 {
			end := i + 1
			if payload[i] == '\r' && end < len(payload) && payload[end] == '\n' {
				end++
			}
			line, payload = payload[:i], payload[end:]
		} else {
			payload = nil
		}
		buf = append(buf, "data: "...)
		buf = append(buf, line...)
		buf = append(buf, '\n')
	}
	return append(buf, '\n')
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
	l.snapshot = nil
	l.publishLocked(l.event(components.RoomItemOOB(card, !exists)))
}

// Remove takes a room off the list and tells every subscriber.
func (l *Lobby) Remove(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.rooms[id]; !ok {
		return
	}
	delete(l.rooms, id)
	l.snapshot = nil
	l.publishLocked(l.event(components.RoomGoneOOB(id)))
}

// Close ends every subscription after what is queued for it; their streams end.
func (l *Lobby) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for s := range l.subs {
		delete(l.subs, s)
		s.out.close(false)
	}
	if l.beat != nil {
		l.beat.Stop()
		l.beat = nil
	}
	l.countLocked()
}

// publishLocked queues the same framed event for every subscriber without ever blocking: one
// whose queue is full is dropped, and catches up from the snapshot when it reconnects.
func (l *Lobby) publishLocked(event *frag) {
	dropped := false
	for s := range l.subs {
		b := event.In(s.lang)
		if b == nil {
			continue // a render error: its next snapshot, on reconnect, heals the list
		}
		if !s.out.push(b) {
			delete(l.subs, s)
			s.out.close(true)
			dropped = true
			if l.hooks.Dropped != nil {
				l.hooks.Dropped()
			}
		}
	}
	if dropped {
		l.countLocked()
	}
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

// LobbyLimits caps the lobby streams open at once; a zero field is no cap. Each open stream
// holds a connection and a queue, and every change is queued to each.
type LobbyLimits struct {
	PerSession int // one person's tabs
	PerAddress int // everyone behind one client address (a home, an office, a NAT)
}

// lobbyStreams counts open streams per session and per client address, under a lock of its
// own: a connect must not wait on the lobby's lock, which every room needs.
type lobbyStreams struct {
	mu        sync.Mutex
	limits    LobbyLimits
	bySession map[int64]int
	byAddress map[netip.Addr]int
}

// SetLimits sets the caps Reserve applies from now on.
func (l *Lobby) SetLimits(limits LobbyLimits) {
	l.streams.mu.Lock()
	defer l.streams.mu.Unlock()
	l.streams.limits = limits
}

// Reserve takes a place for one more stream of session from addr (the client address as
// the caller counts it), before the stream is opened, or refuses with a *Refusal that says
// which cap was reached. release gives the place back when the stream has ended; later
// calls do nothing.
func (l *Lobby) Reserve(session int64, addr netip.Addr) (release func(), err error) {
	st := &l.streams
	st.mu.Lock()
	defer st.mu.Unlock()
	if n := st.bySession[session]; st.limits.PerSession > 0 && n >= st.limits.PerSession {
		return nil, refusal("errors.lobby.per_person", "Count", n)
	}
	if n := st.byAddress[addr]; st.limits.PerAddress > 0 && n >= st.limits.PerAddress {
		return nil, refusal("errors.lobby.per_address", "Count", n)
	}
	if st.bySession == nil {
		st.bySession, st.byAddress = map[int64]int{}, map[netip.Addr]int{}
	}
	st.bySession[session]++
	st.byAddress[addr]++
	var once sync.Once
	return func() {
		once.Do(func() {
			st.mu.Lock()
			defer st.mu.Unlock()
			decrement(st.bySession, session)
			decrement(st.byAddress, addr)
		})
	}, nil
}

// decrement counts one fewer for k, forgetting k at zero so that the map holds only what is open.
func decrement[K comparable](m map[K]int, k K) {
	if m[k] <= 1 {
		delete(m, k)
	} else {
		m[k]--
	}
}
