package handlers

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"gifchat/i18n"

	"golang.org/x/crypto/bcrypt"

	"gifchat/components"
	"gifchat/db"
	"gifchat/realtime"
)

func handleLobby(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := identityFrom(r.Context())
		render(w, r, http.StatusOK, components.Lobby(components.LobbyPage{
			Me:    realtime.PersonView(me),
			Rooms: d.Lobby.Rooms(),
		}))
	})
}

// RoomInput is a validated create-room form.
type RoomInput struct {
	Title    string
	Capacity int
	Password string
}

// Room form limits.
const (
	MaxTitleRunes   = 60
	MinCapacity     = 2
	MaxCapacity     = 100
	DefaultCapacity = 10
	MinPassword     = 6  // characters; the per-room back-off (password_attempts.go) does the rest
	MaxPassword     = 72 // bcrypt's limit, in bytes
)

// ValidateRoomForm checks the create form; the map holds a reason per field, in l, empty
// when valid.
func ValidateRoomForm(l i18n.Lang, title, capacity, password string, maxCapacity int) (RoomInput, map[string]string) {
	errs := map[string]string{}
	in := RoomInput{Title: strings.TrimSpace(title), Password: password}
	switch n := utf8.RuneCountInString(in.Title); {
	case !utf8.ValidString(title):
		errs["title"] = l.T("errors.form.title_not_text")
	case n == 0:
		errs["title"] = l.T("errors.form.title_empty")
	case n > MaxTitleRunes:
		errs["title"] = l.T("errors.form.title_too_long", "N", n, "Max", MaxTitleRunes)
	case realtime.IsBlank(in.Title):
		errs["title"] = l.T("errors.form.title_empty")
	case strings.ContainsFunc(in.Title, isControl):
		errs["title"] = l.T("errors.form.title_control")
	case strings.ContainsFunc(in.Title, isBidiControl):
		errs["title"] = l.T("errors.form.title_bidi")
	}
	if maxCapacity < MaxCapacity {
		maxCapacity = MaxCapacity
	}
	capacity = strings.TrimSpace(capacity)
	if capacity == "" {
		in.Capacity = DefaultCapacity
	} else if n, err := strconv.Atoi(capacity); err != nil {
		errs["capacity"] = l.T("errors.form.capacity_number")
	} else if n < MinCapacity || n > maxCapacity {
		errs["capacity"] = l.T("errors.form.capacity_range", "Min", MinCapacity, "Max", maxCapacity)
	} else {
		in.Capacity = n
	}
	if password != "" {
		if n := utf8.RuneCountInString(password); n < MinPassword {
			errs["password"] = l.T("errors.form.password_short", "Min", MinPassword)
		} else if len(password) > MaxPassword {
			errs["password"] = l.T("errors.form.password_long", "Max", MaxPassword)
		}
	}
	return in, errs
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// isBidiControl matches the embedding, override and isolate controls that can make a title
// display as something other than what it is.
func isBidiControl(r rune) bool { return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) }

func handleCreateRoom(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := identityFrom(r.Context())
		if err := r.ParseForm(); err != nil {
			formParseError(w, r, err)
			return
		}
		in, errs := ValidateRoomForm(i18n.From(r.Context()), r.PostForm.Get("title"), r.PostForm.Get("capacity"), r.PostForm.Get("password"), d.Config.MaxCapacity)
		form := components.CreateRoomForm{Title: r.PostForm.Get("title"), Capacity: r.PostForm.Get("capacity"), Errors: errs}
		if len(errs) == 0 {
			if reason := d.Guard.Allow(r, me.ID, "create-room"); reason != "" {
				errs["form"] = reason
				form.Errors = errs
				rerenderCreate(w, r, d, form, http.StatusTooManyRequests)
				return
			}
			// Cheap early refusals, before the password is hashed; the checks that count are
			// repeated under the locks below.
			if !roomsLeft(w, r, d, me.ID, errs) {
				return
			}
			if len(errs) == 0 && serverFull(r, d, errs) {
				form.Errors = errs
				refuseFull(w, r, d, form)
				return
			}
		}
		if len(errs) > 0 {
			rerenderCreate(w, r, d, form, http.StatusUnprocessableEntity)
			return
		}
		room := db.Room{ID: newRoomID(), Title: in.Title, Capacity: in.Capacity, OwnerID: me.ID}
		if in.Password != "" {
			hash, err := bcrypt.GenerateFromPassword([]byte(in.Password), d.Config.PasswordCost)
			if err != nil {
				serverError(w, r, fmt.Errorf("hash password: %w", err))
				return
			}
			room.PasswordHash = string(hash)
		}
		// Count and insert under the owner's lock: without it, simultaneous creates (a double
		// click, a script) all pass the count and the limit is not one. The same goes for the
		// server's room count, under roomCountLock until the new room is counted.
		lock := ownerLock(me.ID)
		lock.Lock()
		if !roomsLeft(w, r, d, me.ID, errs) {
			lock.Unlock()
			return
		}
		if len(errs) > 0 {
			lock.Unlock()
			rerenderCreate(w, r, d, form, http.StatusUnprocessableEntity)
			return
		}
		roomCountLock.Lock()
		if serverFull(r, d, errs) {
			roomCountLock.Unlock()
			lock.Unlock()
			refuseFull(w, r, d, form)
			return
		}
		room, err := d.Store.CreateRoom(r.Context(), room)
		if err == nil {
			d.Rooms.Created(room)
		}
		roomCountLock.Unlock()
		lock.Unlock()
		if err != nil {
			serverError(w, r, err)
			return
		}
		d.Log.Info("room created", "room", room.ID, "owner", me.ID, "private", room.Private())
		redirect(w, r, "/rooms/"+room.ID)
	})
}

