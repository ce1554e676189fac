package realtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/a-h/templ"

	"gifchat/components"
	"gifchat/db"
)

// Hub is one live room. Its goroutine owns the room's state (who is here, their sockets,
// the owner) and is the only writer of the room's messages, so persisting and broadcasting
// happen in one order: the id order that replay after a reconnect relies on.
type Hub struct {
	id    string
	rooms *Rooms
	cfg   *Config
	log   *slog.Logger

	ops  chan func()
	says chan *sayOp
	done chan struct{} // closed when the goroutine has stopped

	// Fields below are owned by the hub goroutine.
	room     db.Room
	people   map[int64]*presence
	joinSeq  int64
	closed   bool
	draining bool // shutting down: store what was accepted, send nothing more
	empty    *time.Timer
}

// presence is one person in the room with all their sockets (tabs).
type presence struct {
	identity db.Identity
	sockets  map[*Client]struct{}
	seq      int64 // join order, for handing ownership to whoever has been here longest
	leaving  *time.Timer
}

type sayOp struct {
	from   *Client     // nil for posts not from a socket (no-JS form, GIF upload)
	author db.Identity // the session's identity, never a form field
	msg    *db.Message
	done   chan error // optional: told when persisted and fanned out
}

// Admission refusals, each with the close code and the reason the browser shows.
var (
	ErrRoomGone      = &Refusal{Code: CloseRoomGone, Reason: "This room was not found or has closed."}
	ErrNeedsPassword = &Refusal{Code: CloseNeedsPassword, Reason: "This room is private: enter its password first."}
	ErrFull          = &Refusal{Code: CloseFull, Reason: "This room is full."}
)

// Refusal is why someone may not join a room.
type Refusal struct {
	Code   int
	Reason string
}

func (r *Refusal) Error() string { return r.Reason }

func newHub(rs *Rooms, room db.Room) *Hub {
	h := &Hub{
		id:     room.ID,
		rooms:  rs,
		cfg:    rs.cfg,
		log:    rs.log.With("room", room.ID),
		ops:    make(chan func(), 64),
		says:   make(chan *sayOp, 1024),
		done:   make(chan struct{}),
		room:   room,
		people: map[int64]*presence{},
	}
	return h
}

// do runs fn on the hub goroutine and reports false if the hub has stopped.
func (h *Hub) do(fn func()) bool {
	select {
	case h.ops <- fn:
		return true
	case <-h.done:
		return false
	}
}

// call runs fn on the hub goroutine and waits for it. It reports whether fn ran: the hub may
// run fn and stop right after (a room deleted just after a join), and fn's effects (an
// admitted socket with its writer) must then count, whichever the caller notices first.
func (h *Hub) call(fn func()) bool {
	finished := make(chan struct{})
	if !h.do(func() { fn(); close(finished) }) {
		return false
	}
	select {
	case <-finished:
	case <-h.done:
	}
	select {
	case <-finished:
		return true
	default:
		return false
	}
}

func (h *Hub) run(ctx context.Context) {
	defer close(h.done)
	// Anything still queued when the hub stops for good was not stored: say so, before done
	// closes, so Post can tell "stored" from "not stored".
	defer func() {
		for {
			select {
			case op := <-h.says:
				h.finish(op, ErrRoomGone)
			default:
				return
			}
		}
	}()
	h.startEmptyTimer()
	batch := make([]*sayOp, 0, h.cfg.MaxBatch)
	// One ticker pings every socket of the room, rather than a timer per socket.
	ping := time.NewTicker(h.cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case now := <-ping.C:
			h.eachSocket(func(c *Client) { c.alive(now) })
		case <-ctx.Done():
			// Persist what was already accepted from sockets before closing them.
			for {
				batch = h.gather(batch[:0])
				if len(batch) == 0 {
					break
				}
				// Store, but do not fan out: the sockets are about to close with 1012 and
				// will replay these after reconnecting; a last flood would only get
				// sockets dropped as slow (1013) instead.
				h.draining = true
				h.persistAndSend(context.Background(), batch)
			}
			h.shutdown(CloseRestart, "server restarting")
			return
		case fn := <-h.ops:
			fn()
		case op := <-h.says:
			// Group commit: everything that queued up while the last batch was written goes
			// into the next transaction together.
			batch = h.gather(append(batch[:0], op))
			// Accepted messages are stored even if shutdown starts meanwhile: ctx ending must
			// not turn an insert already under way into "could not save your message".
			h.persistAndSend(context.WithoutCancel(ctx), batch)
			clear(batch)
		}
		if h.closed {
			return
		}
	}
}

