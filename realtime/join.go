package realtime

import (
	"bytes"
	"context"
	"errors"
	"time"

	"gifchat/components"
	"gifchat/db"
	"gifchat/i18n"
)

// Admission refusals.
var (
	ErrRoomGone      = &Refusal{Code: CloseRoomGone, Key: "errors.room.gone"}
	ErrNeedsPassword = &Refusal{Code: CloseNeedsPassword, Key: "errors.room.needs_password"}
	ErrFull          = &Refusal{Code: CloseFull, Key: "errors.room.full"}
	ErrLocked        = &Refusal{Code: CloseLocked, Key: "errors.room.locked"}
	ErrBanned        = &Refusal{Code: CloseKicked, Key: "errors.room.banned"}
	// ErrCheckFailed is a storage failure during a check (logged by the hub); try again.
	ErrCheckFailed = &Refusal{Code: 1011, Key: "errors.room.check_failed"}
	errReplay      = &Refusal{Code: 1011, Key: "errors.room.replay_failed"}
	errJoinFailed  = &Refusal{Code: 1011, Key: "errors.room.join_failed"}
)

// barredRefusal says how long a kicked person must wait, in whole minutes (at least one).
func barredRefusal(until, now time.Time) *Refusal {
	wait := until.Sub(now).Round(time.Minute)
	if wait < time.Minute {
		wait = time.Minute
	}
	return &Refusal{Code: CloseKicked, Key: "errors.room.barred", Args: []any{"Duration", wait}}
}

// Admit is the one rule for who may see and post to a room, asked by the room page, the
// no-JS post, the GIF upload and the history pages; a socket's Join applies the same rule.
// It returns nil or a *Refusal: ErrRoomGone, ErrNeedsPassword, a barred refusal, ErrFull or
// ErrCheckFailed.
func (h *Hub) Admit(ctx context.Context, who db.Identity, addr string) error {
	var err error
	if !h.call(func() { err = h.admission(ctx, who, addr) }) {
		return ErrRoomGone
	}
	return err
}

// admission decides, on the hub goroutine and so atomically with every join and kick: the
// room still exists; someone present stays admitted; anyone else must have entered a private
// room's password (its owner need not), must not be barred (neither the person nor their
// address: a kick or ban is not undone by a fresh cookie), must find the room unlocked, and
// needs a free place (places count people, not tabs).
func (h *Hub) admission(ctx context.Context, who db.Identity, addr string) error {
	if h.closed {
		return ErrRoomGone
	}
	if _, here := h.people[who.ID]; here {
		return nil
	}
	if err := h.nameMet(who); err != nil {
		return err
	}
	if h.room.Private() && h.room.OwnerID != who.ID {
		entered, err := h.rooms.store.HasRoomEntry(ctx, h.id, who.ID)
		if err != nil {
			h.log.Error("admission: entry check", "err", err)
			return ErrCheckFailed
		}
		if !entered {
			return ErrNeedsPassword
		}
	}
	until, err := h.rooms.store.BarredUntil(ctx, h.id, who.ID)
	if err == nil && addr != "" {
		var byAddr int64
		byAddr, err = h.rooms.store.AddressBarredUntil(ctx, h.id, addr)
		until = max(until, byAddr)
	}
	if err != nil {
		h.log.Error("admission: bar check", "err", err)
		return ErrCheckFailed
	}
	if until == db.BanUntil {
		return ErrBanned
	}
	if now := h.cfg.Clock.Now(); until > now.UnixMilli() {
		return barredRefusal(time.UnixMilli(until), now)
	}
	if h.room.Locked && h.room.OwnerID != who.ID {
		return ErrLocked
	}
	if len(h.people) >= h.room.Capacity {
		return ErrFull
	}
	return nil
}

// nameMet refuses someone whose chosen name another person present goes by (compared as
// NameKey compares): they choose another before they come in, so nobody can rename while
// away and come back as someone present. Generated names that happen to meet are let be.
func (h *Hub) nameMet(who db.Identity) error {
	if !who.NameChosen {
		return nil
	}
	key := NameKey(who.Nickname)
	for id, p := range h.people {
		if id != who.ID && NameKey(p.identity.Nickname) == key {
			return &Refusal{Code: CloseNameTaken, Key: "errors.room.name_taken", Args: []any{"Name", p.identity.Nickname}}
		}
	}
	return nil
}

// Join admits a socket (see admission; also at most MaxTabsPerRoom sockets per person) and
// replays what it has not seen (entries after afterSeq), before anything broadcast later.
// A refusal is returned for the caller to close with.
func (h *Hub) Join(ctx context.Context, c *Client, afterSeq int64) error {
	var err error
	if !h.call(func() { err = h.join(ctx, c, afterSeq) }) {
		return ErrRoomGone
	}
	return err
}

func (h *Hub) join(ctx context.Context, c *Client, afterSeq int64) error {
	if h.rooms.clustered() {
		return h.joinShared(ctx, c, afterSeq)
	}
	who := c.identity
	if err := h.admission(ctx, who, c.addr); err != nil {
		return err
	}
	p := h.people[who.ID]
	if p != nil && len(p.sockets) >= h.cfg.MaxTabsPerRoom {
		return &Refusal{Code: CloseTooMany, Key: "errors.room.too_many_tabs", Args: []any{"Count", len(p.sockets)}}
	}
	// Replay first, so the socket's queue holds history before anything broadcast later.
	if afterSeq > h.delivered {
		c.has = afterSeq // only in a cluster: in one process the hub delivered all there is
	}
	if err := h.replay(ctx, c, afterSeq); err != nil {
		return err
	}
	c.hub = h
	h.arrive(ctx, c)
	return nil
}

