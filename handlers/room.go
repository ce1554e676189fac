package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"gifchat/components"
	"gifchat/db"
	"gifchat/realtime"
)

// access is the outcome of checking a visitor against a room outside the socket.
type access int

const (
	accessOK access = iota
	accessNeedsPassword
	accessBarred
)

// roomFor loads a live room by the path id, answering 404 itself when there is none.
func roomFor(w http.ResponseWriter, r *http.Request, d Deps) (*realtime.Hub, db.Room, bool) {
	id := r.PathValue("id")
	if !roomIDPattern.MatchString(id) {
		notFound(w, r)
		return nil, db.Room{}, false
	}
	hub := d.Rooms.Hub(id)
	if hub == nil {
		notFound(w, r)
		return nil, db.Room{}, false
	}
	return hub, hub.Room(), true
}

// checkAccess applies the password and kick rules (capacity is the socket's business).
func checkAccess(r *http.Request, d Deps, room db.Room, me db.Identity) (access, time.Time, error) {
	if room.Private() && room.OwnerID != me.ID {
		ok, err := d.Store.HasRoomEntry(r.Context(), room.ID, me.ID)
		if err != nil {
			return 0, time.Time{}, err
		}
		if !ok {
			return accessNeedsPassword, time.Time{}, nil
		}
	}
	until, err := d.Store.BarredUntil(r.Context(), room.ID, me.ID)
	if err != nil {
		return 0, time.Time{}, err
	}
	if until > time.Now().UnixMilli() {
		return accessBarred, time.UnixMilli(until), nil
	}
	return accessOK, time.Time{}, nil
}

// admitPage checks the password and kick rules for a page or form request and, when they
// refuse, answers with the password form or the barred page; status is the code for the
// password form (200 at the room's entrance, 403 for what lies behind it).
func admitPage(w http.ResponseWriter, r *http.Request, d Deps, room db.Room, me db.Identity, status int) bool {
	a, until, err := checkAccess(r, d, room, me)
	switch {
	case err != nil:
		serverError(w, r, err)
	case a == accessNeedsPassword:
		render(w, r, status, components.PasswordForm(components.PasswordPage{
			Me: realtime.PersonView(me), Room: realtime.RoomCardView(room, 0),
		}))
	case a == accessBarred:
		errorPage(w, r, http.StatusForbidden, "You cannot enter this room yet", realtime.BarredRefusal(until).Reason)
	default:
		return true
	}
	return false
}

func handleRoom(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := identityFrom(r.Context())
		hub, room, ok := roomFor(w, r, d)
		if !ok {
			return
		}
		if !admitPage(w, r, d, room, me, http.StatusOK) {
			return
		}
		renderRoom(w, r, d, hub, room, me, components.MessageForm{}, http.StatusOK)
	})
}

func renderRoom(w http.ResponseWriter, r *http.Request, d Deps, hub *realtime.Hub, room db.Room, me db.Identity, form components.MessageForm, status int) {
	people, present := hub.Occupancy(me.ID)
	if !present && people >= room.Capacity {
		errorPage(w, r, http.StatusConflict, "This room is full", fmt.Sprintf("“%s” is full: all %d places are taken. Try again later.", room.Title, room.Capacity))
		return
	}
	msgs, err := d.Store.LatestMessages(r.Context(), room.ID, me.ID, d.Config.HistoryPage)
	if err != nil {
		serverError(w, r, err)
		return
	}
	hist := components.History{RoomID: room.ID, Messages: realtime.MessageViews(msgs)}
	var last int64
	if len(msgs) > 0 {
		last = msgs[len(msgs)-1].ID
		if len(msgs) == d.Config.HistoryPage {
			hist.OlderBefore = msgs[0].ID
		}
	}
	form.RoomID = room.ID
	render(w, r, status, components.Room(components.RoomPage{
		Me:        realtime.PersonView(me),
		Room:      realtime.RoomCardView(room, people),
		History:   hist,
		Members:   hub.Members(),
		Form:      form,
		MaxGIF:    d.Config.MaxGIFBytes,
		ConnectTo: fmt.Sprintf("/rooms/%s/ws?after=%d", room.ID, last),
	}))
}

func handleEnter(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := identityFrom(r.Context())
		_, room, ok := roomFor(w, r, d)
		if !ok {
			return
		}
		if err := r.ParseForm(); err != nil {
			formParseError(w, r, err)
			return
		}
		if !room.Private() {
			http.Redirect(w, r, "/rooms/"+room.ID, http.StatusSeeOther)
			return
		}
		page := components.PasswordPage{Me: realtime.PersonView(me), Room: realtime.RoomCardView(room, 0)}
		if reason := d.Guard.Allow(r, me.ID, "enter"); reason != "" {
			page.Error = reason
			render(w, r, http.StatusTooManyRequests, components.PasswordForm(page))
			return
		}
		pw := r.PostForm.Get("password")
		if len(pw) > MaxPassword || bcrypt.CompareHashAndPassword([]byte(room.PasswordHash), []byte(pw)) != nil {
			page.Error = "That is the wrong password. Try again."
			render(w, r, http.StatusUnauthorized, components.PasswordForm(page))
			return
		}
		if err := d.Store.AddRoomEntry(r.Context(), room.ID, me.ID); err != nil {
			serverError(w, r, err)
			return
		}
		http.Redirect(w, r, "/rooms/"+room.ID, http.StatusSeeOther)
	})
}

