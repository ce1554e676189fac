package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/gorilla/websocket"
)

// backoff is how a dropped room socket comes back: which closes it reconnects after, and how
// long it waits before each attempt. -backoff chooses one.
type backoff struct {
	name string
	// delay is the wait before the attempt-th reconnect attempt since the socket was last
	// open (1 for the first), given a uniform random number in [0, 1).
	delay func(attempt int, rnd float64) time.Duration
	// reconnects reports whether a read that ended with err is followed by a reconnect.
	reconnects func(err error) bool
}

// htmx 4's hx-ws extension (dist/ext/hx-ws.js, the version static/package.json pins): on a
// close with one of reconnectCodes it schedules a reconnect after
// min(reconnectDelay × 2^(attempt−1), reconnectMaxDelay), then moves that by up to
// ±reconnectJitter of itself, with no limit on attempts (reconnectMaxAttempts: Infinity). The
// attempt count goes back to 0 when a socket opens. A browser cannot tell a refused handshake
// (HTTP 4xx/5xx) or a refused connection from a dropped socket: both close with 1006, which is
// on the list, so they are retried the same way.
const (
	htmxReconnectDelay    = 500 * time.Millisecond
	htmxReconnectMaxDelay = 60 * time.Second
	htmxReconnectJitter   = 0.3
)

// htmxReconnectCodes are hx-ws's reconnectCodes: going away, no status, abnormal closure,
// internal error, service restart, try again later, bad gateway.
var htmxReconnectCodes = []int{1001, 1005, 1006, 1011, 1012, 1013, 1014}

var htmxBackoff = &backoff{
	name: "htmx",
	delay: func(attempt int, rnd float64) time.Duration {
		d := htmxReconnectMaxDelay
		if attempt <= 8 { // 500 ms × 2^7 = 64 s is past the cap already
			d = min(htmxReconnectDelay<<max(attempt-1, 0), htmxReconnectMaxDelay)
		}
		return max(0, d+time.Duration((rnd*2-1)*htmxReconnectJitter*float64(d)))
	},
	reconnects: func(err error) bool {
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return slices.Contains(htmxReconnectCodes, ce.Code)
		}
		return true // a connection that ends without a close frame is a 1006 to the browser
	},
}

// fastBackoff is the load generator's older, quicker schedule: 50 ms doubling to 2 s, each
// wait drawn from its upper half, after any close but a normal one (1000) or a refusal (4xxx).
// It keeps a reconnect from weighing on figures about something else, and is not what a
// browser does.
var fastBackoff = &backoff{
	name: "fast",
	delay: func(attempt int, rnd float64) time.Duration {
		d := min(50*time.Millisecond<<min(max(attempt-1, 0), 6), 2*time.Second)
		return d/2 + time.Duration(rnd*float64(d/2))
	},
	reconnects: reconnectable,
}

// backoffByName returns the -backoff policy called name.
func backoffByName(name string) (*backoff, error) {
	switch name {
	case "htmx":
		return htmxBackoff, nil
	case "fast":
		return fastBackoff, nil
	}
	return nil, fmt.Errorf("-backoff must be htmx or fast, not %q", name)
}

// wait returns the delay before the attempt-th attempt, with fresh randomness.
func (b *backoff) wait(attempt int) time.Duration { return b.delay(attempt, rand.Float64()) }