// replay queues what a socket missed: every entry after afterSeq the person may see, or,
// past ReplayLimit entries or ReplayBytes rendered, the latest page in place of the whole
// log. One queue entry for the whole replay: a socket that missed more than its queue holds
// in fragments must not be dropped as slow before it has caught up (and loop doing so); the
// byte bound keeps that entry, built on the room's goroutine, small enough for the queue.
func (h *Hub) replay(ctx context.Context, c *Client, afterSeq int64) error {
	var buf bytes.Buffer
	err := h.renderMissed(i18n.With(ctx, c.lang), c.identity.ID, afterSeq, &buf)
	if errors.Is(err, errReplayTooLong) {
		buf = bytes.Buffer{} // let go of what was rendered before the bound was passed
		var page []byte
		if page, err = h.renderLatestPage(ctx, c.identity.ID, c.lang); err == nil {
			c.enqueue(page)
		}
		return err
	}
	if err != nil {
		return err
	}
	if buf.Len() > 0 {
		c.enqueue(buf.Bytes())
	}
	return nil
}

// errReplayTooLong stops renderMissed at ReplayLimit entries or ReplayBytes.
var errReplayTooLong = errors.New("replay: too much missed")

// replayRows is how many missed entries are read from storage at a time, so that the rows
// held while rendering stay few even when a replay runs to ReplayLimit.
const replayRows = 100

// renderMissed renders into buf, in ctx's language, every entry after afterSeq that viewer may see, in their
// latest state; events (edits, deletions, reactions) of entries the page already holds put
// those entries' latest state in place, once each, after the new entries. It stops with
// errReplayTooLong as soon as more than ReplayLimit entries are missed or buf has grown past
// ReplayBytes, so buf never holds much more than ReplayBytes.
func (h *Hub) renderMissed(ctx context.Context, viewer, afterSeq int64, buf *bytes.Buffer) error {
	replayed := map[int64]bool{}
	var changed []int64
	entries := 0
	for from := afterSeq; ; {
		missed, err := h.rooms.store.MessagesAfter(ctx, h.id, viewer, from, replayRows)
		if err != nil {
			h.log.Error("admission: replay", "err", err)
			return errReplay
		}
		for _, m := range missed {
			if m.Seq > h.delivered && h.rooms.clustered() {
				// Committed by another instance and not delivered here yet: it comes to this
				// socket with everyone's, after the replay, so it must not come twice.
				missed = nil
				break
			}
			if entries++; entries > h.cfg.ReplayLimit {
				return errReplayTooLong
			}
			from = m.Seq
			if m.TargetSeq != 0 {
				if !replayed[m.TargetSeq] {
					replayed[m.TargetSeq] = true
					changed = append(changed, m.TargetSeq)
				}
				continue
			}
			replayed[m.Seq] = true
			if err := components.MessageOOB(MessageView(m)).Render(ctx, buf); err != nil {
				h.log.Error("render replay", "err", err)
				return errReplay
			}
			if buf.Len() > h.cfg.ReplayBytes {
				return errReplayTooLong
			}
		}
		if len(missed) < replayRows {
			break
		}
	}
	for _, seq := range changed {
		if seq > afterSeq {
			continue // replayed above, already as it is now
		}
		m, err := h.rooms.store.MessageBySeq(ctx, h.id, seq)
		if err != nil {
			h.log.Error("replay: changed entry", "err", err, "seq", seq)
			return errReplay
		}
		if err := components.MessageReplaceOOB(MessageView(m)).Render(ctx, buf); err != nil {
			h.log.Error("render replay", "err", err)
			return errReplay
		}
		if buf.Len() > h.cfg.ReplayBytes {
			return errReplayTooLong
		}
	}
	return nil
}

// renderLatestPage renders the reload that replaces a long replay: the latest page of the
// log in place of the whole log. A page of very long messages that would pass ReplayBytes
// keeps only its newer half (the rest is one "older" away), and so on, down to one message.
func (h *Hub) renderLatestPage(ctx context.Context, viewer int64, lang i18n.Lang) ([]byte, error) {
	latest, err := h.rooms.store.LatestMessages(ctx, h.id, viewer, h.cfg.HistoryPage)
	if err != nil {
		h.log.Error("admission: reload", "err", err)
		return nil, errReplay
	}
	if h.rooms.clustered() { // as in renderMissed: what is not delivered here yet comes later
		for len(latest) > 0 && latest[len(latest)-1].Seq > h.delivered {
			latest = latest[:len(latest)-1]
		}
	}
	hist := HistoryView(h.id, latest, h.cfg.HistoryPage)
	for {
		page, err := renderIn(lang, components.HistoryReplaceOOB(hist))
		if err != nil {
			h.log.Error("render reload", "err", err)
			return nil, errReplay
		}
		if h.cfg.Hooks.Render != nil {
			h.cfg.Hooks.Render()
		}
		if len(page) <= h.cfg.ReplayBytes || len(hist.Messages) <= 1 {
			return page, nil
		}
		hist.Messages = hist.Messages[len(hist.Messages)/2:]
		hist.OlderBefore = hist.Messages[0].Seq
	}
}
