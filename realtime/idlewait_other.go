//go:build !unix

package realtime

import (
	"bufio"
	"net"
)

// idleWait is a no-op where peeking at a socket is not available: the reader then waits
// inside gorilla's frame reader, with a larger stack.
type idleWait struct{}

type idleReader interface {
	ponged()
	resumed()
}

func newIdleWait(net.Conn, *bufio.Reader) *idleWait { return nil }

func (w *idleWait) attach(idleReader) {}

func (w *idleWait) ready() bool { return true }

func (w *idleWait) wake() {}

func (w *idleWait) release() {}
