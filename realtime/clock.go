package realtime

import "time"

// Clock is the hubs' time: the leave debounce, the empty-room grace and kick bars run on it,
// so tests can move time on instead of sleeping. Pings and write deadlines use real time.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc; Stop reports whether it stopped f from running.
type Timer interface {
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