// roomsLeft sets errs["form"] when the person owns as many rooms as one may. It reports
// false if it has already answered (a storage error).
func roomsLeft(w http.ResponseWriter, r *http.Request, d Deps, owner int64, errs map[string]string) bool {
	owned, err := d.Store.CountRoomsOwnedBy(r.Context(), owner)
	if err != nil {
		serverError(w, r, err)
		return false
	}
	if owned >= d.Config.MaxRoomsPerPerson {
		errs["form"] = tr(r, "errors.form.rooms_owned", "Count", owned)
	}
	return true
}

// serverFull sets errs["form"] when the server holds as many rooms as -max-rooms allows.
func serverFull(r *http.Request, d Deps, errs map[string]string) bool {
	if d.Rooms.Count() < d.Config.MaxRooms {
		return false
	}
	errs["form"] = tr(r, "errors.form.server_full", "Count", d.Config.MaxRooms)
	return true
}

// refuseFull answers a create refused for the room cap: 503 and Retry-After, not 429, since
// it is the server that is full, not this person who asked too often (their own limits are
// -max-rooms-per-person and -rate-rooms); the form shows why.
func refuseFull(w http.ResponseWriter, r *http.Request, d Deps, form components.CreateRoomForm) {
	w.Header().Set("Retry-After", "60")
	rerenderCreate(w, r, d, form, http.StatusServiceUnavailable)
}

// roomCountLock makes "count the rooms, create one" one step, so that -max-rooms holds under
// simultaneous creates. In-process, like ownerLocks.
var roomCountLock sync.Mutex

// ownerLocks serialise room creation per owner (striped, so memory stays fixed). They are
// in-process: one binary owns the database; a store shared by several instances would need
// the limit in the INSERT itself.
var ownerLocks [64]sync.Mutex

func ownerLock(owner int64) *sync.Mutex { return &ownerLocks[uint64(owner)%uint64(len(ownerLocks))] }

// rerenderCreate answers a refused create: the form alone for htmx, the whole lobby without JS.
func rerenderCreate(w http.ResponseWriter, r *http.Request, d Deps, form components.CreateRoomForm, status int) {
	if isHTMX(r) {
		render(w, r, status, components.CreateRoom(form))
		return
	}
	render(w, r, status, components.Lobby(components.LobbyPage{
		Me: realtime.PersonView(identityFrom(r.Context())), Rooms: d.Lobby.Rooms(), Form: form,
	}))
}

func isHTMX(r *http.Request) bool { return r.Header.Get("HX-Request") == "true" }

// redirect sends the browser on after a successful POST: HX-Redirect for htmx (a 303 would be
// followed by fetch and swapped into the form), 303 See Other without JS.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	if isHTMX(r) {
		w.Header().Set("HX-Redirect", to)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func formParseError(w http.ResponseWriter, r *http.Request, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		tooLarge(w, r, mbe.Limit)
		return
	}
	errorPage(w, r, http.StatusBadRequest, tr(r, "errors.page.bad_request.title"), tr(r, "errors.page.bad_form.message"))
}

var roomIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// roomIDPattern is the shape of every room id; anything else is a 404 without a lookup.
var roomIDPattern = regexp.MustCompile(`^[a-z2-7]{16}$`)

