package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"gifchat/components"
	"gifchat/db"
	"gifchat/realtime"
)

// The no-JS ways to change one's messages: a plain edit page, and a posted delete. With JS
// the same forms go over the room's socket instead (app.js), and the hub checks the same
// rules either way.

// entryFor parses the path's seq and admits the person to the room, answering itself when it
// cannot.
func entryFor(w http.ResponseWriter, r *http.Request, d Deps) (*realtime.Hub, db.Room, int64, bool) {
	hub, room, ok := roomFor(w, r, d)
	if !ok {
		return nil, db.Room{}, 0, false
	}
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || seq <= 0 {
		notFound(w, r)
		return nil, db.Room{}, 0, false
	}
	if !admitPage(w, r, d, hub, room, identityFrom(r.Context()), http.StatusForbidden) {
		return nil, db.Room{}, 0, false
	}
	return hub, room, seq, true
}

func handleEditMessage(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := identityFrom(r.Context())
		hub, room, seq, ok := entryFor(w, r, d)
		if !ok {
			return
		}
		page := components.EditPage{Me: realtime.PersonView(me), RoomID: room.ID, Seq: seq, MaxChars: d.Rooms.Config().MaxMessageRunes}
		if r.Method == http.MethodGet {
			m, err := d.Store.MessageBySeq(r.Context(), room.ID, seq)
			if errors.Is(err, db.ErrNotFound) || (err == nil && (m.AuthorID != me.ID || m.Deleted)) {
				errorPage(w, r, http.StatusNotFound, tr(r, "errors.page.message_not_found.title"), tr(r, "errors.page.message_not_found.message"))
				return
			}
			if err != nil {
				serverError(w, r, err)
				return
			}
			page.Text = m.Body
			render(w, r, http.StatusOK, components.EditMessagePage(page))
			return
		}
		if err := r.ParseForm(); err != nil {
			formParseError(w, r, err)
			return
		}
		page.Text = r.PostForm.Get("text")
		if refused := d.Guard.Allow(r, me.ID, ActionSay); refused != "" {
			page.Error = refused
			render(w, r, http.StatusTooManyRequests, components.EditMessagePage(page))
			return
		}
		if err := hub.Edit(r.Context(), me, seq, page.Text); err != nil {
			if changeGone(w, r, d, err) {
				return
			}
			page.Error = reason(r, err)
			render(w, r, http.StatusUnprocessableEntity, components.EditMessagePage(page))
			return
		}
		http.Redirect(w, r, "/rooms/"+room.ID, http.StatusSeeOther)
	})
}

func handleDeleteMessage(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := identityFrom(r.Context())
		hub, room, seq, ok := entryFor(w, r, d)
		if !ok {
			return
		}
		if refused := d.Guard.Allow(r, me.ID, ActionControl); refused != "" {
			errorPage(w, r, http.StatusTooManyRequests, tr(r, "errors.page.slow_down.title"), refused)
			return
		}
		if err := hub.DeleteMessage(r.Context(), me, seq); err != nil {
			if changeGone(w, r, d, err) {
				return
			}
			errorPage(w, r, http.StatusForbidden, tr(r, "errors.page.not_deleted.title"), reason(r, err))
			return
		}
		http.Redirect(w, r, "/rooms/"+room.ID, http.StatusSeeOther)
	})
}

// changeGone answers a change whose room went away (or is restarting) meanwhile.
func changeGone(w http.ResponseWriter, r *http.Request, d Deps, err error) bool {
	switch {
	case errors.Is(err, realtime.ErrRoomGone) && d.Rooms.Stopping():
		restarting(w, r)
	case errors.Is(err, realtime.ErrRoomGone):
		notFound(w, r)
	case r.Context().Err() != nil:
	default:
		return false
	}
	return true
}