// gather adds to batch whatever messages are already queued, up to the batch's capacity,
// without waiting for more.
func (h *Hub) gather(batch []*sayOp) []*sayOp {
	for len(batch) < cap(batch) {
		select {
		case more := <-h.says:
			batch = append(batch, more)
		default:
			return batch
		}
	}
	return batch
}

// Join admits a socket, atomically with every other join of this room: the room still
// exists, a private room was entered, the person is not barred, and there is a place
// (people, not tabs: a second tab takes none). It then replays what the socket has not seen
// (ids after afterID). A refusal is returned for the caller to close with.
func (h *Hub) Join(ctx context.Context, c *Client, afterID int64) error {
	var err error
	ok := h.call(func() { err = h.admit(ctx, c, afterID) })
	if !ok {
		return ErrRoomGone
	}
	return err
}

func (h *Hub) admit(ctx context.Context, c *Client, afterID int64) error {
	if h.closed {
		return ErrRoomGone
	}
	who := c.identity
	p := h.people[who.ID]
	if p == nil {
		if h.room.Private() && h.room.OwnerID != who.ID {
			entered, err := h.rooms.store.HasRoomEntry(ctx, h.id, who.ID)
			if err != nil {
				h.log.Error("admission: entry check", "err", err)
				return &Refusal{Code: 1011, Reason: "The server could not check your entry; try again."}
			}
			if !entered {
				return ErrNeedsPassword
			}
		}
		until, err := h.rooms.store.BarredUntil(ctx, h.id, who.ID)
		if err != nil {
			h.log.Error("admission: bar check", "err", err)
			return &Refusal{Code: 1011, Reason: "The server could not check your entry; try again."}
		}
		if until > time.Now().UnixMilli() {
			return BarredRefusal(time.UnixMilli(until))
		}
		if len(h.people) >= h.room.Capacity {
			return ErrFull
		}
	}
	if h.cfg.MaxSocketsPerPerson > 0 && p != nil && len(p.sockets) >= h.cfg.MaxSocketsPerPerson {
		return &Refusal{Code: CloseTooMany, Reason: fmt.Sprintf("You have this room open in %d tabs already; close one first.", len(p.sockets))}
	}

	// Replay first, so the socket's queue holds history before anything broadcast later.
	missed, err := h.rooms.store.MessagesAfter(ctx, h.id, who.ID, afterID, h.cfg.ReplayLimit+1)
	if err != nil {
		h.log.Error("admission: replay", "err", err)
		return &Refusal{Code: 1011, Reason: "The server could not load the messages you missed; try again."}
	}
	c.hub = h
	if len(missed) > h.cfg.ReplayLimit {
		// Too much to replay as a stream: start over from the latest page instead.
		latest, err := h.rooms.store.LatestMessages(ctx, h.id, who.ID, h.cfg.HistoryPage)
		if err != nil {
			h.log.Error("admission: reload", "err", err)
			return &Refusal{Code: 1011, Reason: "The server could not load the messages you missed; try again."}
		}
		c.enqueue(h.render(components.HistoryReplaceOOB(h.history(latest))))
	} else if len(missed) > 0 {
		// One queue entry for the whole replay: a socket that missed more than its queue
		// holds must not be dropped as slow before it has caught up (and loop doing so).
		var buf bytes.Buffer
		for _, m := range missed {
			if err := components.MessageOOB(MessageView(m)).Render(ctx, &buf); err != nil {
				h.log.Error("render replay", "err", err)
				return &Refusal{Code: 1011, Reason: "The server could not load the messages you missed; try again."}
			}
		}
		c.enqueue(buf.Bytes())
	}
	if h.empty != nil {
		h.empty.Stop()
		h.empty = nil
	}
	newcomer := p == nil
	if newcomer {
		h.joinSeq++
		p = &presence{identity: who, sockets: map[*Client]struct{}{}, seq: h.joinSeq}
		h.people[who.ID] = p
	} else if p.leaving != nil {
		// Back within the debounce (a refresh, a dropped connection): no leave, no join.
		p.leaving.Stop()
		p.leaving = nil
	}
	p.sockets[c] = struct{}{}
	if h.cfg.Hooks.Sockets != nil {
		h.cfg.Hooks.Sockets(1)
	}
	// The joining socket gets the whole panel; everyone else gets one added item.
	c.enqueue(h.render(components.MemberListOOB(h.room.OwnerID, h.members())))
	if newcomer {
		frag := h.render(components.MemberJoinedOOB(components.Member{Person: PersonView(who), Owner: who.ID == h.room.OwnerID}))
		h.eachSocket(func(o *Client) {
			if o != c {
				o.enqueue(frag)
			}
		})
		h.updateLobby()
		h.notice(ctx, who.Nickname+" joined")
	}
	return nil
}

