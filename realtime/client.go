package realtime

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"gifchat/db"
)

// Close codes sent to browsers. htmx reconnects on 1012 and the 1xxx "try again" codes and
// never on 1000 or 4xxx, so every refusal is a 4xxx with a reason.
const (
	CloseNeedsPassword = 4001 // private room not entered
	CloseFull          = 4003 // every place taken
	CloseRoomGone      = 4004 // room does not exist or was closed
	CloseKicked        = 4008 // removed by the owner, or still barred
	CloseTooMany       = 4029 // too many sockets or connects
	CloseSlow          = websocket.CloseTryAgainLater
	CloseRestart       = websocket.CloseServiceRestart
)

// Client is one WebSocket of one person in one room: a reader goroutine (ServeClient's
// caller), and an outbox whose writer runs only while there is something to send, so an idle
// socket costs one goroutine. Its hub has it pinged.
type Client struct {
	conn     *websocket.Conn
	identity db.Identity
	hub      *Hub
	cfg      *Config
	out      *outbox

	once    sync.Once
	code    int
	reason  string
	dropped atomic.Bool
	// readerDone is closed when the reader stops, i.e. the browser answered our close or went away.
	readerDone chan struct{}
	done       chan struct{} // closed when the connection is closed and the writer is gone
}

func newClient(conn *websocket.Conn, identity db.Identity, cfg *Config) *Client {
	c := &Client{
		conn:       conn,
		identity:   identity,
		cfg:        cfg,
		readerDone: make(chan struct{}),
		done:       make(chan struct{}),
	}
	c.out = newOutbox((*clientSink)(c), cfg.SendQueue)
	return c
}

// enqueue hands a fragment to the writer without blocking. A client whose queue is full is
// closed instead of slowing the room: it reconnects and replays what it missed.
func (c *Client) enqueue(frag []byte) bool {
	if c.out.push(frag) {
		return true
	}
	if c.dropped.CompareAndSwap(false, true) && c.cfg.Hooks.SlowClient != nil {
		c.cfg.Hooks.SlowClient()
	}
	c.close(CloseSlow, "too far behind; reconnecting")
	return false
}

// close ends the socket with a close frame: after what is queued (e.g. the refusal's visible
// reason), unless the client is being dropped for being slow.
func (c *Client) close(code int, reason string) {
	c.once.Do(func() {
		c.code, c.reason = code, reason
		c.out.close(code == CloseSlow)
	})
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
		if c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(c.code, c.reason)) == nil {
			select {
			case <-c.readerDone:
			case <-time.After(time.Second):
			}
		}
	}
	c.conn.Close()
	close(c.done)
}

// readLoop reads the socket until it fails, handing each frame to the hub.
func (c *Client) readLoop() {
	defer close(c.readerDone)
	c.conn.SetReadLimit(c.cfg.MaxFrameBytes)
	c.conn.SetReadDeadline(time.Now().Add(c.cfg.PongWait))
	c.conn.SetPongHandler(func(string) error {
		c.conn.SetReadDeadline(time.Now().Add(c.cfg.PongWait))
		return nil
	})
	for {
		kind, data, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		c.conn.SetReadDeadline(time.Now().Add(c.cfg.PongWait))
		if kind != websocket.TextMessage {
			c.hub.refuseFrame(c, "Only text messages are accepted.")
			continue
		}
		c.hub.receive(c, data)
	}
}