// upgrader keeps gorilla's default same-origin check and small buffers: an idle socket
// should cost little, and writes share a pool. The read buffer is realtime.Upgrade's.
var upgrader = websocket.Upgrader{
	WriteBufferSize: 4096,
	WriteBufferPool: &writeBufferPool,
}

func handleRoomSocket(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := identityFrom(r.Context())
		id := r.PathValue("id")
		if !roomIDPattern.MatchString(id) {
			notFound(w, r)
			return
		}
		after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
		if after < 0 {
			after = 0
		}
		sock, err := realtime.Upgrade(&upgrader, w, r)
		if err != nil {
			return // the upgrader has answered (403 for a foreign origin, 400 otherwise)
		}
		conn := sock.Conn
		if reason := d.Guard.Allow(r, me.ID, ActionConnect); reason != "" {
			refuseForNow(conn, reason) // 1013: the browser retries with backoff
			return
		}
		release, open := d.sockets.acquire(me.ID, d.Config.MaxSocketsPerPerson)
		if release == nil {
			d.Rooms.Refuse(conn, &realtime.Refusal{Code: realtime.CloseTooMany,
				Reason: fmt.Sprintf("You have %d rooms or tabs connected already, the most one person may have; close one first.", open)})
			return
		}
		// Serve reads the socket on a fresh goroutine and this one (with the deep stack of
		// the middleware and session lookup, and net/http's connection buffers) ends: the
		// connection is hijacked, so an idle socket then costs only its own small goroutine.
		d.Rooms.Serve(sock, id, me, after, release)
	})
}

func handleHistory(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := identityFrom(r.Context())
		_, room, ok := roomFor(w, r, d)
		if !ok {
			return
		}
		if !admitPage(w, r, d, room, me, http.StatusForbidden) {
			return
		}
		before, err := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
		if err != nil || before <= 0 {
			render(w, r, http.StatusBadRequest, components.HistoryError("That page of history could not be found."))
			return
		}
		msgs, err := d.Store.MessagesBefore(r.Context(), room.ID, me.ID, before, d.Config.HistoryPage)
		if err != nil {
			serverError(w, r, err)
			return
		}
		hist := components.History{RoomID: room.ID, Messages: realtime.MessageViews(msgs)}
		if len(msgs) == d.Config.HistoryPage {
			hist.OlderBefore = msgs[0].ID
		}
		render(w, r, http.StatusOK, components.OlderMessages(hist))
	})
}

// handlePostMessage is the no-JS way to post: a plain form, 303 back to the room.
func handlePostMessage(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := identityFrom(r.Context())
		hub, room, ok := roomFor(w, r, d)
		if !ok {
			return
		}
		if err := r.ParseForm(); err != nil {
			formParseError(w, r, err)
			return
		}
		if !admitPage(w, r, d, room, me, http.StatusForbidden) {
			return
		}
		raw := r.PostForm.Get("text")
		text, err := realtime.CleanText(raw, d.Rooms.Config().MaxMessageRunes)
		status := http.StatusUnprocessableEntity
		if err == nil {
			if reason := d.Guard.Allow(r, me.ID, realtime.ActionSay); reason != "" {
				err, status = errors.New(reason), http.StatusTooManyRequests
			}
		}
		if err != nil {
			renderRoom(w, r, d, hub, room, me, components.MessageForm{Text: raw, Error: err.Error()}, status)
			return
		}
		if err := hub.Post(r.Context(), me, &db.Message{Kind: db.KindText, Body: text}); err != nil {
			if errors.Is(err, realtime.ErrRoomGone) && d.Rooms.Stopping() {
				restarting(w, r)
				return
			}
			if errors.Is(err, realtime.ErrRoomGone) {
				notFound(w, r)
				return
			}
			serverError(w, r, err)
			return
		}
		http.Redirect(w, r, "/rooms/"+room.ID, http.StatusSeeOther)
	})
}

// handleDeleteRoom is the owner's delete: the first POST shows a confirmation page (hx-confirm
// does not exist for sockets), the second, with confirm=yes, deletes.
func handleDeleteRoom(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := identityFrom(r.Context())
		hub, room, ok := roomFor(w, r, d)
		if !ok {
			return
		}
		if err := r.ParseForm(); err != nil {
			formParseError(w, r, err)
			return
		}
		if room.OwnerID != me.ID {
			errorPage(w, r, http.StatusForbidden, "Not yours to delete", "Only the room's owner can delete it.")
			return
		}
		if r.PostForm.Get("confirm") != "yes" {
			render(w, r, http.StatusOK, components.ConfirmDelete(realtime.PersonView(me), realtime.RoomCardView(room, 0)))
			return
		}
		if err := hub.Delete(r.Context(), me.ID); err != nil {
			if errors.Is(err, realtime.ErrNotOwner) {
				errorPage(w, r, http.StatusForbidden, "Not yours to delete", "Only the room's owner can delete it.")
				return
			}
			notFound(w, r)
			return
		}
		d.Log.Info("room deleted by owner", "room", room.ID, "owner", me.ID)
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
}
