package realtime

import (
	"context"
	"log/slog"
	"time"

	"gifchat/db"
)

// Hub is one live room. Its goroutine owns the room's state (who is here, their sockets,
// the owner) and runs every check and effect of the room, so the room's log is written and
// delivered in one order, the seq order that replay after a reconnect relies on.
//
// The hub's work is split by subject: joining and replay (join.go), presence and ownership
// (presence.go), what browsers ask for (commands.go), storing and delivering the log
// (delivery.go), and the room's end (lifecycle.go).
type Hub struct {
	id    string
	rooms *Rooms
	cfg   *Config
	log   *slog.Logger

	ops   chan func()   // the hub's own work and questions from other goroutines
	inbox chan inbound  // commands from sockets and posts, in arrival order
	done  chan struct{} // closed when the goroutine has stopped

	// Fields below are owned by the hub goroutine.
	room      db.Room
	people    map[int64]*presence
	joinSeq   int64
	pending   []*pendingMsg // messages accepted since the last commit
	typers    map[int64]*typer
	typingSeq int64
	closed    bool
	draining  bool // shutting down: store what was accepted, send nothing more
	empty     Timer
	panel     panel // the members panel as last rendered, for the next joiner (memberPanel)

	// delivered is the seq of the last entry of the room's log delivered to this instance's
	// sockets; in a cluster, entries arrive from other instances and are delivered in seq
	// order after it (cluster.go).
	delivered   int64
	unsubscribe func() // ends the room's subscription on the broker, in a cluster
}

// inbound is one command and the socket it came from (nil for posts over HTTP).
type inbound struct {
	from *Client
	cmd  command
}

func newHub(rs *Rooms, room db.Room) *Hub {
	return &Hub{
		id:     room.ID,
		rooms:  rs,
		cfg:    rs.cfg,
		log:    rs.log.With("room", room.ID),
		ops:    make(chan func(), 64),
		inbox:  make(chan inbound, 1024),
		done:   make(chan struct{}),
		room:   room,
		people: map[int64]*presence{},
		typers: map[int64]*typer{},
	}
}

// do runs fn on the hub goroutine and reports false if the hub has stopped.
func (h *Hub) do(fn func()) bool {
	select {
	case h.ops <- fn:
		return true
	case <-h.done:
		return false
	}
}

// call runs fn on the hub goroutine and waits for it. It reports whether fn ran: the hub may
// run fn and stop right after (a room deleted just after a join), and fn's effects (an
// admitted socket with its writer) must then count, whichever the caller notices first.
func (h *Hub) call(fn func()) bool {
	finished := make(chan struct{})
	if !h.do(func() { fn(); close(finished) }) {
		return false
	}
	select {
	case <-finished:
	case <-h.done:
	}
	select {
	case <-finished:
		return true
	default:
		return false
	}
}

// submit hands a command to the hub; it waits while the hub's inbox is full, which slows
// the sender's socket rather than the room.
func (h *Hub) submit(from *Client, cmd command) {
	select {
	case h.inbox <- inbound{from: from, cmd: cmd}:
	case <-h.done:
	}
}

func (h *Hub) run(ctx context.Context) {
	defer close(h.done)
	// Anything still queued when the hub stops for good was not stored: say so, before done
	// closes, so Post can tell "stored" from "not stored".
	defer func() {
		for {
			select {
			case in := <-h.inbox:
				if p, ok := in.cmd.(*postCmd); ok {
					p.done <- ErrRoomGone
				}
			default:
				return
			}
		}
	}()
	h.startEmptyTimer()
	// One ticker pings every socket of the room, rather than a timer per socket.
	ping := time.NewTicker(h.cfg.PingInterval)
	defer ping.Stop()
	// Accepted messages are stored even if shutdown starts meanwhile: ctx ending must not
	// turn an insert already under way into "could not save your message".
	store := context.WithoutCancel(ctx)
	for {
		select {
		case now := <-ping.C:
			h.eachSocket(func(c *Client) { c.alive(now) })
		case <-ctx.Done():
			h.drain(store)
			h.shutdown(CloseRestart, closeRestarting)
			h.lastWords(store)
			return
		case fn := <-h.ops:
			fn()
			if len(h.pending) > 0 { // notices queued by joins (queueNotice)
				h.gatherOps()
				h.gather(store)
				h.flush(store)
			}
		case in := <-h.inbox:
			// Group commit: the messages that queued up while the last batch was written
			// go into the next transaction together.
			h.dispatch(store, in)
			h.gather(store)
			h.flush(store)
		}
		if h.closed {
			return
		}
	}
}

// gather dispatches whatever commands are already queued, without waiting for more, until
// a batch is full.
func (h *Hub) gather(ctx context.Context) {
	for len(h.pending) < h.cfg.MaxBatch {
		select {
		case in := <-h.inbox:
			h.dispatch(ctx, in)
		default:
			return
		}
	}
}

// lastWords keeps storing what the room's sockets send after the 1012 went out, until each has
// answered it (or lastWordsWait has passed): a message a browser sent before the close frame
// reached it is in flight, not refused, and is stored like those drain stored (delivered by
// the replay after the restart). It also keeps the hub, and so Shutdown, from returning before
// the close frames are written: a process that exits first leaves its browsers with a bare
// 1006.
func (h *Hub) lastWords(ctx context.Context) {
	deadline := time.NewTimer(lastWordsWait)
	defer deadline.Stop()
	// A reader queues its last frames before it asks to leave, but the hub may see the leave
	// first: what the inbox holds when the last socket has gone is stored too.
	defer h.drain(ctx)
	for h.socketCount() > 0 {
		select {
		case in := <-h.inbox:
			if in.cmd.batched() {
				h.dispatch(ctx, in)
			}
			h.drain(ctx) // what queued meanwhile shares the commit
		case fn := <-h.ops:
			fn()
		case <-deadline.C:
			return
		}
	}
}

// lastWordsWait bounds lastWords: a browser answers a close frame at once, and a socket's
// writer waits a second for that answer before it drops the connection.
const lastWordsWait = 2 * time.Second

// socketCount counts the room's sockets here.
func (h *Hub) socketCount() int {
	n := 0
	h.eachSocket(func(*Client) { n++ })
	return n
}

// gatherOps runs the hub's work that is already queued (more joins, a crowd arriving), so that
// the notices it queues share one commit, until a batch is full.
func (h *Hub) gatherOps() {
	for len(h.pending) < h.cfg.MaxBatch && !h.closed {
		select {
		case fn := <-h.ops:
			fn()
		default:
			return
		}
	}
}

// drain stores what sockets and posts had sent before shutdown, but delivers nothing: the
// sockets are about to close with 1012 and will replay it after reconnecting, and a last
// flood would only get them dropped as slow (1013) instead. Other commands are let go.
func (h *Hub) drain(ctx context.Context) {
	h.draining = true
	for {
		select {
		case in := <-h.inbox:
			if in.cmd.batched() {
				h.dispatch(ctx, in)
			}
			if len(h.pending) >= h.cfg.MaxBatch {
				h.flush(ctx)
			}
		default:
			h.flush(ctx)
			return
		}
	}
}

// eachSocket calls fn for every socket in the room.
func (h *Hub) eachSocket(fn func(*Client)) {
	for _, p := range h.people {
		for c := range p.sockets {
			fn(c)
		}
	}
}