func newRoomID() string {
	b := make([]byte, 10)
	rand.Read(b)
	return roomIDEncoding.EncodeToString(b)
}

// handleLobbyEvents streams the room list: a snapshot on every connect, then one event per
// change, a heartbeat every 20 s. A subscriber that falls behind is dropped by the lobby and
// its stream ends; the browser reconnects and gets a fresh snapshot. A stream over the
// lobby's caps (per person, per client address: Lobby.SetLimits) is refused with 429 and
// the reason, before anything else is written.
//
// On HTTP/1.1 the connection is hijacked and served by a fresh goroutine with the response
// head written by hand, so net/http's per-connection buffers and the handler's deep stack are
// released: an idle subscriber then costs a few KiB. Where hijacking is not possible (HTTP/2)
// the stream is served in the handler.
func handleLobbyEvents(lobby *realtime.Lobby, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		release, err := lobby.Reserve(identityFrom(r.Context()).ID, clientAddrFrom(r.Context()))
		if err != nil {
			var refusal *realtime.Refusal
			if !errors.As(err, &refusal) {
				serverError(w, r, err)
				return
			}
			log.Debug("lobby stream refused", "reason", refusal.Error())
			w.Header().Set("Retry-After", "60")
			render(w, r, http.StatusTooManyRequests, components.LobbyStreamRefused(reason(r, refusal)))
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		if conn, ok := hijackStream(w); ok {
			// The lobby writes to the connection from its own writers, only while there is
			// something to send; this goroutine (and its stack and net/http's buffers) ends.
			if conn == nil {
				release()
				return
			}
			if _, err := lobby.Subscribe(connStream{conn: conn, release: release}, i18n.From(r.Context())); err != nil {
				log.Error("lobby snapshot", "err", err)
				conn.Close()
				release()
			}
			return
		}
		defer release()
		rc := http.NewResponseController(w)
		// The server's WriteTimeout would cut a long stream: each write gets its own deadline.
		rc.SetWriteDeadline(time.Now().Add(sseWriteWait))
		w.WriteHeader(http.StatusOK)
		if err := rc.Flush(); err != nil {
			return
		}
		// Without a hijack the response is only ours while this handler runs: wait here
		// until the stream ends.
		stream := &responseStream{w: w, rc: rc, done: make(chan struct{})}
		sub, err := lobby.Subscribe(stream, i18n.From(r.Context()))
		if err != nil {
			log.Error("lobby snapshot", "err", err)
			return
		}
		select {
		case <-stream.done:
		case <-r.Context().Done():
			lobby.Unsubscribe(sub)
			<-stream.done
		}
	})
}

const sseWriteWait = 10 * time.Second

// connStream is a lobby stream on a hijacked connection: a batch of events is one writev.
// Its place under the lobby's caps is released when it closes.
type connStream struct {
	conn    net.Conn
	release func()
}

func (s connStream) Send(events [][]byte) error {
	s.conn.SetWriteDeadline(time.Now().Add(sseWriteWait))
	bufs := net.Buffers(events)
	_, err := bufs.WriteTo(s.conn)
	return err
}

func (s connStream) Close() {
	s.conn.Close()
	s.release()
}

// responseStream is a lobby stream on a response that could not be hijacked (HTTP/2).
type responseStream struct {
	w    io.Writer
	rc   *http.ResponseController
	done chan struct{}
}

func (s *responseStream) Send(events [][]byte) error {
	s.rc.SetWriteDeadline(time.Now().Add(sseWriteWait))
	for _, e := range events {
		if _, err := s.w.Write(e); err != nil {
			return err
		}
	}
	return s.rc.Flush()
}

func (s *responseStream) Close() { close(s.done) }

// hijackStream takes over an HTTP/1.1 connection and writes the 200 response head (with the
// headers set so far, the session cookie and security headers included). It reports false
// when the connection cannot be hijacked; a nil conn with true means the client is gone.
func hijackStream(w http.ResponseWriter) (net.Conn, bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, false
	}
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	w.Header().Write(&head)
	// No length and no chunking: the event stream ends when the connection does.
	head.WriteString("Connection: close\r\n\r\n")
	conn.SetWriteDeadline(time.Now().Add(sseWriteWait))
	if _, err := conn.Write(head.Bytes()); err != nil {
		conn.Close()
		return nil, true
	}
	// With the head written, a wrapper (the metrics' status sniffer) has nothing left to do:
	// write to the connection itself, whose writev sends a batch of events in one call.
	if u, ok := conn.(interface{ NetConn() net.Conn }); ok {
		conn = u.NetConn()
	}
	return conn, true
}
