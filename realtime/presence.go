package realtime

import (
	"context"
	"slices"
	"sort"
	"time"

	"gifchat/components"
	"gifchat/db"
	"gifchat/vocab"
)

// presence is one person in the room with all their sockets (tabs).
type presence struct {
	identity db.Identity
	sockets  map[*Client]struct{}
	seq      int64 // join order, for handing ownership to whoever has been here longest
	leaving  Timer
}

// arrive adds an admitted socket to its person, announcing the person if they are new. Back
// within the leave debounce (a refresh, a dropped connection) is neither a leave nor a join.
func (h *Hub) arrive(ctx context.Context, c *Client) {
	// The socket's identity was read with its session; a rename since is what the room shows.
	c.identity = h.rooms.names.freshIdentity(c.identity)
	if p := h.people[c.identity.ID]; p != nil {
		c.identity.Nickname, c.identity.Colour = p.identity.Nickname, p.identity.Colour
	}
	who := c.identity
	if h.empty != nil {
		h.empty.Stop()
		h.empty = nil
	}
	p := h.people[who.ID]
	newcomer := p == nil
	// The panel as the joining page shows it, if the page said (see MembersDigestTag).
	shown := c.panel != "" && c.panel == h.panelDigest()
	if newcomer {
		h.joinSeq++
		p = &presence{identity: who, sockets: map[*Client]struct{}{}, seq: h.joinSeq}
		h.people[who.ID] = p
	} else if p.leaving != nil {
		p.leaving.Stop()
		p.leaving = nil
	}
	p.sockets[c] = struct{}{}
	if h.cfg.Hooks.Sockets != nil {
		h.cfg.Hooks.Sockets(1)
	}
	// Everyone else gets one added item. So does the joining socket if its page shows the
	// panel as it was before the join; a socket coming back to the panel its page shows gets
	// nothing. Otherwise the whole panel: a fresh page that raced other joins, a socket back
	// after changes it missed, a client that did not say.
	var joined *frag
	if newcomer {
		joined = h.render(components.MemberJoinedOOB(components.Member{Person: PersonView(who), Owner: who.ID == h.room.OwnerID}, h.panelDigest()))
	}
	switch {
	case shown && joined != nil:
		c.send(joined)
	case !shown:
		c.send(h.memberPanel())
	}
	h.typingLineFor(c)
	if newcomer {
		h.eachSocket(func(o *Client) {
			if o != c {
				o.send(joined)
			}
		})
		h.updateLobby()
		h.queueNotice(vocab.NoticeJoined, who)
	}
}

// postedWithoutSocket keeps a person who posts over plain HTTP (the no-JS form, a GIF upload)
// present for FormPresence after their last post: shown in the members panel, holding a place,
// kickable, and keeping the room from being removed under them. Someone with a socket is
// present anyway.
func (h *Hub) postedWithoutSocket(ctx context.Context, who db.Identity) {
	if h.rooms.clustered() {
		return // presence across instances is a socket's (connection rows); see cluster_presence.go
	}
	who = h.rooms.names.freshIdentity(who)
	p := h.people[who.ID]
	if p != nil && len(p.sockets) > 0 {
		return
	}
	if p == nil {
		if h.empty != nil {
			h.empty.Stop()
			h.empty = nil
		}
		h.joinSeq++
		p = &presence{identity: who, sockets: map[*Client]struct{}{}, seq: h.joinSeq}
		h.people[who.ID] = p
		frag := h.render(components.MemberJoinedOOB(components.Member{Person: PersonView(who), Owner: who.ID == h.room.OwnerID}, h.panelDigest()))
		h.eachSocket(func(o *Client) { o.send(frag) })
		h.updateLobby()
		h.queueNotice(vocab.NoticeJoined, who)
	}
	if p.leaving != nil {
		p.leaving.Stop()
	}
	h.awayFor(p, max(h.cfg.FormPresence, h.cfg.LeaveDebounce))
}