// BarredRefusal says how long a kicked person must wait.
func BarredRefusal(until time.Time) *Refusal {
	mins := int(time.Until(until).Round(time.Minute) / time.Minute)
	if mins < 1 {
		mins = 1
	}
	return &Refusal{Code: CloseKicked, Reason: fmt.Sprintf("You were removed by the owner and can come back in %d minute(s).", mins)}
}

// leave forgets a socket. The person stays (holding their place) for the debounce; only
// if no socket of theirs comes back is the leave announced.
func (h *Hub) leave(c *Client) {
	h.do(func() {
		p := h.people[c.identity.ID]
		if p == nil {
			return
		}
		if _, ok := p.sockets[c]; !ok {
			return
		}
		delete(p.sockets, c)
		if h.cfg.Hooks.Sockets != nil {
			h.cfg.Hooks.Sockets(-1)
		}
		if len(p.sockets) > 0 || p.leaving != nil {
			return
		}
		p.leaving = time.AfterFunc(h.cfg.LeaveDebounce, func() {
			h.do(func() {
				if h.people[p.identity.ID] == p && len(p.sockets) == 0 {
					h.depart(context.Background(), p, p.identity.Nickname+" left")
				}
			})
		})
	})
}

// depart removes a person now: notice, members, lobby, ownership, empty timer.
func (h *Hub) depart(ctx context.Context, p *presence, text string) {
	if p.leaving != nil {
		p.leaving.Stop()
		p.leaving = nil
	}
	delete(h.people, p.identity.ID)
	h.notice(ctx, text)
	if p.identity.ID == h.room.OwnerID && h.handOver(ctx) {
		h.sendMembers() // the owner mark moves: re-send the whole panel (rare)
	} else {
		frag := h.render(components.MemberLeftOOB(p.identity.ID))
		h.eachSocket(func(c *Client) { c.enqueue(frag) })
	}
	h.updateLobby()
	if len(h.people) == 0 {
		h.startEmptyTimer()
	}
}

// handOver gives the room to whoever has been present longest, and reports whether it did.
func (h *Hub) handOver(ctx context.Context) bool {
	var next *presence
	for _, p := range h.people {
		if next == nil || p.seq < next.seq {
			next = p
		}
	}
	if next == nil {
		return false
	}
	if err := h.rooms.store.SetRoomOwner(ctx, h.id, next.identity.ID); err != nil {
		h.log.Error("hand over ownership", "err", err)
		return false
	}
	h.room.OwnerID = next.identity.ID
	h.room.OwnerName = next.identity.Nickname
	h.room.OwnerColour = next.identity.Colour
	h.notice(ctx, next.identity.Nickname+" is now the owner")
	return true
}

func (h *Hub) startEmptyTimer() {
	if h.empty != nil || len(h.people) > 0 {
		return
	}
	h.empty = time.AfterFunc(h.cfg.EmptyRoomGrace, func() {
		h.do(func() {
			if len(h.people) == 0 && !h.closed {
				h.log.Info("room empty past the grace; removing")
				h.remove(context.Background(), "", CloseRoomGone)
			}
		})
	})
}

