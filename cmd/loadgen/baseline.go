package main

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"html"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// The baseline is the cheapest server that still speaks the product's
// protocol: a session cookie, POST /rooms, the room page, the room
// WebSocket taking the htmx JSON frames and the lobby event stream. It keeps
// nothing on disk and renders no templates; every chat message becomes one
// prepared WebSocket frame written to every member of the room. Running the
// same workload against it on the same machine tells how far the product is
// from what the hardware, the kernel and gorilla/websocket allow.

// Baseline tuning. A member's writer has a bounded queue; a broadcaster that
// finds it full waits up to baselineSlowTimeout for room (backpressure keeps
// a flat-out run lossless) and then drops that member as a slow consumer, so
// one stuck client cannot stall a room forever.
const (
	baselineQueue       = 256
	baselineSlowTimeout = 5 * time.Second
	baselineWriteWait   = 10 * time.Second
	baselineMaxText     = 4096
)

// Baseline is a running bare broadcast server. Create it with StartBaseline
// and stop it with Close.
type Baseline struct {
	addr     string
	srv      *http.Server
	upgrader websocket.Upgrader

	nextSession atomic.Int64

	mu     sync.Mutex
	rooms  map[string]*baseRoom
	lobby  map[chan []byte]struct{}
	conns  map[*baseConn]struct{}
	closed bool
}

type baseRoom struct {
	id       string
	title    string
	capacity int
	nextMsg  atomic.Int64

	mu      sync.Mutex
	members []*baseConn // copy-on-write: broadcasters iterate a snapshot
}

type baseConn struct {
	ws     *websocket.Conn
	author int64
	send   chan *websocket.PreparedMessage
	done   chan struct{}
	once   sync.Once
}

// StartBaseline listens on addr (use "127.0.0.1:0" for a free port) and
// serves in the background.
func StartBaseline(addr string) (*Baseline, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	b := &Baseline{
		addr:  ln.Addr().String(),
		rooms: make(map[string]*baseRoom),
		lobby: make(map[chan []byte]struct{}),
		conns: make(map[*baseConn]struct{}),
		// The default CheckOrigin accepts only Origin == Host, the same
		// cross-site protection the product is expected to apply.
		upgrader: websocket.Upgrader{ReadBufferSize: 4 << 10, WriteBufferSize: 16 << 10},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", b.home)
	mux.HandleFunc("POST /rooms", b.createRoom)
	mux.HandleFunc("GET /rooms/events", b.events)
	mux.HandleFunc("GET /rooms/{id}", b.roomPage)
	mux.HandleFunc("GET /rooms/{id}/ws", b.roomSocket)
	b.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go b.srv.Serve(ln)
	return b, nil
}

// Addr returns the host:port the baseline listens on.
func (b *Baseline) Addr() string { return b.addr }

// Close stops the server and drops every connection, WebSockets included
// (http.Server.Close does not know about hijacked connections).
func (b *Baseline) Close() error {
	b.mu.Lock()
	b.closed = true
	conns := make([]*baseConn, 0, len(b.conns))
	for c := range b.conns {
		conns = append(conns, c)
	}
	for ch := range b.lobby {
		close(ch)
		delete(b.lobby, ch)
	}
	b.mu.Unlock()
	err := b.srv.Close()
	for _, c := range conns {
		c.close()
	}
	return err
}

func (b *Baseline) home(w http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie(sessionCookie); err != nil {
		http.SetCookie(w, &http.Cookie{
			Name:     sessionCookie,
			Value:    strconv.FormatInt(b.nextSession.Add(1), 10),
			Path:     "/",
			HttpOnly: true,
			SameSite: http.SameSiteLaxMode,
		})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, "<!doctype html><title>baseline</title>")
}

// sameOrigin is the cross-site check for form posts.
func sameOrigin(r *http.Request) bool {
	return r.Header.Get("Origin") == "http://"+r.Host
}

func (b *Baseline) createRoom(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
		return
	}
	title := r.PostFormValue("title")
	capacity, err := strconv.Atoi(r.PostFormValue("capacity"))
	if n := len([]rune(title)); n < 1 || n > 60 || err != nil || capacity < 2 {
		http.Error(w, "want title 1-60 chars and capacity >= 2", http.StatusBadRequest)
		return
	}
	room := &baseRoom{id: newBaseRoomID(), title: title, capacity: capacity}
	b.mu.Lock()
	b.rooms[room.id] = room
	ev := sseEvent(roomItem(room))
	for ch := range b.lobby {
		select {
		case ch <- ev:
		default: // a subscriber this far behind is dropped, not waited for
			close(ch)
			delete(b.lobby, ch)
		}
	}
	b.mu.Unlock()
	http.Redirect(w, r, "/rooms/"+room.id, http.StatusSeeOther)
}

