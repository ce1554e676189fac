//go:build unix

package realtime

import (
	"bufio"
	"net"
	"syscall"
)

// idleWait keeps an idle socket's reader out of gorilla's frame reader, where it would wait
// deep in the stack (about 1 KiB of frames, which makes a 2 KiB goroutine stack double and
// never shrink back) or, on Linux, exist at all. Gorilla's reader waits for the next frame
// and, after a control frame, waits on for a message; so the wait is done here first, and
// pongs (the only frames an idle browser sends) are taken off the buffer here too. Between
// messages gorilla is at a frame boundary, so the frames it does not see change nothing for
// it.
//
// On Linux an idle socket has no goroutine at all: its reader parks the socket with the
// idle poller and returns, and the poller starts it again when the socket becomes readable
// (idlewait_linux.go). Elsewhere the reader waits for readability here, a few frames deep.
type idleWait struct {
	br   *bufio.Reader // gorilla's read buffer
	conn net.Conn      // what br reads
	raw  syscall.RawConn
	r    idleReader
	parking
}

// idleReader is the reader an idleWait waits for: the Client.
type idleReader interface {
	ponged()  // a pong was taken off the buffer
	resumed() // read again: the socket is readable (or hung up), on a goroutine of its own
}

func newIdleWait(conn net.Conn, br *bufio.Reader) *idleWait {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return &idleWait{br: br, conn: conn, raw: raw}
}

// attach names the reader, before it first reads.
func (w *idleWait) attach(r idleReader) {
	if w != nil {
		w.r = r
	}
}

// ready takes the pongs off the front of the buffer and reports whether gorilla has a frame
// to read (or an error to report). When the buffer and the socket are empty it waits for
// the socket; on Linux it parks the reader instead and reports false: the caller returns at
// once (the socket may already be read again by another goroutine), and w's reader's
// resumed runs when the socket becomes readable or is hung up.
//
// Peeking at the socket before waiting is what makes a wait safe: a wait alone could sleep
// on data already in the socket.
func (w *idleWait) ready() bool {
	if w == nil {
		return true
	}
	w.unpark()
	for {
		if w.br.Buffered() == 0 && !w.readable() {
			if w.park() {
				return false
			}
			w.raw.Read(peekReadable)
		}
		if !w.skipPong() {
			return true
		}
	}
}

// readable reports whether a read would find data (or an end, or an error) without waiting.
func (w *idleWait) readable() bool {
	ok := true
	if w.raw.Control(func(fd uintptr) { ok = peekReadable(fd) }) != nil {
		return true // closed: let the reader find out
	}
	return ok
}

// skipPong takes one pong frame off the front of the buffer, reading the rest of it if only
// its start has arrived, and tells the reader. It reports false when the next frame is
// anything else (gorilla's to read, with its checks and errors) or cannot be read.
func (w *idleWait) skipPong() bool {
	h, err := w.br.Peek(2)
	// FIN and the pong opcode, no reserved bits; masked, as every client frame must be, and
	// within a control frame's 125 bytes.
	if err != nil || h[0] != 0x80|websocketPong || h[1]&0x80 == 0 || h[1]&0x7f > 125 {
		return false
	}
	n := 2 + 4 + int(h[1]&0x7f)
	if _, err := w.br.Peek(n); err != nil {
		return false
	}
	w.br.Discard(n)
	w.r.ponged()
	return true
}

// websocketPong is the pong frame's opcode (RFC 6455 5.5.3).
const websocketPong = 0xA

// peekReadable reports whether the socket has data (or an end, or an error) without taking
// any; false makes RawConn.Read wait for readability and ask again.
func peekReadable(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN
}