// remove deletes the room: tells members (if any), closes their sockets, deletes rows and
// unused GIFs, tells every lobby, and stops the hub.
func (h *Hub) remove(ctx context.Context, text string, code int) {
	h.closed = true
	if h.empty != nil {
		h.empty.Stop()
	}
	if text != "" {
		frag := h.render(components.RoomClosedOOB(text))
		h.eachSocket(func(c *Client) { c.enqueue(frag) })
	}
	h.eachSocket(func(c *Client) { c.close(code, "room closed") })
	for _, p := range h.people {
		if p.leaving != nil {
			p.leaving.Stop()
		}
	}
	h.people = map[int64]*presence{}
	h.rooms.forget(h)
	if err := h.rooms.deleteRoom(ctx, h.id); err != nil {
		h.log.Error("remove room", "err", err)
	}
}

// shutdown closes every socket with a code that makes browsers come back (1012), without
// touching the room's rows: after a restart the room is there and clients replay.
func (h *Hub) shutdown(code int, reason string) {
	h.closed = true
	if h.empty != nil {
		h.empty.Stop()
	}
	for _, p := range h.people {
		if p.leaving != nil {
			p.leaving.Stop()
		}
	}
	h.eachSocket(func(c *Client) { c.close(code, reason) })
}

func (h *Hub) eachSocket(fn func(*Client)) {
	for _, p := range h.people {
		for c := range p.sockets {
			fn(c)
		}
	}
}

// receive handles one frame from a socket (called on the socket's reader goroutine).
func (h *Hub) receive(c *Client, data []byte) {
	f, err := DecodeFrame(data)
	if err != nil {
		h.refuseFrame(c, err.Error()+".")
		return
	}
	if h.cfg.Hooks.Allow != nil {
		if reason := h.cfg.Hooks.Allow(c.identity.ID, f.Action); reason != "" {
			h.refuseFrame(c, reason)
			return
		}
	}
	switch f.Action {
	case ActionSay:
		text, err := CleanText(f.Text, h.cfg.MaxMessageRunes)
		if err != nil {
			h.sendForm(c, components.MessageForm{Text: f.Text, Error: err.Error()}, f.To)
			return
		}
		msg := &db.Message{RoomID: h.id, AuthorID: c.identity.ID, Kind: db.KindText, Body: text}
		if f.To != "" {
			to, _ := parseID(f.To)
			msg.Kind, msg.RecipientID = db.KindWhisper, to
		}
		select {
		case h.says <- &sayOp{from: c, author: c.identity, msg: msg}:
		case <-h.done:
		}
	case ActionWhisperTo:
		to, _ := parseID(f.To)
		h.do(func() {
			p := h.people[to]
			switch {
			case p == nil:
				h.sendForm(c, components.MessageForm{Error: "That person is no longer here."}, "")
			case to == c.identity.ID:
				h.sendForm(c, components.MessageForm{Error: "You cannot whisper to yourself."}, "")
			default:
				who := PersonView(p.identity)
				c.enqueue(h.render(components.ComposerOOB(components.MessageForm{RoomID: h.id, WhisperTo: &who})))
			}
		})
	case ActionWhisperCancel:
		c.enqueue(h.render(components.ComposerOOB(components.MessageForm{RoomID: h.id})))
	case ActionKick:
		member, _ := parseID(f.Member)
		h.do(func() {
			if err := h.kick(context.Background(), c.identity.ID, member); err != nil {
				h.refuseFrameNow(c, err.Error())
			}
		})
	}
}

