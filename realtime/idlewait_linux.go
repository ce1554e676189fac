//go:build linux

package realtime

import (
	"bufio"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// parking is an idleWait's place in the idle poller: an idle room socket is a registration in
// one epoll set shared by all of them, not a goroutine (2 KiB of stack at least, which the
// collector's pacing counts again as headroom). The reader parks the socket when its buffer
// and the socket are empty; the poller (one goroutine) starts the reader again when the
// socket becomes readable: a frame, the browser's close, the connection's end.
//
// The registration is one-shot, so an event starts one reader; level-triggered, so arming a
// socket that became readable in the meantime reports it at once. A connection that is closed
// leaves the epoll set by itself, without an event, so whoever closes a parked socket wakes
// its reader (Client.hangUp) to find the connection closed and leave the room.
//
// A parked socket lends its read buffer (empty then) to the pool of idle buffers, and its
// reader takes one back when it runs again: gorilla keeps its *bufio.Reader, whose contents
// (the buffer with it) move out and back in.
type parking struct {
	token uint64        // the socket in the poller's table (0: not registered yet)
	state atomic.Uint32 // reading or parked
	lent  bool          // the read buffer is in readBuffers (only the reader touches it)
}

const (
	reading uint32 = iota
	parked
)

// park arms the socket in the idle poller and reports whether the reader is now parked: the
// caller must then return at once. It reports false where there is no poller or the socket
// cannot be armed (closed, say): the reader waits on its own goroutine then.
func (w *idleWait) park() bool {
	p := idle()
	if p == nil || p.dead.Load() || w.r == nil {
		return false
	}
	w.lendBuffer()
	w.state.Store(parked)
	if p.arm(w) != nil && w.state.CompareAndSwap(parked, reading) {
		w.unpark()
		return false
	}
	return true // parked, or already taken back by a wake (whose reader reads on)
}

// unpark gets the reader ready to read again: its buffer back.
func (w *idleWait) unpark() {
	if !w.lent {
		return
	}
	w.lent = false
	r, _ := readBuffers.Get().(*bufio.Reader)
	if r == nil {
		r = bufio.NewReaderSize(nil, ReadBufferSize)
	}
	r.Reset(w.conn)
	*w.br = *r
	*r = bufio.Reader{} // the buffer is w's now; r goes
}

// lendBuffer puts the empty read buffer in the pool. Gorilla's reader must not be used until
// unpark.
func (w *idleWait) lendBuffer() {
	r := new(bufio.Reader)
	*r = *w.br
	r.Reset(nil) // empty already (park follows an empty buffer); no connection kept alive
	*w.br = bufio.Reader{}
	w.lent = true
	readBuffers.Put(r)
}

// readBuffers holds the read buffers of parked sockets: as many as are read at a time, not
// one per socket.
var readBuffers sync.Pool

// wake starts the reader of a parked socket, on a goroutine of its own; it does nothing to a
// socket being read.
func (w *idleWait) wake() {
	if w != nil && w.state.CompareAndSwap(parked, reading) {
		go w.r.resumed()
	}
}

// release takes the socket out of the poller's table, once its reader has stopped.
func (w *idleWait) release() {
	if w != nil && w.token != 0 {
		if p := idle(); p != nil {
			p.forget(w.token)
		}
	}
}

// idlePoller is the epoll set of parked sockets, waited on through Go's own poller: the epoll
// descriptor becomes readable when a socket in it is ready, so no thread blocks on it.
type idlePoller struct {
	epfd int
	file *os.File
	dead atomic.Bool // the epoll set failed: nothing parks any more

	mu      sync.Mutex
	next    uint64
	sockets map[uint64]*idleWait
}

var (
	idleOnce   sync.Once
	idleShared *idlePoller
)

// idle is the process's idle poller, started on first use; nil if epoll is not available
// (sockets then wait on their own goroutines).
func idle() *idlePoller {
	idleOnce.Do(func() {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return
		}
		if err := syscall.SetNonblock(epfd, true); err != nil {
			syscall.Close(epfd)
			return
		}
		p := &idlePoller{epfd: epfd, file: os.NewFile(uintptr(epfd), "idle-poller"), sockets: map[uint64]*idleWait{}}
		raw, err := p.file.SyscallConn()
		if err != nil {
			p.file.Close()
			return
		}
		idleShared = p
		go p.run(raw)
	})
	return idleShared
}

// arm registers the socket for one readable event (or re-arms it), under the connection's
// reference: a connection closed meanwhile fails here instead of its descriptor's number,
// perhaps another connection's by now, being armed.
func (p *idlePoller) arm(w *idleWait) error {
	op := syscall.EPOLL_CTL_MOD
	if w.token == 0 {
		p.mu.Lock()
		p.next++
		w.token = p.next
		p.sockets[w.token] = w
		p.mu.Unlock()
		op = syscall.EPOLL_CTL_ADD
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT}
	ev.Fd, ev.Pad = int32(uint32(w.token)), int32(uint32(w.token>>32))
	var err error
	if cerr := w.raw.Control(func(fd uintptr) { err = syscall.EpollCtl(p.epfd, op, int(fd), &ev) }); cerr != nil {
		return cerr
	}
	return err
}

func (p *idlePoller) forget(token uint64) {
	p.mu.Lock()
	delete(p.sockets, token)
	p.mu.Unlock()
}

// run takes the ready sockets out of the epoll set, as many as there are, and wakes their
// readers; then it waits on Go's poller for the set to become readable again. Should the set
// ever fail, every parked reader is woken and reads on its own goroutine from then on.
func (p *idlePoller) run(raw syscall.RawConn) {
	events := make([]syscall.EpollEvent, 256)
	var err error
	for err == nil {
		rerr := raw.Read(func(fd uintptr) bool {
			for {
				var n int
				n, err = syscall.EpollWait(int(fd), events, 0)
				if err == syscall.EINTR {
					continue
				}
				if err != nil {
					return true
				}
				p.mu.Lock()
				for _, ev := range events[:n] {
					if w := p.sockets[uint64(uint32(ev.Fd))|uint64(uint32(ev.Pad))<<32]; w != nil {
						w.wake()
					}
				}
				p.mu.Unlock()
				if n < len(events) {
					return false // none left: wait
				}
			}
		})
		if err == nil {
			err = rerr
		}
	}
	p.dead.Store(true)
	p.mu.Lock()
	for _, w := range p.sockets {
		w.wake()
	}
	p.mu.Unlock()
}
