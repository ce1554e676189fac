//go:build unix && !linux

package realtime

// parking is empty where there is no idle poller: an idle socket's reader waits for its next
// frame on its own goroutine (idleWait.ready), a few frames deep.
type parking struct{}

func (w *idleWait) park() bool { return false }

func (w *idleWait) unpark() {}

func (w *idleWait) wake() {}

func (w *idleWait) release() {}
