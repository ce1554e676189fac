//go:build unix

package realtime

import (
	"bufio"
	"net"
	"syscall"
)

// idleWait lets a socket's reader wait for the next frame with little stack: rather than
// blocking deep inside gorilla's frame reader (about 1 KiB of frames, which makes a 2 KiB
// goroutine stack double and never shrink back), it waits for the connection to become
// readable first, a few frames deep.
type idleWait struct {
	br  *bufio.Reader // gorilla's read buffer
	raw syscall.RawConn
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
	return &idleWait{br: br, raw: raw}
}

// wait returns when a read would find data (or an error): at once if the buffer or the
// socket holds some, otherwise when the poller says the socket is readable. Peeking before
// waiting is what makes it safe: a wait alone could sleep on data already in the socket.
func (w *idleWait) wait() {
	if w == nil || w.br.Buffered() > 0 {
		return
	}
	w.raw.Read(peekReadable)
}

// peekReadable reports whether the socket has data (or an end, or an error) without taking
// any; false makes RawConn.Read wait for readability and ask again.
func peekReadable(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN
}
