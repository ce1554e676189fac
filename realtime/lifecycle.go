package realtime

import (
	"context"
	"errors"

	"gifchat/components"
	"gifchat/db"
	"gifchat/vocab"
)

// A room ends in one of three ways: empty for the grace period, deleted by its owner (both
// remove it with its log), or the server stopping (sockets told to come back; rows kept).

// startEmptyTimer starts the grace period of a room with nobody in it.
func (h *Hub) startEmptyTimer() {
	if h.empty != nil || len(h.people) > 0 || h.rooms.clustered() { // a cluster's reaper removes it (upkeep)
		return
	}
	h.empty = h.cfg.Clock.AfterFunc(h.cfg.EmptyRoomGrace, func() {
		h.do(func() {
			if len(h.people) == 0 && !h.closed {
				h.log.Info("room empty past the grace; removing")
				h.remove(context.Background(), nil, CloseRoomGone)
			}
		})
	})
}

// ErrNotOwner refuses an owner's action to anyone else.
var ErrNotOwner = errors.New("only the room's owner can do that")

// errClosedByOwner is what members see when the owner deletes the room.
var errClosedByOwner = refusal("errors.room.closed_by_owner")

// Delete closes the room at its owner's request. It reports ErrNotOwner for anyone else.
func (h *Hub) Delete(ctx context.Context, by int64) error {
	var err error
	if !h.call(func() {
		if by != h.room.OwnerID {
			err = ErrNotOwner
			return
		}
		// Stored like every notice (and shown in the log) before the room and its log go.
		owner := db.Identity{ID: h.room.OwnerID, Nickname: h.room.OwnerName, Colour: h.room.OwnerColour}
		h.notice(ctx, vocab.NoticeClosed, owner)
		h.remove(ctx, errClosedByOwner, CloseRoomGone)
	}) {
		return ErrRoomGone
	}
	return err
}

// remove deletes the room: tells members (if any), closes their sockets, deletes rows and
// unused GIFs, tells every lobby, and stops the hub.
//
// Past its first line the room is gone from memory, so its rows must go too, whatever
// becomes of the request that asked: an owner's delete whose request was cancelled half-way
// used to leave the rows, and the room came back at the next start. The deletion is one
// transaction (db.DeleteRoom), so it is all done or, if the database fails, not at all.
func (h *Hub) remove(ctx context.Context, why *Refusal, code int) {
	ctx = context.WithoutCancel(ctx)
	h.stop()
	if why != nil {
		// One fragment, said in each language present.
		frag := h.render(said(why, components.RoomClosedOOB))
		h.eachSocket(func(c *Client) { c.send(frag) })
	}
	h.eachSocket(func(c *Client) { c.close(code, closeRoomClosed) })
	h.people = map[int64]*presence{}
	h.rooms.forget(h)
	if err := h.rooms.deleteRoom(ctx, h.id); err != nil {
		h.log.Error("remove room", "err", err)
	}
	h.rooms.announceRemoval(h.id)
}

// shutdown closes every socket with a code that makes browsers come back (1012), without
// touching the room's rows: after a restart the room is there and clients replay. reason is
// the close frame's, as a catalog key.
func (h *Hub) shutdown(code int, reason string) {
	h.stop()
	h.eachSocket(func(c *Client) { c.close(code, reason) })
}

// stop marks the hub closed and stops its timers.
func (h *Hub) stop() {
	h.closed = true
	if h.unsubscribe != nil {
		h.unsubscribe()
		h.unsubscribe = nil
	}
	if h.empty != nil {
		h.empty.Stop()
	}
	for _, p := range h.people {
		if p.leaving != nil {
			p.leaving.Stop()
		}
	}
}
