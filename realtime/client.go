package realtime

import (
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"gifchat/db"
	"gifchat/i18n"
)

// Close codes sent to browsers. htmx reconnects on 1012 and the 1xxx "try again" codes and
// never on 1000 or 4xxx, so every refusal is a 4xxx with a reason.
const (
	CloseNeedsPassword = 4001                         // private room not entered
	CloseFull          = 4003                         // every place taken
	CloseRoomGone      = 4004                         // room does not exist or was closed
	CloseKicked        = 4008                         // removed by the owner, or still barred
	CloseLocked        = 4009                         // the owner locked the room
	CloseNameTaken     = 4010                         // someone present goes by the name the person chose
	CloseTooMany       = 4029                         // too many sockets or connects
	CloseTryAgain      = websocket.CloseTryAgainLater // a rate limit: come back after a back-off
	CloseSlow          = websocket.CloseTryAgainLater // too far behind: reconnect and replay
	CloseRestart       = websocket.CloseServiceRestart
)

// Client is one WebSocket of one person in one room: a reader (serve, started by Rooms.Serve
// once admitted) that runs only while the browser sends something, and an outbox whose writer
// runs only while there is something to send, so an idle socket costs no goroutine (on Linux;
// one small one elsewhere). Its hub has it pinged.
type Client struct {
	conn     *websocket.Conn
	identity db.Identity
	addr     string    // the client's address as bars key it ("" unknown); see Rooms.Serve
	lang     i18n.Lang // the language its fragments are rendered in
	panel    string    // the members panel its page shows (Socket.Panel), for its join
	// has is the last seq of the room's log the browser has (its ?after= cursor) where that
	// is beyond what the hub delivered: in a cluster, a page can show entries another
	// instance committed before they reach this one (deliverTo).
	has  int64
	row  int64 // in a cluster, the socket's connection row (db.Admitted.Conn)
	hub  *Hub
	cfg  *Config
	out  *outbox
	idle *idleWait
	// ended runs when the socket has left its room and is closed (Rooms.Serve's caller's).
	ended func()

	once    sync.Once
	code    int
	reason  string // the close frame's reason, as a catalog key
	dropped atomic.Bool
	seen    atomic.Int64 // when the browser last sent anything, pongs included (unix ns)
	fin     ending
}

// ending is how a socket's reader and writer wait for each other at its end: the writer, after
// its close frame, for the reader to stop (the browser answered or went away); the reader,
// before it lets the socket go, for the writer to have closed the connection. Nobody waits
// before the end, so the channel is made only then, by whichever side waits.
type ending struct {
	mu             sync.Mutex
	reader, writer bool          // stopped
	wake           chan struct{} // the waiting side's, closed when the other side stops
}

// stopped notes that one side (the reader, or the writer) has stopped and wakes a wait for it.
func (e *ending) stopped(reader bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if reader {
		e.reader = true
	} else {
		e.writer = true
	}
	if e.wake != nil {
		close(e.wake)
		e.wake = nil
	}
}

// waitFor returns once the reader (reader true) or the writer has stopped, or when timeout
// fires (nil: never).
func (e *ending) waitFor(reader bool, timeout <-chan time.Time) {
	e.mu.Lock()
	if reader && e.reader || !reader && e.writer {
		e.mu.Unlock()
		return
	}
	wake := make(chan struct{})
	e.wake = wake
	e.mu.Unlock()
	select {
	case <-wake:
	case <-timeout:
	}
}

func newClient(conn *websocket.Conn, identity db.Identity, cfg *Config) *Client {
	c := &Client{
		conn:     conn,
		identity: identity,
		cfg:      cfg,
	}
	c.out = newOutbox((*clientSink)(c), cfg.SendQueue, cfg.SendQueueBytes)
	c.seen.Store(time.Now().UnixNano())
	return c
}

// enqueue hands a fragment to the writer without blocking. A client whose queue is full (in
// fragments, SendQueue, or in bytes, SendQueueBytes) is closed instead of slowing the room:
// it reconnects and replays what it missed.
func (c *Client) enqueue(frag []byte) bool {
	if c.out.push(frag) {
		return true
	}
	if c.dropped.CompareAndSwap(false, true) && c.cfg.Hooks.SlowClient != nil {
		c.cfg.Hooks.SlowClient()
	}
	c.close(CloseSlow, closeSlow)
	return false
}

// close ends the socket with a close frame whose reason is the catalog key reason (or ""),
// said in the socket's language: after what is queued (e.g. the refusal's visible reason),
// unless the client is being dropped for being slow.
func (c *Client) close(code int, reason string) {
	c.once.Do(func() {
		c.code, c.reason = code, reason
		c.out.close(code == CloseSlow)
	})
}

