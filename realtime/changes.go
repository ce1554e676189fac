package realtime

import (
	"context"
	"errors"
	"slices"
	"time"

	"gifchat/components"
	"gifchat/db"
	"gifchat/vocab"
)

// Changes to earlier entries: edit, delete, react. Each is checked on the hub, stored as an
// event with the room's next seq (db.ApplyEvent, which also changes the entry), and the
// entry's new state is rendered once and put in place in every log that may show it.

// change is an edit, delete or reaction, asked for by who; apply returns the reason it was
// refused (shown to the person), or nil.
type change interface {
	action() string
	apply(ctx context.Context, h *Hub, who db.Identity) error
}

// changeCmd runs a change that came over a socket; a refusal goes back as a status line.
type changeCmd struct{ change }

func (changeCmd) batched() bool { return false }

func (c changeCmd) run(ctx context.Context, h *Hub, from *Client) {
	if err := c.apply(ctx, h, from.identity); err != nil {
		h.refuseFrame(from, err)
	}
}

// httpChange runs a change for an HTTP request (the no-JS edit and delete forms) and reports
// the outcome to the waiting handler.
type httpChange struct {
	change
	who  db.Identity
	done chan error
}

func (httpChange) batched() bool  { return false }
func (httpChange) action() string { return "" } // the handler has rate-limited the request

func (c httpChange) run(ctx context.Context, h *Hub, _ *Client) { c.done <- c.apply(ctx, h, c.who) }

// Edit changes the text of one of who's messages (a no-JS form); the error is the reason
// it was refused (a *Refusal: see Reason).
func (h *Hub) Edit(ctx context.Context, who db.Identity, seq int64, text string) error {
	return h.change(ctx, who, editCmd{seq: seq, text: text})
}

// DeleteMessage deletes an entry for who (its author, or the room's owner).
func (h *Hub) DeleteMessage(ctx context.Context, who db.Identity, seq int64) error {
	return h.change(ctx, who, deleteCmd{seq: seq})
}

func (h *Hub) change(ctx context.Context, who db.Identity, c change) error {
	done := make(chan error, 1)
	return h.await(ctx, httpChange{change: c, who: who, done: done}, done)
}

// Refusals of changes.
var (
	errEntryGone       = refusal("errors.change.gone")
	errNotYours        = refusal("errors.change.not_yours")
	errNotEditable     = refusal("errors.change.not_editable")
	errNoChange        = refusal("errors.change.not_saved")
	errNoticeDelete    = refusal("errors.change.notice_delete")
	errDeleteNotYours  = refusal("errors.change.delete_not_yours")
	errNoticeReactions = refusal("errors.change.notice_react")
)

// entry loads the target of a change: an entry of this room, not deleted, that who may see.
func (h *Hub) entry(ctx context.Context, who db.Identity, seq int64) (db.Message, error) {
	m, err := h.rooms.store.MessageBySeq(ctx, h.id, seq)
	if errors.Is(err, db.ErrNotFound) {
		return db.Message{}, errEntryGone
	}
	if err != nil {
		h.log.Error("change: load entry", "err", err, "seq", seq)
		return db.Message{}, errNoChange
	}
	switch {
	case m.Deleted, !slices.Contains(vocab.Kinds, m.Kind):
		return db.Message{}, errEntryGone
	case m.Kind == vocab.KindWhisper && who.ID != m.AuthorID && who.ID != m.RecipientID:
		return db.Message{}, errEntryGone // not theirs to see, so not there for them
	}
	return m, nil
}

// store applies an event to the entry and delivers the entry's new state.
func (h *Hub) store(ctx context.Context, ev *db.Message) error {
	orphan, err := h.rooms.store.ApplyEvent(ctx, ev)
	if errors.Is(err, db.ErrNotFound) {
		return errEntryGone
	}
	if err != nil {
		h.log.Error("change: store", "err", err, "kind", ev.Kind)
		return errNoChange
	}
	if orphan != "" && h.rooms.onRemoved != nil {
		h.rooms.onRemoved(ctx, []string{orphan})
	}
	if h.cfg.Hooks.Message != nil {
		h.cfg.Hooks.Message(ev.Kind)
	}
	h.deliverEntry(ctx, ev.TargetSeq, ev.Seq)
	return nil
}

// deliverEntry renders an entry's current state once and puts it in place for everyone who
// may see it.
//
// eventSeq is the seq of the event that changed it: the place in the log this delivery takes.
func (h *Hub) deliverEntry(ctx context.Context, seq, eventSeq int64) {
	h.catchUp(eventSeq - 1)
	m, err := h.rooms.store.MessageBySeq(ctx, h.id, seq)
	if err != nil {
		h.log.Error("change: reload entry", "err", err, "seq", seq)
		return
	}
	frag := h.render(components.MessageReplaceOOB(MessageView(m)))
	h.deliverTo(frag, audienceOf(m), eventSeq)
	h.logged(eventSeq, frag, audienceOf(m))
}

// editCmd changes the text of the sender's own text message, within the edit window.
type editCmd struct {
	seq  int64
	text string
}

func (editCmd) action() string { return vocab.ActionEdit }

func (c editCmd) apply(ctx context.Context, h *Hub, who db.Identity) error {
	text, err := CleanText(c.text, h.cfg.MaxMessageRunes)
	if err != nil {
		return err
	}
	m, err := h.entry(ctx, who, c.seq)
	if err != nil {
		return err
	}
	switch {
	case m.Kind != vocab.KindText && m.Kind != vocab.KindWhisper:
		return errNotEditable
	case m.AuthorID != who.ID:
		return errNotYours
	case h.cfg.Clock.Now().Sub(time.UnixMilli(m.CreatedAt)) > h.cfg.EditWindow:
		return refusal("errors.change.edit_window", "Duration", h.cfg.EditWindow)
	case text == m.Body:
		return nil
	}
	return h.store(ctx, &db.Message{RoomID: h.id, Kind: vocab.KindEdit, TargetSeq: c.seq, AuthorID: who.ID, Body: text})
}

// deleteCmd deletes an entry: the author's own, or any but a whisper for the room's owner.
type deleteCmd struct{ seq int64 }

func (deleteCmd) action() string { return vocab.ActionDelete }

func (c deleteCmd) apply(ctx context.Context, h *Hub, who db.Identity) error {
	m, err := h.entry(ctx, who, c.seq)
	if err != nil {
		return err
	}
	switch {
	case m.Kind == vocab.KindNotice:
		return errNoticeDelete
	case m.AuthorID == who.ID:
	case who.ID == h.room.OwnerID && m.Kind != vocab.KindWhisper:
	default:
		return errDeleteNotYours
	}
	return h.store(ctx, &db.Message{RoomID: h.id, Kind: vocab.KindDelete, TargetSeq: c.seq, AuthorID: who.ID})
}

// reactCmd adds the sender's reaction to an entry, or takes it back.
type reactCmd struct {
	seq   int64
	emoji string
}

func (reactCmd) action() string { return vocab.ActionReact }

func (c reactCmd) apply(ctx context.Context, h *Hub, who db.Identity) error {
	m, err := h.entry(ctx, who, c.seq)
	if err != nil {
		return err
	}
	if m.Kind == vocab.KindNotice {
		return errNoticeReactions
	}
	return h.store(ctx, &db.Message{RoomID: h.id, Kind: vocab.KindReact, TargetSeq: c.seq, AuthorID: who.ID, Body: c.emoji})
}