// awayFor has a person with no socket leave, announced, unless a socket of theirs arrives
// within d.
func (h *Hub) awayFor(p *presence, d time.Duration) {
	p.leaving = h.cfg.Clock.AfterFunc(d, func() {
		h.do(func() {
			if h.people[p.identity.ID] == p && len(p.sockets) == 0 {
				h.depart(context.Background(), p, vocab.NoticeLeft)
			}
		})
	})
}

// restore gives the people the log shows present before this start (in join order) their
// places back, each until RejoinGrace has passed without a socket of theirs: a restart
// closed their sockets, not they, and coming back is no join (nor the wait a leave). Runs
// before the hub does.
func (h *Hub) restore(present []db.Present) {
	for _, was := range present {
		h.joinSeq++
		p := &presence{identity: was.Identity, sockets: map[*Client]struct{}{}, seq: h.joinSeq}
		h.people[was.ID] = p
		h.awayFor(p, max(h.cfg.RejoinGrace, h.cfg.LeaveDebounce))
	}
}

// attached reports whether a socket is still one of the room's (not left, not kicked).
func (h *Hub) attached(c *Client) bool {
	p := h.people[c.identity.ID]
	if p == nil {
		return false
	}
	_, ok := p.sockets[c]
	return ok
}

// leave forgets a socket. The person stays (holding their place) for the debounce; only
// if no socket of theirs comes back is the leave announced.
func (h *Hub) leave(c *Client) {
	h.do(func() {
		if !h.attached(c) {
			return
		}
		if h.draining { // the server is stopping (lastWords): the socket goes, its person stays
			h.detach(c)
			return
		}
		if h.rooms.clustered() {
			h.leaveShared(c)
			return
		}
		p := h.detach(c)
		if len(p.sockets) > 0 || p.leaving != nil {
			return
		}
		h.awayFor(p, h.cfg.LeaveDebounce)
	})
}

// detach forgets one socket of its person and returns the person.
func (h *Hub) detach(c *Client) *presence {
	p := h.people[c.identity.ID]
	delete(p.sockets, c)
	if h.cfg.Hooks.Sockets != nil {
		h.cfg.Hooks.Sockets(-1)
	}
	return p
}

// depart removes a person now, with a notice of the given kind (left, kicked): members,
// lobby, ownership, empty timer.
func (h *Hub) depart(ctx context.Context, p *presence, notice string) {
	if p.leaving != nil {
		p.leaving.Stop()
		p.leaving = nil
	}
	delete(h.people, p.identity.ID)
	h.stopTyping(p.identity.ID)
	h.notice(ctx, notice, p.identity)
	if p.identity.ID == h.room.OwnerID && h.handOver(ctx) {
		h.sendMembers() // the owner mark moves: re-send the whole panel (rare)
	} else {
		frag := h.render(components.MemberLeftOOB(p.identity.ID, h.panelDigest()))
		h.eachSocket(func(c *Client) { c.send(frag) })
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
	h.notice(ctx, vocab.NoticeOwner, next.identity)
	return true
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

func (h *Hub) sendMembers() {
	frag := h.memberPanel()
	h.eachSocket(func(c *Client) { c.send(frag) })
}

// memberPanel is the whole members panel as it is now. It is rendered again only when who is
// here, their names or the owner changed since the last time: after a restart a room's crowd
// comes back one socket after another to the same panel, which in a room of a hundred is a
// hundred items rendered per socket otherwise.
func (h *Hub) memberPanel() *frag {
	members := h.members()
	if last := &h.panel; last.frag == nil || last.owner != h.room.OwnerID || !slices.Equal(last.members, members) {
		*last = panel{owner: h.room.OwnerID, members: members, frag: h.render(components.MemberListOOB(h.room.OwnerID, members))}
	}
	return h.panel.frag
}

// panel is the members panel as last rendered, with what it was rendered from.
type panel struct {
	owner   int64
	members []components.Member
	frag    *frag
}

// panelDigest is the fingerprint of the members panel as it is now (components.MembersDigest).
func (h *Hub) panelDigest() string {
	return components.MembersDigest(h.room.OwnerID, h.members())
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
