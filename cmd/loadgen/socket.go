package main

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// roomSocket is one person's room WebSocket, kept up the way the browser
// keeps it up: the page's script connects with ?after=<newest message id it
// holds> and htmx reconnects after a close that asks for it (a restart's
// 1012, a slow socket's 1013, a dropped connection), again with ?after=, so
// the server replays what was missed; its backoff says when (see backoff.go).
// The product drops sockets that fall behind (1013) on purpose and relies on
// exactly this, so a load generator that did not reconnect would report as
// lost what a browser would have received late.
type roomSocket struct {
	p       *person
	room    string
	retries int        // reconnect attempts allowed over the socket's life; < 0: no limit
	backoff *backoff   // when to reconnect, and after which closes
	wire    *wireStats // shared by all sockets of a run

	mu   sync.Mutex
	conn *websocket.Conn

	closing  atomic.Bool
	shutOnce sync.Once
	stop     chan struct{} // closed by shutdown: interrupts a reconnect backoff
	exited   chan struct{} // closed when the reader goroutine returns

	// upSince is when the connection in use opened (unix nanos), 0 while the
	// socket is down: from a close until a reconnect succeeds.
	upSince atomic.Int64
	// attempts counts reconnect attempts (dials after a close), successful or not.
	attempts atomic.Int64
	// lastID is the newest entry of the room's log the socket holds (data-seq), for
	// ?after=; written by the reader only.
	lastID atomic.Int64
	// panel is the fingerprint of the members panel the page would show (the last
	// members-digest tag received), for ?panel= as app.js sends it; reader owned.
	panel string

	// Reader owned; read by others only after exited is closed.
	endReason    string // why the socket ended for good, "" if we closed it
	reconnects   tally  // closes that were followed by a reconnect, by reason
	dialFailures tally  // reconnect attempts that failed (refused connection, HTTP status), by reason
}

// wireStats counts what all sockets of a run receive. It tells how much the
// server sends besides the chat messages themselves (member lists, notices),
// and when the last frame arrived, which is how setup knows the join
// traffic has died down.
type wireStats struct {
	frames    atomic.Int64
	bytes     atomic.Int64
	panels    atomic.Int64 // frames that carried the whole members panel
	lastFrame atomic.Int64 // unix nanos
	// typing, when set, also counts the "… is typing" lines received (chat with -typers).
	typing *typingStats
}

func (w *wireStats) add(n int) {
	w.frames.Add(1)
	w.bytes.Add(int64(n))
	w.lastFrame.Store(time.Now().UnixNano())
}

// waitQuiet returns once no socket has received anything for quiet, or
// after limit, whichever is first. It reports whether it saw quiet.
func (w *wireStats) waitQuiet(ctx context.Context, quiet, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(quiet / 5)
	defer tick.Stop()
	for {
		if time.Since(time.Unix(0, w.lastFrame.Load())) >= quiet {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return false
		}
	}
}

// reconnectable reports whether the fast backoff reconnects after err ended a
// read: after anything but a normal close (1000) or a refusal (4xxx).
func reconnectable(err error) bool {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code != websocket.CloseNormalClosure && ce.Code < 4000
	}
	return true // network errors and closes without a frame (1006)
}

// openRoomSocket enters the room and opens its socket. The room page tells
// the newest message id it shows, which becomes ?after= exactly as the
// page's script would set it. It returns the handshake time separately from
// the page load, since that is the part the connect figures describe.
// retries < 0 reconnects without limit; a nil backoff is htmx's.
func openRoomSocket(ctx context.Context, p *person, room string, retries int, bo *backoff, wire *wireStats) (*roomSocket, time.Duration, error) {
	page, err := p.getPage(ctx, "/rooms/"+room)
	if err != nil {
		return nil, 0, &phaseError{"enter", err}
	}
	if bo == nil {
		bo = htmxBackoff
	}
	s := &roomSocket{
		p: p, room: room, retries: retries, backoff: bo, wire: wire,
		stop: make(chan struct{}), exited: make(chan struct{}),
		reconnects: tally{}, dialFailures: tally{},
	}
	s.lastID.Store(maxDataSeq(page))
	s.panel = lastPanelDigest(page)
	t0 := time.Now()
	conn, err := p.dialRoom(ctx, room, s.lastID.Load(), s.panel)
	if err != nil {
		return nil, 0, &phaseError{"ws", err}
	}
	s.conn = conn
	s.upSince.Store(time.Now().UnixNano())
	return s, time.Since(t0), nil
}

// phaseError says in which step of joining a room a failure happened.
type phaseError struct {
	phase string
	err   error
}

func (e *phaseError) Error() string { return e.phase + ": " + e.err.Error() }
func (e *phaseError) Unwrap() error { return e.err }

// failureReason condenses a join error for the failure tally.
func failureReason(err error) string {
	var pe *phaseError
	if errors.As(err, &pe) {
		return pe.phase + ": " + shortErr(pe.err)
	}
	return shortErr(err)
}

// maxDataSeq returns the largest data-seq="N" in b, 0 if there is none.
func maxDataSeq(b []byte) int64 {
	var maxID int64
	for {
		i := bytes.Index(b, dataSeqMarker)
		if i < 0 {
			return maxID
		}
		b = b[i+len(dataSeqMarker):]
		if id, rest, ok := leadingInt(b, '"'); ok {
			maxID = max(maxID, id)
			b = rest
		}
	}
}

