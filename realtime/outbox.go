package realtime

import (
	"sync"
	"sync/atomic"
	"time"
)

// sink is where an outbox writes: a room socket or a lobby stream.
type sink interface {
	// send writes one batch of fragments, as one frame where the protocol allows. Only the
	// outbox's writer calls it, one batch at a time.
	send(frags [][]byte) error
	// keepalive tells the peer the connection is alive (a ping, a comment line).
	keepalive() error
	// end runs once, on the writer, when the outbox is done: goodbye is true after close
	// (the queue sent, or discarded when close asked to drop it), false after a failed send.
	end(goodbye bool)
}

// outbox is a bounded queue of fragments for one connection, drained by a writer goroutine
// that runs only while there is something to send. An idle connection therefore costs no
// goroutine, no stack and no queue memory; a busy one keeps its writer, which takes all that
// piled up while it was writing as one batch. A writer done with one outbox may be handed
// another's (see warm).
//
// The queue is bounded in fragments and, when maxBytes is set, in bytes: a fragment count
// alone lets a socket fall 256 long messages behind (megabytes each with escaping), and a
// connection that far behind is better dropped and caught up from storage.
type outbox struct {
	sink     sink
	limit    int // fragments waiting
	maxBytes int // bytes waiting or being sent; 0: no byte bound

	mu      sync.Mutex
	queue   [][]byte
	bytes   int      // the bytes of queue and of the batch being sent
	spare   [][]byte // the writer's last batch, reused as the next queue while it runs
	running bool     // a writer goroutine is on its way or at work
	poke    bool     // a keepalive is due
	shut    bool     // close was called: end after the queue
	drop    bool     // ...discarding the queue instead of sending it
	ended   bool     // end has run or is about to: nothing more is sent
}

func newOutbox(s sink, limit, maxBytes int) *outbox {
	return &outbox{sink: s, limit: limit, maxBytes: maxBytes}
}

// push queues frag without blocking and starts the writer if none runs. It reports false
// only when the queue is full, in fragments or in bytes; after the outbox has ended,
// fragments are let go silently. A fragment larger than the byte bound still goes to an
// outbox with nothing in it: a connection is slow when it is behind, not when one message
// is long.
func (o *outbox) push(frag []byte) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ended || o.shut {
		return true
	}
	if len(o.queue) >= o.limit {
		return false
	}
	if o.maxBytes > 0 && o.bytes > 0 && o.bytes+len(frag) > o.maxBytes {
		return false
	}
	o.bytes += len(frag)
	o.queue = append(o.queue, frag)
	o.startLocked()
	return true
}

// keepalive has the writer send a keepalive (after what is queued). Connections share a
// ticker instead of each holding a timer.
func (o *outbox) keepalive() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ended || o.shut {
		return
	}
	o.poke = true
	o.startLocked()
}

// close asks for the end: after what is queued has been sent, or at once with the queue
// discarded when drop is set. Later calls change nothing.
func (o *outbox) close(drop bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.shut || o.ended {
		return
	}
	o.shut, o.drop = true, drop
	o.startLocked()
}

func (o *outbox) startLocked() {
	if !o.running {
		o.running = true
		select {
		case warm.handoff <- o:
		default:
			go writeOn(o)
		}
	}
}

// Writers are kept warm. A writer that starts on a new goroutine grows that goroutine's stack
// (2 KiB at first) twice on its way down to the socket's write, copying it each time: with a
// goroutine per delivery that was 8 % of the server's CPU at 1,000 messages/s in rooms of 10.
// So a writer that has emptied its outbox waits warmFor to be handed another (at most
// warmWriters wait at a time) before its goroutine ends; an idle server keeps none.
var warm = struct {
	handoff chan *outbox
	idle    atomic.Int32
}{handoff: make(chan *outbox)}

const (
	warmWriters = 64
	warmFor     = time.Second
)

// writeOn writes o's queue, then others handed over while it waits warm.
func writeOn(o *outbox) {
	var timer *time.Timer
	for {
		o.write()
		if warm.idle.Add(1) > warmWriters {
			warm.idle.Add(-1)
			return
		}
		if timer == nil {
			timer = time.NewTimer(warmFor)
		} else {
			timer.Reset(warmFor)
		}
		select {
		case o = <-warm.handoff:
			warm.idle.Add(-1)
		case <-timer.C:
			warm.idle.Add(-1)
			return
		}
	}
}

// write is the writer: it sends batches until the queue is empty, then either ends the
// outbox (after close) or leaves, letting go of the queue's memory.
func (o *outbox) write() {
	for {
		o.mu.Lock()
		if o.drop {
			for _, f := range o.queue {
				o.bytes -= len(f)
			}
			clear(o.queue)
			o.queue, o.poke = o.queue[:0], false
		}
		batch, poke := o.queue, o.poke
		o.poke = false
		if len(batch) == 0 && !poke {
			goodbye := o.shut
			o.queue, o.spare, o.running = nil, nil, false
			o.ended = o.ended || goodbye
			o.mu.Unlock()
			if goodbye {
				o.sink.end(true)
			}
			return
		}
		o.queue, o.spare = o.spare[:0], nil
		o.mu.Unlock()

		var err error
		sent := 0
		if len(batch) > 0 {
			for _, f := range batch {
				sent += len(f)
			}
			err = o.sink.send(batch)
			clear(batch) // the fragments are sent; don't keep them alive
		}
		if poke && err == nil {
			err = o.sink.keepalive()
		}
		o.mu.Lock()
		o.bytes -= sent
		if err != nil {
			o.ended = true
			o.queue, o.spare, o.running = nil, nil, false
			o.mu.Unlock()
			o.sink.end(false)
			return
		}
		if cap(batch) <= 64 { // one grown large by a burst is let go
			o.spare = batch
		}
		o.mu.Unlock()
	}
}