// newBaseRoomID makes an opaque id of the product's shape (16 base32
// letters), so the client never gets away with assuming numeric ids.
func newBaseRoomID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	return strings.ToLower(base32.StdEncoding.EncodeToString(b))
}

func roomItem(r *baseRoom) string {
	return `<li id="room-` + r.id + `">` + html.EscapeString(r.title) + `</li>`
}

// sseEvent frames HTML as one server-sent event; roomItem has no newlines,
// so a single data line suffices.
func sseEvent(htmlText string) []byte {
	return []byte("data: " + htmlText + "\n\n")
}

func (b *Baseline) room(r *http.Request) *baseRoom {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rooms[r.PathValue("id")]
}

func (b *Baseline) roomPage(w http.ResponseWriter, r *http.Request) {
	room := b.room(r)
	if room == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!doctype html><title>%s</title>", html.EscapeString(room.title))
}

func (b *Baseline) events(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ch := make(chan []byte, 64)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		http.Error(w, "closing", http.StatusServiceUnavailable)
		return
	}
	snapshot := "<ul id=\"rooms\">"
	for _, room := range b.rooms {
		snapshot += roomItem(room)
	}
	snapshot += "</ul>"
	b.lobby[ch] = struct{}{}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		if _, ok := b.lobby[ch]; ok {
			delete(b.lobby, ch)
		}
		b.mu.Unlock()
	}()

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	if _, err := w.Write(sseEvent(snapshot)); err != nil {
		return
	}
	flusher.Flush()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return
			}
			if _, err := w.Write(ev); err != nil {
				return
			}
			flusher.Flush()
		case <-r.Context().Done():
			return
		}
	}
}

func (b *Baseline) roomSocket(w http.ResponseWriter, r *http.Request) {
	room := b.room(r)
	if room == nil {
		http.NotFound(w, r)
		return
	}
	ws, err := b.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has already answered
	}
	author, _ := strconv.ParseInt(cookieValue(r, sessionCookie), 10, 64)
	c := &baseConn{
		ws:     ws,
		author: author,
		send:   make(chan *websocket.PreparedMessage, baselineQueue),
		done:   make(chan struct{}),
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		ws.Close()
		return
	}
	b.conns[c] = struct{}{}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.conns, c)
		b.mu.Unlock()
		c.close()
	}()

	if !room.join(c) {
		// Refusals come as a close frame with an application code, like
		// the product's 4003 for a full room.
		msg := websocket.FormatCloseMessage(4003, "room full")
		_ = ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		return
	}
	defer room.leave(c)
	go c.writeLoop()
	c.readLoop(room)
}

func cookieValue(r *http.Request, name string) string {
	if c, err := r.Cookie(name); err == nil {
		return c.Value
	}
	return ""
}

func (room *baseRoom) join(c *baseConn) bool {
	room.mu.Lock()
	defer room.mu.Unlock()
	if len(room.members) >= room.capacity {
		return false
	}
	members := make([]*baseConn, len(room.members), len(room.members)+1)
	copy(members, room.members)
	room.members = append(members, c)
	return true
}

