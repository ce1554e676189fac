package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gorilla/websocket"

	"gifchat/components"
	"gifchat/db"
	"gifchat/realtime"
	"gifchat/vocab"
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

// admitPage asks the room's one admission rule (realtime's Hub.Admit: exists, entered, not
// barred, a place or already present) whether the person may see or post to the room and,
// when it refuses, answers with the fitting page: the password form (status is its code: 200
// at the room's entrance, 403 for what lies behind it), barred, full or not found.
func admitPage(w http.ResponseWriter, r *http.Request, d Deps, hub *realtime.Hub, room db.Room, me db.Identity, status int) bool {
	err := hub.Admit(r.Context(), me, barAddr(r))
	var ref *realtime.Refusal
	switch {
	case err == nil:
		return true
	case !errors.As(err, &ref):
		serverError(w, r, err)
	case ref == realtime.ErrNeedsPassword:
		render(w, r, status, components.PasswordForm(components.PasswordPage{
			Me: realtime.PersonView(me), Room: realtime.RoomCardView(room, 0),
		}))
	case ref == realtime.ErrRoomGone && d.Rooms.Stopping():
		restarting(w, r) // the room is still there after the restart
	case ref == realtime.ErrRoomGone:
		notFound(w, r)
	case ref == realtime.ErrFull:
		errorPage(w, r, http.StatusConflict, tr(r, "errors.page.full.title"), tr(r, "errors.page.full.message", "Title", room.Title, "Max", room.Capacity))
	case ref == realtime.ErrLocked:
		errorPage(w, r, http.StatusForbidden, tr(r, "errors.page.locked.title"), reason(r, ref))
	case ref.Code == realtime.CloseNameTaken:
		errorPage(w, r, http.StatusConflict, tr(r, "errors.page.name_taken.title"), reason(r, ref))
	case ref.Code == realtime.CloseKicked:
		errorPage(w, r, http.StatusForbidden, tr(r, "errors.page.barred.title"), reason(r, ref))
	default:
		serverError(w, r, err)
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
		if !admitPage(w, r, d, hub, room, me, http.StatusOK) {
			return
		}
		renderRoom(w, r, d, hub, room, me, components.MessageForm{}, http.StatusOK)
	})
}

// renderRoom renders the room page for someone admitted: the latest page of the log, and the
// socket's address with that page's last seq as the replay cursor.
func renderRoom(w http.ResponseWriter, r *http.Request, d Deps, hub *realtime.Hub, room db.Room, me db.Identity, form components.MessageForm, status int) {
	msgs, err := d.Store.LatestMessages(r.Context(), room.ID, me.ID, d.Config.HistoryPage)
	if err != nil {
		serverError(w, r, err)
		return
	}
	hist := realtime.HistoryView(room.ID, msgs, d.Config.HistoryPage)
	members := hub.Members()
	bans, err := hub.Bans(r.Context())
	if err != nil {
		serverError(w, r, err)
		return
	}
	form.RoomID, form.MaxChars = room.ID, d.Rooms.Config().MaxMessageRunes
	render(w, r, status, components.Room(components.RoomPage{
		Me:        realtime.PersonView(me),
		Room:      realtime.RoomCardView(room, len(members)),
		History:   hist,
		Members:   members,
		Bans:      bans,
		Locked:    room.Locked,
		Form:      form,
		MaxGIF:    d.Config.MaxGIFBytes,
		ConnectTo: fmt.Sprintf("/rooms/%s/ws?after=%d", room.ID, hist.LastSeq()),
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
		if refused := d.Guard.Allow(r, me.ID, ActionEnter); refused != "" {
			page.Error = refused
			render(w, r, http.StatusTooManyRequests, components.PasswordForm(page))
			return
		}
		if !checkRoomPassword(w, r, d, room, page) {
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
		if refused := d.Guard.Allow(r, me.ID, ActionConnect); refused != "" {
			// 1013, not 4xxx: a rate limit must not stop the browser for good; it comes back
			// after its back-off. The Guard has said it in the request's language.
			d.Rooms.Refuse(sock, &realtime.Refusal{Code: realtime.CloseTryAgain, Key: "errors.said", Args: []any{"Reason", refused}})
			return
		}
		release, refusal := acquireSocket(d, r, me.ID)
		if refusal != nil {
			d.Rooms.Refuse(sock, refusal)
			return
		}
		// Serve reads the socket on a fresh goroutine and this one (with the deep stack of
		// the middleware and session lookup, and net/http's connection buffers) ends: the
		// connection is hijacked, so an idle socket then costs only its own small goroutine.
		d.Rooms.Serve(sock, id, me, barAddr(r), after, release)
	})
}

func handleHistory(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := identityFrom(r.Context())
		hub, room, ok := roomFor(w, r, d)
		if !ok {
			return
		}
		if !admitPage(w, r, d, hub, room, me, http.StatusForbidden) {
			return
		}
		before, err := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
		if err != nil || before <= 0 {
			render(w, r, http.StatusBadRequest, components.HistoryError(tr(r, "errors.history.not_found")))
			return
		}
		msgs, err := d.Store.MessagesBefore(r.Context(), room.ID, me.ID, before, d.Config.HistoryPage)
		if err != nil {
			serverError(w, r, err)
			return
		}
		render(w, r, http.StatusOK, components.OlderMessages(realtime.HistoryView(room.ID, msgs, d.Config.HistoryPage)))
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
		if !admitPage(w, r, d, hub, room, me, http.StatusForbidden) {
			return
		}
		raw := r.PostForm.Get("text")
		text, err := realtime.CleanText(raw, d.Rooms.Config().MaxMessageRunes)
		if err != nil {
			renderRoom(w, r, d, hub, room, me, components.MessageForm{Text: raw, Error: reason(r, err)}, http.StatusUnprocessableEntity)
			return
		}
		if refused := d.Guard.Allow(r, me.ID, ActionSay); refused != "" {
			renderRoom(w, r, d, hub, room, me, components.MessageForm{Text: raw, Error: refused}, http.StatusTooManyRequests)
			return
		}
		if err := hub.Post(r.Context(), me, &db.Message{Kind: vocab.KindText, Body: text}); err != nil {
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
			errorPage(w, r, http.StatusForbidden, tr(r, "errors.page.not_owner.title"), tr(r, "errors.page.not_owner.message"))
			return
		}
		if r.PostForm.Get("confirm") != "yes" {
			render(w, r, http.StatusOK, components.ConfirmDelete(realtime.PersonView(me), realtime.RoomCardView(room, 0)))
			return
		}
		if err := hub.Delete(r.Context(), me.ID); err != nil {
			if errors.Is(err, realtime.ErrNotOwner) {
				errorPage(w, r, http.StatusForbidden, tr(r, "errors.page.not_owner.title"), tr(r, "errors.page.not_owner.message"))
				return
			}
			notFound(w, r)
			return
		}
		d.Log.Info("room deleted by owner", "room", room.ID, "owner", me.ID)
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
}
