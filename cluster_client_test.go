package main

// A room socket client for the cluster's process tests (cluster_proc_test.go) that reads the
// log the way app.js keeps it: every entry by its data-seq, in order, and when its socket
// dies it comes back through the proxy with ?after=<the last seq it saw>, as a browser does.
// It also sends numbered messages continuously, a few unacknowledged at a time.

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// entryPattern finds a log entry's article and its text (the msg-text paragraph, present for
// text messages and notices).
var entryPattern = regexp.MustCompile(`(?s)<article id="msg-\d+"[^>]*? data-seq="(\d+)" data-author="(\d+)" data-kind="([a-z]+)".*?</article>`)
var entryTextPattern = regexp.MustCompile(`(?s)<p class="msg-text"[^>]*>(.*?)</p>`)

var errStopped = errors.New("client stopped")

type seenEntry struct {
	seq    int64
	author int64
	kind   string
	text   string
	at     time.Time
}

type roomClient struct {
	t        *testing.T
	name     string // its messages are name-000001, name-000002, …
	visitor  *person
	room     string
	comeBack bool // after its socket dies, reconnect (a browser still open) or not (closed)

	mu       sync.Mutex
	entries  []seenEntry
	faults   []string // entries seen twice, out of order or after a gap
	id       int64    // the person's identity, from the author of its own messages
	acked    int
	sent     int
	dials    int
	conn     *websocket.Conn
	window   chan struct{}
	stopping bool
	goSend   chan struct{} // closed when the load starts
	done     chan struct{} // closed when the client has stopped for good
}

func newRoomClient(t *testing.T, v *person, room, name string, comeBack bool) *roomClient {
	return &roomClient{t: t, name: name, visitor: v, room: room, comeBack: comeBack,
		goSend: make(chan struct{}), done: make(chan struct{})}
}

// dial opens the room socket through the proxy with ?after= the last seq seen.
func (c *roomClient) dial() error {
	c.mu.Lock()
	after := int64(0)
	if n := len(c.entries); n > 0 {
		after = c.entries[n-1].seq
	}
	c.mu.Unlock()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	u := strings.Replace(c.visitor.base, "http", "ws", 1) + "/rooms/" + c.room + "/ws?after=" + strconv.FormatInt(after, 10)
	conn, resp, err := d.Dial(u, http.Header{"Origin": {c.visitor.base}, "Cookie": {c.visitor.cookie()}})
	if err != nil {
		status := ""
		if resp != nil {
			status = resp.Status
		}
		return fmt.Errorf("%s: dial %s: %v %s", c.name, u, err, status)
	}
	c.mu.Lock()
	if c.stopping {
		c.mu.Unlock()
		conn.Close()
		return errStopped
	}
	c.conn, c.dials = conn, c.dials+1
	c.window = make(chan struct{}, 4) // a few in flight: steady load, not an unbounded queue
	c.mu.Unlock()
	return nil
}

// run reads (and, after startSending, sends) until the end; a dead socket is redialled if
// comeBack.
func (c *roomClient) run() {
	defer close(c.done)
	for {
		c.mu.Lock()
		conn, window := c.conn, c.window
		c.mu.Unlock()
		readerDone := make(chan struct{})
		go c.read(conn, window, readerDone)
		go c.sendLoop(conn, window, readerDone)
		<-readerDone
		c.mu.Lock()
		stop := c.stopping || !c.comeBack
		c.mu.Unlock()
		if stop {
			return
		}
		// app.js waits about half a second before its first retry; then the proxy, which
		// may not yet know the instance is dead, fails over from a refused dial.
		time.Sleep(300 * time.Millisecond)
		if err := c.dial(); err != nil {
			if err != errStopped {
				c.fault("reconnect: %v", err)
			}
			return
		}
	}
}

func (c *roomClient) read(conn *websocket.Conn, window chan struct{}, done chan struct{}) {
	defer close(done)
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		now := time.Now()
		for _, m := range entryPattern.FindAllStringSubmatch(string(data), -1) {
			e := seenEntry{kind: m[3], at: now}
			e.seq, _ = strconv.ParseInt(m[1], 10, 64)
			e.author, _ = strconv.ParseInt(m[2], 10, 64)
			if tm := entryTextPattern.FindStringSubmatch(m[0]); tm != nil {
				e.text = html.UnescapeString(strings.TrimSpace(tm[1]))
			}
			c.mu.Lock()
			last := int64(0)
			if n := len(c.entries); n > 0 {
				last = c.entries[n-1].seq
			}
			switch {
			case e.seq <= last:
				c.faults = append(c.faults, fmt.Sprintf("seq %d again (or out of order) after %d", e.seq, last))
			case e.seq != last+1:
				c.faults = append(c.faults, fmt.Sprintf("seq %d after %d: %d entries missing", e.seq, last, e.seq-last-1))
			}
			c.entries = append(c.entries, e)
			mine := strings.HasPrefix(e.text, c.name+"-")
			if mine {
				c.id = e.author
				c.acked++
			}
			c.mu.Unlock()
			if mine {
				select {
				case <-window:
				default:
				}
			}
		}
	}
}

func (c *roomClient) sendLoop(conn *websocket.Conn, window chan struct{}, readerDone chan struct{}) {
	select {
	case <-c.goSend:
	case <-readerDone:
		return
	}
	for {
		select {
		case window <- struct{}{}:
		case <-readerDone:
			return
		}
		c.mu.Lock()
		if c.stopping {
			c.mu.Unlock()
			return
		}
		c.sent++
		text := fmt.Sprintf("%s-%06d", c.name, c.sent)
		c.mu.Unlock()
		frame, _ := json.Marshal(map[string]any{"action": "say", "text": text, "headers": map[string]string{"HX-Request": "true"}})
		conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if conn.WriteMessage(websocket.TextMessage, frame) != nil {
			return
		}
		time.Sleep(15 * time.Millisecond)
	}
}

func (c *roomClient) startSending() { close(c.goSend) }

// stopSending ends the load; the socket stays open to read what is still coming.
func (c *roomClient) stopSending() {
	c.mu.Lock()
	c.stopping = true
	c.mu.Unlock()
}

// close ends the client for good.
func (c *roomClient) close() {
	c.stopSending()
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	conn.Close()
	<-c.done
}

func (c *roomClient) fault(format string, args ...any) {
	c.mu.Lock()
	c.faults = append(c.faults, fmt.Sprintf(format, args...))
	c.mu.Unlock()
}

func (c *roomClient) dialled() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dials
}

func (c *roomClient) snapshot() (entries []seenEntry, faults []string, id int64, acked int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]seenEntry(nil), c.entries...), append([]string(nil), c.faults...), c.id, c.acked
}

func (c *roomClient) lastSeq() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.entries); n > 0 {
		return c.entries[n-1].seq
	}
	return 0
}

// waitUntil polls cond until it holds or within passes.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