var (
	panelDigestMarker = []byte(`id="members-digest" hidden data-digest="`)
	wholePanelMarker  = []byte(`<hx-partial hx-target="#members" hx-swap="outerHTML">`)
)

// lastPanelDigest returns the fingerprint of the last members-digest tag in b (the server
// sends one with every change of the members panel), "" if there is none.
func lastPanelDigest(b []byte) string {
	i := bytes.LastIndex(b, panelDigestMarker)
	if i < 0 {
		return ""
	}
	b = b[i+len(panelDigestMarker):]
	if j := bytes.IndexByte(b, '"'); j > 0 && j <= 13 {
		return string(b[:j])
	}
	return ""
}

// current returns the connection in use now (it changes on reconnect).
func (s *roomSocket) current() *websocket.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

// isUp reports whether the socket has an open connection (it is not between a
// close and a reconnect).
func (s *roomSocket) isUp() bool { return s.upSince.Load() != 0 }

// run is the socket's reader goroutine. It hands every entry of the room's
// log (data-seq with a data-kind or a msg-text; kind and text are nil when
// absent) to onEntry and every refusal notice to onRefusal (either may be
// nil), and reconnects as a browser would until the socket ends for good or
// shutdown is called.
func (s *roomSocket) run(ctx context.Context, onEntry func(id int64, kind, text []byte), onRefusal func(text []byte)) {
	defer close(s.exited)
	var buf bytes.Buffer
	handle := func(frame []byte) {
		ScanEntries(frame, func(id int64, kind, text []byte) {
			if id > s.lastID.Load() {
				s.lastID.Store(id)
			}
			if onEntry != nil {
				onEntry(id, kind, text)
			}
		})
		if onRefusal != nil {
			ScanStatusErrors(frame, onRefusal)
		}
		if d := lastPanelDigest(frame); d != "" {
			s.panel = d
		}
	}
	conn := s.current()
	for {
		err := readFrames(conn, &buf, s.wire, handle)
		s.upSince.Store(0)
		if s.closing.Load() {
			return
		}
		// The connection is over: close it, so a sender still writing to it
		// fails at once and waits for the next one, as htmx queues what is
		// sent while its socket is not open.
		conn.Close()
		reason := closeReason(err)
		debugf("person %d: socket ended: %v", s.p.idx, err)
		if !s.backoff.reconnects(err) {
			s.endReason = reason
			return
		}
		s.reconnects.add(reason)
		// streak counts the attempts since the socket was last open, which is
		// what the backoff grows with (htmx resets it when a socket opens).
		for streak := 1; ; streak++ {
			if s.retries >= 0 && s.attempts.Load() >= int64(s.retries) {
				s.endReason = reason + " (gave up reconnecting)"
				return
			}
			// A crowd of browsers dropped at once must not come back in
			// lockstep: the backoff grows and is jittered.
			select {
			case <-time.After(s.backoff.wait(streak)):
			case <-s.stop:
				return
			case <-ctx.Done():
				s.endReason = "context ended"
				return
			}
			s.attempts.Add(1)
			next, err := s.p.dialRoom(ctx, s.room, s.lastID.Load(), s.panel)
			if err != nil {
				debugf("person %d: reconnect attempt %d: %v", s.p.idx, streak, err)
				reason = "reconnect ws: " + shortErr(err)
				s.dialFailures.add(shortErr(err))
				continue
			}
			s.mu.Lock()
			if s.closing.Load() {
				s.mu.Unlock()
				next.Close()
				return
			}
			conn, s.conn = next, next
			s.upSince.Store(time.Now().UnixNano())
			s.mu.Unlock()
			break
		}
	}
}

// readFrames reads conn until it fails, handing each frame to handle.
func readFrames(conn *websocket.Conn, buf *bytes.Buffer, wire *wireStats, handle func(frame []byte)) error {
	conn.SetReadLimit(16 << 20)
	for {
		_, r, err := conn.NextReader()
		if err != nil {
			return err
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			return err
		}
		wire.add(buf.Len())
		if bytes.Contains(buf.Bytes(), wholePanelMarker) {
			wire.panels.Add(1)
		}
		wire.typing.count(buf.Bytes())
		handle(buf.Bytes())
	}
}

// shutdown closes the socket politely (close frame, a grace period for the
// server's answer, then the TCP connection) and waits for the reader. Only
// the first call does anything. The reader goroutine must have been started.
func (s *roomSocket) shutdown(grace <-chan struct{}) {
	s.shutOnce.Do(func() { s.doShutdown(grace) })
}

func (s *roomSocket) doShutdown(grace <-chan struct{}) {
	s.mu.Lock()
	s.closing.Store(true)
	conn := s.conn
	s.mu.Unlock()
	close(s.stop)
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	_ = conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	select {
	case <-s.exited:
	case <-grace:
	}
	conn.Close()
	<-s.exited
}

// shutdownAll shuts sockets down in parallel with one shared grace period.
func shutdownAll(sockets []*roomSocket) {
	grace, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range sockets {
		wg.Go(func() { s.shutdown(grace.Done()) })
	}
	wg.Wait()
}

// afterQuery is the ?after= query for a socket URL.
func afterQuery(after int64) string { return "after=" + strconv.FormatInt(after, 10) }