func (room *baseRoom) leave(c *baseConn) {
	room.mu.Lock()
	defer room.mu.Unlock()
	members := make([]*baseConn, 0, len(room.members))
	for _, m := range room.members {
		if m != c {
			members = append(members, m)
		}
	}
	room.members = members
}

func (room *baseRoom) snapshot() []*baseConn {
	room.mu.Lock()
	defer room.mu.Unlock()
	return room.members
}

// readLoop is the connection's one reader: it decodes "say" frames and
// broadcasts each as a single prepared frame, so the frame is built and
// masked-for-server once, not once per member. A "typing" frame is broadcast
// as a typing line the same way, to everyone and on every signal (the bare
// cost: no throttle, no per-typer rendering).
func (c *baseConn) readLoop(room *baseRoom) {
	c.ws.SetReadLimit(64 << 10)
	var frame struct {
		Action string `json:"action"`
		Text   string `json:"text"`
	}
	var buf []byte
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		frame.Action, frame.Text = "", ""
		if json.Unmarshal(data, &frame) != nil {
			continue
		}
		switch {
		case frame.Action == "typing":
			buf = appendTypingHTML(buf[:0], c.author)
		case frame.Action != "say" || frame.Text == "" || len(frame.Text) > baselineMaxText:
			continue
		default:
			buf = appendMessageHTML(buf[:0], room.nextMsg.Add(1), c.author, frame.Text)
		}
		pm, err := websocket.NewPreparedMessage(websocket.TextMessage, buf)
		if err != nil {
			return
		}
		for _, m := range room.snapshot() {
			m.enqueue(pm)
		}
	}
}

// appendMessageHTML renders a chat message the way the product's fragments
// look to ScanMessages, wrapper included, so both servers send comparable
// bytes and the client does the same work for each.
func appendMessageHTML(dst []byte, id, author int64, text string) []byte {
	ids := strconv.FormatInt(id, 10)
	dst = append(dst, `<hx-partial hx-target="#messages" hx-swap="beforeend"><article id="msg-`...)
	dst = append(dst, ids...)
	dst = append(dst, `" class="msg" data-seq="`...)
	dst = append(dst, ids...)
	dst = append(dst, `" data-author="`...)
	dst = strconv.AppendInt(dst, author, 10)
	dst = append(dst, `" data-kind="text"><p class="msg-text">`...)
	dst = append(dst, html.EscapeString(text)...)
	dst = append(dst, `</p></article></hx-partial>`...)
	return dst
}

// appendTypingHTML renders the "… is typing" line as the product's fragment does.
func appendTypingHTML(dst []byte, author int64) []byte {
	dst = append(dst, `<hx-partial hx-target="#typing" hx-swap="innerHTML">person `...)
	dst = strconv.AppendInt(dst, author, 10)
	dst = append(dst, ` is typing…</hx-partial>`...)
	return dst
}

func (c *baseConn) enqueue(pm *websocket.PreparedMessage) {
	select {
	case c.send <- pm:
		return
	case <-c.done:
		return
	default:
	}
	t := time.NewTimer(baselineSlowTimeout)
	defer t.Stop()
	select {
	case c.send <- pm:
	case <-c.done:
	case <-t.C:
		c.close() // slow consumer
	}
}

// writeLoop is the connection's one writer.
func (c *baseConn) writeLoop() {
	for {
		select {
		case pm := <-c.send:
			_ = c.ws.SetWriteDeadline(time.Now().Add(baselineWriteWait))
			if err := c.ws.WritePreparedMessage(pm); err != nil {
				c.close()
				return
			}
		case <-c.done:
			return
		}
	}
}

func (c *baseConn) close() {
	c.once.Do(func() {
		close(c.done)
		c.ws.Close()
	})
}
