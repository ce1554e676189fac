package handlers

import (
	"context"
	"net/http"
	"net/netip"
	"sync"

	"gifchat/realtime"
)

// connCounter counts open connections (room sockets) per key: a person over all rooms, or a
// client address. Each costs a goroutine and buffers, so neither one session nor many
// sessions from one address may hold an unbounded number. realtime also caps sockets per
// person per room; this is the total.
type connCounter[K comparable] struct {
	mu   sync.Mutex
	open map[K]int
}

func newConnCounter[K comparable]() *connCounter[K] { return &connCounter[K]{open: map[K]int{}} }

// socketCounter counts each person's open room sockets.
type socketCounter = connCounter[int64]

// acquire takes a place for one more connection of key, or reports how many are open when
// the limit is reached (release is then nil). release gives the place back; later calls do
// nothing.
func (sc *connCounter[K]) acquire(key K, limit int) (release func(), open int) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	n := sc.open[key]
	if n >= limit {
		return nil, n
	}
	sc.open[key] = n + 1
	var once sync.Once
	return func() {
		once.Do(func() {
			sc.mu.Lock()
			defer sc.mu.Unlock()
			if sc.open[key] <= 1 {
				delete(sc.open, key)
			} else {
				sc.open[key]--
			}
		})
	}, n
}

// acquireSocket takes a place for one more room socket of person and of the request's
// client address, or returns the refusal to close the socket with (CloseTooMany, and what
// the person sees). release, for when the socket has ended, gives both places back.
func acquireSocket(d Deps, r *http.Request, person int64) (release func(), refusal *realtime.Refusal) {
	mine, open := d.sockets.acquire(person, d.Config.MaxSocketsPerPerson)
	if mine == nil {
		return nil, &realtime.Refusal{Code: realtime.CloseTooMany, Key: "errors.sockets.per_person", Args: []any{"Count", open}}
	}
	ours, open := d.addrSockets.acquire(clientAddrFrom(r.Context()), d.Config.MaxSocketsPerAddress)
	if ours == nil {
		mine()
		return nil, &realtime.Refusal{Code: realtime.CloseTooMany, Key: "errors.sockets.per_address", Args: []any{"Count", open}}
	}
	return func() { ours(); mine() }, nil
}

type clientAddrKey struct{}

// withClientAddr notes each request's client address (requestAddr: IPv6 by its /64) for the
// handlers that count connections per address.
func withClientAddr(trustProxy bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner := r.WithContext(context.WithValue(r.Context(), clientAddrKey{}, requestAddr(r, trustProxy)))
		next.ServeHTTP(w, inner)
		// The mux records the route it matched on the request it was given, our copy; the
		// metrics around the server read it from theirs.
		r.Pattern = inner.Pattern
	})
}

// clientAddrFrom is the client address withClientAddr noted (the zero Addr without it).
func clientAddrFrom(ctx context.Context) netip.Addr {
	addr, _ := ctx.Value(clientAddrKey{}).(netip.Addr)
	return addr
}

// restarting answers a post that arrived while the server stops: not stored, try again in a
// moment (the room is still there after the restart; "not found" would say otherwise).
func restarting(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "5")
	errorPage(w, r, http.StatusServiceUnavailable, tr(r, "errors.page.restarting.title"), tr(r, "errors.page.restarting.message"))
}
