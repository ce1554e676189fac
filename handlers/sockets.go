package handlers

import (
	"net/http"
	"sync"
)

// socketCounter counts each person's open room sockets over all rooms, so one session
// cannot hold an unbounded number of connections (each costs a goroutine and buffers).
// realtime also caps sockets per person per room; this is the total.
type socketCounter struct {
	mu   sync.Mutex
	open map[int64]int
}

// acquire takes a place for one more socket of id, or reports how many are open when the
// limit is reached (release is then nil).
func (sc *socketCounter) acquire(id int64, limit int) (release func(), open int) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	n := sc.open[id]
	if n >= limit {
		return nil, n
	}
	sc.open[id] = n + 1
	var once sync.Once
	return func() {
		once.Do(func() {
			sc.mu.Lock()
			defer sc.mu.Unlock()
			if sc.open[id] <= 1 {
				delete(sc.open, id)
			} else {
				sc.open[id]--
			}
		})
	}, n
}

// restarting answers a post that arrived while the server stops: not stored, try again in a
// moment (the room is still there after the restart; "not found" would say otherwise).
func restarting(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "5")
	errorPage(w, r, http.StatusServiceUnavailable, "The server is restarting", "Your message was not posted: the server is restarting. Go back and send it again in a moment.")
}
