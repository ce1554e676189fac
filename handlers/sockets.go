package handlers

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"gifchat/components"
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

// refuseForNow turns a socket away for a moment: the reason as a status fragment, then
// close code 1013 (Try Again Later), on which htmx reconnects with its backoff. A 4xxx
// code would stop the browser for good, which a rate limit must not do.
func refuseForNow(conn *websocket.Conn, reason string) {
	defer conn.Close()
	var buf bytes.Buffer
	conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if components.RoomStatusOOB("error", reason).Render(context.Background(), &buf) == nil {
		conn.WriteMessage(websocket.TextMessage, buf.Bytes())
	}
	conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "too many connections; retrying"))
	// Wait briefly for the browser's close reply so the code is delivered cleanly.
	conn.SetReadDeadline(time.Now().Add(time.Second))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			return
		}
	}
}

// restarting answers a post that arrived while the server stops: not stored, try again in a
// moment (the room is still there after the restart; "not found" would say otherwise).
func restarting(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "5")
	errorPage(w, r, http.StatusServiceUnavailable, "The server is restarting", "Your message was not posted: the server is restarting. Go back and send it again in a moment.")
}