// alive pings the socket, or closes it when the browser has not answered (nor sent anything)
// for PongWait: the reader then fails and the socket leaves its room. The hub calls it for
// every socket each PingInterval.
func (c *Client) alive(now time.Time) {
	if now.UnixNano()-c.seen.Load() > int64(c.cfg.PongWait) {
		c.hangUp()
		return
	}
	c.out.keepalive()
}

// clientSink is the Client as its outbox's sink.
type clientSink Client

// send writes every queued fragment as one frame: one system call instead of many when a
// socket has fallen a little behind, and no added delay when only one is waiting (htmx
// applies every out-of-band part of a frame, in order).
func (s *clientSink) send(frags [][]byte) error {
	c := (*Client)(s)
	c.conn.SetWriteDeadline(time.Now().Add(c.cfg.WriteWait))
	w, err := c.conn.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	for _, f := range frags {
		if _, err := w.Write(f); err != nil {
			return err
		}
	}
	return w.Close()
}

// keepalive sends a ping; the reader's deadline expires if the pongs stop.
func (s *clientSink) keepalive() error {
	c := (*Client)(s)
	c.conn.SetWriteDeadline(time.Now().Add(c.cfg.WriteWait))
	return c.conn.WriteMessage(websocket.PingMessage, nil)
}

// end sends the close frame (after close), gives the browser a moment to answer it, and
// drops the TCP connection.
func (s *clientSink) end(goodbye bool) {
	c := (*Client)(s)
	if goodbye {
		c.conn.SetWriteDeadline(time.Now().Add(c.cfg.WriteWait))
		if c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(c.code, closeText(c.lang, c.reason))) == nil {
			c.fin.waitFor(true, time.After(time.Second))
		}
	}
	c.hangUp()
	c.fin.stopped(false)
}

// hangUp drops the TCP connection. A parked reader is woken to find it closed and take the
// socket out of its room: a closed connection leaves the idle poller without an event.
func (c *Client) hangUp() {
	c.conn.Close()
	c.idle.wake()
}

// prepareRead sets up the reader before it first runs. There is no read deadline: the hub's
// ping ticker closes a socket that has been silent too long (see alive).
func (c *Client) prepareRead() {
	c.conn.SetReadLimit(c.cfg.MaxFrameBytes)
	c.conn.SetPongHandler(func(string) error {
		c.ponged()
		return nil
	})
}

// serve reads the socket until it fails, then takes the socket out of its room and closes it.
//
// An idle socket's reader is most of what the socket costs, so it is not kept waiting: it
// reads while the browser sends (frames, and the pongs that answer the hub's pings), and then
// parks the socket with the idle poller and returns; the poller runs it again (resumed) when
// the socket becomes readable (idlewait_linux.go). Where sockets cannot be parked, the reader
// waits on its own goroutine, kept shallow: a goroutine starts with 2 KiB of stack, of which
// about 1.1 KiB may be used before it doubles, and a doubled stack only shrinks back while
// under a quarter of it is in use. Hence no read deadline, the setup done before, the work
// for each frame and the leaving in functions of their own, and the wait for the next frame
// outside gorilla's reader (idleWait.ready).
func (c *Client) serve(ended func()) {
	c.ended = ended
	c.idle.attach(c)
	c.resumed()
}

// resumed reads frames for as long as the socket has them. It returns when the socket is
// parked (to be resumed by the idle poller) or the reader has stopped.
func (c *Client) resumed() {
	for c.idle.ready() {
		kind, r, err := c.conn.NextReader()
		if err != nil || !c.received(kind, r) {
			c.finish()
			return
		}
	}
}

// ponged notes that the browser answered a ping.
func (c *Client) ponged() {
	c.seen.Store(time.Now().UnixNano())
}

// received hands one frame to the hub. It reports false when the frame could not be read
// (e.g. over the read limit: gorilla has sent 1009).
//
//go:noinline
func (c *Client) received(kind int, r io.Reader) bool {
	data, err := io.ReadAll(r)
	if err != nil {
		return false
	}
	c.seen.Store(time.Now().UnixNano())
	if kind != websocket.TextMessage {
		c.hub.submit(c, refuseCmd{errTextOnly})
		return true
	}
	c.hub.receive(c, data)
	return true
}

// finish runs when the reader has stopped.
//
//go:noinline
func (c *Client) finish() {
	c.idle.release()
	c.fin.stopped(true)
	c.hub.leave(c)
	c.close(websocket.CloseNormalClosure, "")
	c.fin.waitFor(false, nil)
	c.ended()
}
