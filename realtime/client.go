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

// Client is one WebSocket of one person in one room: one reader goroutine (ServeClient's
// caller) and one writer goroutine, with a bounded queue between the hub and the writer.
type Client struct {
	conn     *websocket.Conn
	identity db.Identity
	hub      *Hub
	cfg      *Config

	// queue holds fragments for the writer, at most cfg.SendQueue. A slice under a mutex
	// rather than a buffered channel: an idle socket then holds no queue memory at all.
	mu      sync.Mutex
	queue   [][]byte
	spare   [][]byte      // the writer's last batch, reused as the next queue
	wake    chan struct{} // capacity 1: "the queue has something"
	closing chan struct{}
	once    sync.Once
	code    int
	reason  string
	dropped atomic.Bool
	// readerDone is closed when the reader stops, i.e. the browser answered our close or went away.
	readerDone chan struct{}
	done       chan struct{}
}

func newClient(conn *websocket.Conn, identity db.Identity, cfg *Config) *Client {
	return &Client{
		conn:       conn,
		identity:   identity,
		cfg:        cfg,
		wake:       make(chan struct{}, 1),
		closing:    make(chan struct{}),
		readerDone: make(chan struct{}),
		done:       make(chan struct{}),
	}
}

// enqueue hands a fragment to the writer without blocking. A client whose queue is full is
// closed instead of slowing the room: it reconnects and replays what it missed.
func (c *Client) enqueue(frag []byte) bool {
	c.mu.Lock()
	if len(c.queue) >= c.cfg.SendQueue {
		c.mu.Unlock()
		if c.dropped.CompareAndSwap(false, true) && c.cfg.Hooks.SlowClient != nil {
			c.cfg.Hooks.SlowClient()
		}
		c.close(CloseSlow, "too far behind; reconnecting")
		return false
	}
	c.queue = append(c.queue, frag)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// takeQueue hands the writer everything queued so far. The writer's previous batch, which it
// has finished with, becomes the new queue (two slices taking turns, so steady traffic
// allocates nothing per message); one grown large by a burst is let go, so an idle socket
// keeps little.
func (c *Client) takeQueue() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queue
	clear(c.spare)
	if cap(c.spare) > 64 {
		c.spare = nil
	}
	c.queue, c.spare = c.spare[:0], q
	return q
}

// close asks the writer to send a close frame (after what is queued) and end the socket.
func (c *Client) close(code int, reason string) {
	c.once.Do(func() {
		c.code, c.reason = code, reason
		close(c.closing)
	})
}

// writeLoop sends queued fragments, several at a time as one frame when they have piled up
// (htmx applies every out-of-band part of a frame in order), pings, and the final close frame.
func (c *Client) writeLoop() {
	ticker := time.NewTicker(c.cfg.PingInterval)
	defer func() {
		ticker.Stop()
		c.conn.Close()
		close(c.done)
	}()
	for {
		select {
		case <-c.wake:
			if err := c.writeFrags(c.takeQueue()); err != nil {
				return
			}
		case <-ticker.C:
			c.conn.SetWriteDeadline(time.Now().Add(c.cfg.WriteWait))
			if err := c.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		case <-c.closing:
			// Flush what was queued before the close (e.g. the refusal's visible reason),
			// unless the client is being dropped for being slow.
			if c.code != CloseSlow {
				if err := c.writeFrags(c.takeQueue()); err != nil {
					return
				}
			}
			c.conn.SetWriteDeadline(time.Now().Add(c.cfg.WriteWait))
			c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(c.code, c.reason))
			// Give the browser a moment to answer the close, then drop the TCP connection.
			select {
			case <-c.readerDone:
			case <-time.After(time.Second):
			}
			return
		}
	}
}

// writeFrags sends every queued fragment as one frame: one system call instead of many when a
// socket has fallen a little behind, and no added delay when only one is waiting (htmx applies
// every out-of-band part of a frame, in order).
func (c *Client) writeFrags(frags [][]byte) error {
	if len(frags) == 0 {
		return nil
	}
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