// Post persists and delivers a message that did not come from a socket (the no-JS form, a GIF
// upload). It waits until the message is stored and fanned out; author must be present in the
// room or have entered it, which the caller checks.
func (h *Hub) Post(ctx context.Context, author db.Identity, msg *db.Message) error {
	msg.RoomID, msg.AuthorID = h.id, author.ID
	op := &sayOp{author: author, msg: msg, done: make(chan error, 1)}
	select {
	case h.says <- op:
	case <-h.done:
		return ErrRoomGone
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the outcome is waited for whatever ctx does: the caller must know whether
	// the message was stored.
	select {
	case err := <-op.done:
		return err
	case <-h.done:
		select {
		case err := <-op.done:
			return err
		default:
			return ErrRoomGone // queued after the final drain: never stored
		}
	}
}

// persistAndSend stores a batch in one transaction, then renders each message once and
// hands the same bytes to every socket that may see it.
func (h *Hub) persistAndSend(ctx context.Context, batch []*sayOp) {
	if h.closed {
		for _, op := range batch {
			h.finish(op, ErrRoomGone)
		}
		return
	}
	keep := batch[:0]
	msgs := make([]*db.Message, 0, len(batch))
	for _, op := range batch {
		if op.msg.Kind == db.KindWhisper && op.msg.RecipientID == op.msg.AuthorID {
			if op.from != nil {
				h.sendForm(op.from, components.MessageForm{Text: op.msg.Body, Error: "You cannot whisper to yourself."}, "")
			}
			h.finish(op, errors.New("whisper to self"))
			continue
		}
		if op.msg.Kind == db.KindWhisper {
			if _, here := h.people[op.msg.RecipientID]; !here {
				if op.from != nil {
					h.sendForm(op.from, components.MessageForm{Text: op.msg.Body, Error: "That person has left; your whisper was not sent."}, "")
				}
				h.finish(op, errors.New("whisper recipient has left"))
				continue
			}
		}
		keep = append(keep, op)
		msgs = append(msgs, op.msg)
	}
	if len(msgs) == 0 {
		return
	}
	if err := h.rooms.insert(ctx, msgs); err != nil {
		h.log.Error("persist messages", "err", err, "count", len(msgs))
		for _, op := range keep {
			if op.from != nil {
				h.sendForm(op.from, components.MessageForm{Text: op.msg.Body, Error: "The server could not save your message; please try again."}, toString(op.msg.RecipientID))
			}
			h.finish(op, err)
		}
		return
	}
	for _, op := range keep {
		h.fanOut(*op.msg, op.author)
		if op.from != nil {
			to := ""
			if op.msg.Kind == db.KindWhisper {
				to = toString(op.msg.RecipientID)
			}
			h.sendForm(op.from, components.MessageForm{}, to)
		}
		h.finish(op, nil)
	}
}

func (h *Hub) finish(op *sayOp, err error) {
	if op.done != nil {
		op.done <- err
	}
}

// fanOut renders a stored message once and queues the bytes for everyone who may see it.
func (h *Hub) fanOut(m db.Message, author db.Identity) {
	m.AuthorName, m.AuthorColour = author.Nickname, author.Colour
	if m.Kind == db.KindWhisper {
		if p := h.people[m.RecipientID]; p != nil {
			m.RecipientName, m.RecipientColour = p.identity.Nickname, p.identity.Colour
		}
	}
	if m.GIF != "" && m.GIFWidth == 0 {
		if full, err := h.rooms.store.MessageByID(context.Background(), m.ID); err == nil {
			m = full
		}
	}
	if h.cfg.Hooks.Message != nil {
		h.cfg.Hooks.Message(m.Kind)
	}
	if h.draining {
		return
	}
	frag := h.render(components.MessageOOB(MessageView(m)))
	if m.Kind == db.KindWhisper {
		for _, id := range []int64{m.AuthorID, m.RecipientID} {
			if p := h.people[id]; p != nil {
				for c := range p.sockets {
					c.enqueue(frag)
				}
			}
		}
		return
	}
	h.eachSocket(func(c *Client) { c.enqueue(frag) })
}

// notice persists a system message and sends it to everyone (called on the hub goroutine).
func (h *Hub) notice(ctx context.Context, text string) {
	msg := &db.Message{RoomID: h.id, Kind: db.KindSystem, Body: text}
	if err := h.rooms.insert(ctx, []*db.Message{msg}); err != nil {
		h.log.Error("persist notice", "err", err)
		return
	}
	h.fanOut(*msg, db.Identity{})
}

// kick removes a member at the owner's request: bar, notice, close with the reason.
func (h *Hub) kick(ctx context.Context, by, member int64) error {
	if by != h.room.OwnerID {
		return errors.New("Only the room's owner can remove people.")
	}
	if member == by {
		return errors.New("You cannot remove yourself; leave the room instead.")
	}
	p := h.people[member]
	if p == nil {
		return errors.New("That person is no longer here.")
	}
	until := time.Now().Add(h.cfg.KickBar)
	if err := h.rooms.store.BarFromRoom(ctx, h.id, member, until.UnixMilli()); err != nil {
		h.log.Error("kick: bar", "err", err)
		return errors.New("The server could not remove that person; try again.")
	}
	frag := h.render(components.RoomClosedOOB("You were removed by the owner. You can come back in " + fmt.Sprint(int(h.cfg.KickBar.Round(time.Minute)/time.Minute)) + " minutes."))
	for c := range p.sockets {
		c.enqueue(frag)
		c.close(CloseKicked, "removed by the owner")
	}
	p.sockets = map[*Client]struct{}{}
	h.depart(ctx, p, p.identity.Nickname+" was removed by the owner")
	return nil
}

// Delete closes the room at its owner's request. It reports ErrNotOwner for anyone else.
func (h *Hub) Delete(ctx context.Context, by int64) error {
	var err error
	if !h.call(func() {
		if by != h.room.OwnerID {
			err = ErrNotOwner
			return
		}
		// Persisted like every notice (and shown in the log) before the room and its
		// messages go.
		h.notice(ctx, h.room.OwnerName+" closed the room")
		h.remove(ctx, "This room was closed by its owner.", CloseRoomGone)
	}) {
		return ErrRoomGone
	}
	return err
}

// ErrNotOwner refuses an owner's action to anyone else.
var ErrNotOwner = errors.New("only the room's owner can do that")

// Owner returns the room's current owner id.
func (h *Hub) Owner() int64 {
	var id int64
	h.call(func() { id = h.room.OwnerID })
	return id
}

// Members returns who is in the room now, in join order, the owner marked.
func (h *Hub) Members() []components.Member {
	var out []components.Member
	h.call(func() { out = h.members() })
	return out
}

// Occupancy reports how many people hold a place and whether id is one of them.
func (h *Hub) Occupancy(id int64) (people int, present bool) {
	h.call(func() {
		people = len(h.people)
		_, present = h.people[id]
	})
	return people, present
}

// Room returns the room as the hub knows it now (owner changes included).
func (h *Hub) Room() db.Room {
	var r db.Room
	h.call(func() { r = h.room })
	return r
}

// Present reports whether an identity is in the room now (a socket or within the debounce).
func (h *Hub) Present(id int64) bool {
	var ok bool
	h.call(func() { _, ok = h.people[id] })
	return ok
}

func (h *Hub) refuseFrame(c *Client, reason string) {
	h.do(func() { h.refuseFrameNow(c, reason) })
}

func (h *Hub) refuseFrameNow(c *Client, reason string) {
	c.enqueue(h.render(components.RoomStatusOOB("error", reason)))
}

// sendForm resets or re-shows one socket's composer; to keeps whisper mode on.
func (h *Hub) sendForm(c *Client, f components.MessageForm, to string) {
	if h.draining {
		return
	}
	f.RoomID = h.id
	if to != "" {
		id, _ := parseID(to)
		if p := h.people[id]; p != nil {
			who := PersonView(p.identity)
			f.WhisperTo = &who
		}
	}
	c.enqueue(h.render(components.ComposerOOB(f)))
}

func (h *Hub) sendMembers() {
	frag := h.render(components.MemberListOOB(h.room.OwnerID, h.members()))
	h.eachSocket(func(c *Client) { c.enqueue(frag) })
}

func (h *Hub) members() []components.Member {
	ps := make([]*presence, 0, len(h.people))
	for _, p := range h.people {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].seq < ps[j].seq })
	out := make([]components.Member, len(ps))
	for i, p := range ps {
		out[i] = components.Member{Person: PersonView(p.identity), Owner: p.identity.ID == h.room.OwnerID}
	}
	return out
}

func (h *Hub) updateLobby() {
	h.rooms.lobby.Upsert(RoomCardView(h.room, len(h.people)), h.room.CreatedAt)
}

func (h *Hub) history(msgs []db.Message) components.History {
	hist := components.History{RoomID: h.id, Messages: MessageViews(msgs)}
	if len(msgs) == h.cfg.HistoryPage && len(msgs) > 0 {
		hist.OlderBefore = msgs[0].ID
	}
	return hist
}

// render turns a component into bytes once; the result is shared by every recipient.
func (h *Hub) render(c templ.Component) []byte {
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		h.log.Error("render", "err", err)
		return nil
	}
	if h.cfg.Hooks.Render != nil {
		h.cfg.Hooks.Render()
	}
	return buf.Bytes()
}

func toString(id int64) string {
	if id == 0 {
		return ""
	}
	return fmt.Sprint(id)
}
