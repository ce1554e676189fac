package realtime

import (
	"context"
	"errors"
	"strings"
	"time"

	"gifchat/cluster"
	"gifchat/components"
	"gifchat/db"
)

// Presence across instances (../shared/CLUSTER.md). In a cluster who is in a room lives in
// PostgreSQL (db/presence.go): a join is admitted by one transaction under the room's lock
// (capacity counted in people across instances), a socket's end removes its connection row,
// and the leave is announced by whichever instance's settler finds the person gone for the
// debounce on every instance. A hub's people map then holds everyone present, on any
// instance, each with the sockets this instance holds (often none): the members panel, the
// whisper and kick checks and the occupancy read it as in one process. It is read again from
// the database whenever the room's presence changes (ControlMembers).

// Control data of a ControlClose: why the person's sockets close.
const (
	closeKick = "kick"
	closeBan  = "ban"
)

// refusalOf turns a database admission refusal into the socket's.
func (h *Hub) refusalOf(err error) error {
	var barred *db.BarredError
	switch {
	case errors.Is(err, db.ErrRoomGone):
		return ErrRoomGone
	case errors.Is(err, db.ErrFull):
		return ErrFull
	case errors.Is(err, db.ErrLocked):
		return ErrLocked
	case errors.Is(err, db.ErrNeedsPassword):
		return ErrNeedsPassword
	case errors.As(err, &barred):
		if barred.Until == db.BanUntil {
			return ErrBanned
		}
		return barredRefusal(time.UnixMilli(barred.Until), h.cfg.Clock.Now())
	}
	h.log.Error("cluster: admission", "err", err)
	return errJoinFailed
}

// joinShared admits a socket through the shared presence, replays what it missed and
// attaches it (join, in a cluster).
func (h *Hub) joinShared(ctx context.Context, c *Client, afterSeq int64) error {
	if p := h.people[c.identity.ID]; p != nil && len(p.sockets) >= h.cfg.MaxTabsPerRoom {
		return &Refusal{Code: CloseTooMany, Key: "errors.room.too_many_tabs", Args: []any{"Count", len(p.sockets)}}
	}
	if _, here := h.people[c.identity.ID]; !here {
		if err := h.nameMet(c.identity); err != nil {
			return err
		}
	}
	adm, err := h.rooms.store.AdmitConnection(ctx, db.Admission{Room: h.id, Identity: c.identity, Address: c.addr, Instance: h.rooms.instance})
	if err != nil {
		return h.refusalOf(err)
	}
	c.row = adm.Conn
	if afterSeq > h.delivered {
		c.has = afterSeq
	}
	if err := h.replay(ctx, c, afterSeq); err != nil {
		h.rooms.store.Disconnect(context.WithoutCancel(ctx), c.row)
		return err
	}
	c.hub = h
	c.identity = h.rooms.names.freshIdentity(c.identity)
	h.syncPeople(ctx)
	p := h.people[c.identity.ID]
	if p == nil { // removed between the admission and now (a kick): the next read has it
		p = &presence{identity: c.identity, sockets: map[*Client]struct{}{}}
		h.people[c.identity.ID] = p
	}
	p.sockets[c] = struct{}{}
	if h.cfg.Hooks.Sockets != nil {
		h.cfg.Hooks.Sockets(1)
	}
	if adm.Joined != nil {
		h.fanOut(*adm.Joined)
		h.sendMembers()
		h.updateLobby()
		h.membersChanged()
	} else if c.panel == "" || c.panel != h.panelDigest() {
		c.send(h.memberPanel()) // unless the page shows it already (MembersDigestTag)
	}
	h.typingLineFor(c)
	return nil
}

// leaveShared forgets a socket and removes its connection row; the leave, if it is one, is
// the settler's to announce.
func (h *Hub) leaveShared(c *Client) {
	p := h.people[c.identity.ID]
	delete(p.sockets, c)
	if h.cfg.Hooks.Sockets != nil {
		h.cfg.Hooks.Sockets(-1)
	}
	if err := h.rooms.store.Disconnect(context.Background(), c.row); err != nil {
		h.log.Warn("cluster: disconnect", "err", err) // the lease reaper takes the row with the instance
	}
}

// departed applies leaves the settler committed (here or on another instance): the notices,
// a new owner, the members panel.
func (h *Hub) departed(d db.Departure) {
	if h.closed {
		return
	}
	for _, who := range d.Left {
		if p := h.people[who.ID]; p != nil && len(p.sockets) == 0 {
			delete(h.people, who.ID)
		}
		h.stopTyping(who.ID)
	}
	if d.NewOwner != nil {
		h.room.OwnerID, h.room.OwnerName, h.room.OwnerColour = d.NewOwner.ID, d.NewOwner.Nickname, d.NewOwner.Colour
	}
	for _, n := range d.Notices {
		h.fanOut(*n)
	}
	h.syncPeople(context.Background())
	h.sendMembers()
	h.updateLobby()
	h.membersChanged()
}

// removeShared is a kick or ban in a cluster, after the bars are written and the person's
// sockets here closed: their rows go on every instance with the notice, and the other
// instances close their sockets.
func (h *Hub) removeShared(ctx context.Context, p *presence, notice string, ban bool) error {
	n, err := h.rooms.store.RemovePerson(ctx, h.id, p.identity, notice)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		h.log.Error("cluster: remove member", "err", err)
		return errRemoveFailed
	}
	delete(h.people, p.identity.ID)
	h.stopTyping(p.identity.ID)
	if n != nil {
		h.fanOut(*n)
	}
	why := closeKick
	if ban {
		why = closeBan
	}
	if err := h.rooms.broker.PublishControl(cluster.Control{Room: h.id, Kind: cluster.ControlClose, Identity: p.identity.ID, Data: []byte(why)}); err != nil {
		h.log.Warn("cluster: publish removal", "err", err)
	}
	h.sendMembers()
	h.updateLobby()
	h.membersChanged()
	return nil
}

// membersChanged tells the other instances to read the room's presence (and its row: the
// owner, the lock) again.
func (h *Hub) membersChanged() {
	if !h.rooms.clustered() {
		return
	}
	if err := h.rooms.broker.PublishControl(cluster.Control{Room: h.id, Kind: cluster.ControlMembers}); err != nil {
		h.log.Warn("cluster: publish members", "err", err)
	}
}

// roomChanged tells the room's other instances to read its row again (lock, password, bans).
func (h *Hub) roomChanged() {
	if !h.rooms.clustered() {
		return
	}
	if err := h.rooms.broker.PublishControl(cluster.Control{Room: h.id, Kind: cluster.ControlRoom}); err != nil {
		h.log.Warn("cluster: publish room change", "err", err)
	}
}

// remoteControl applies another instance's control event.
func (h *Hub) remoteControl(c cluster.Control) {
	if h.closed || c.From == h.rooms.broker.Instance() {
		return
	}
	ctx := context.Background()
	switch c.Kind {
	case cluster.ControlMembers:
		h.reloadRoom(ctx)
		h.syncPeople(ctx)
		h.sendMembers()
		h.updateLobby()
	case cluster.ControlRoom:
		h.reloadRoom(ctx)
		h.sendOwnerTools()
		h.sendBans(ctx)
		h.updateLobby()
	case cluster.ControlTyping:
		h.remoteTyping(c)
	case cluster.ControlRenamed:
		h.remoteRename(c)
	case cluster.ControlClose:
		p := h.people[c.Identity]
		if p == nil {
			return
		}
		reason := refusal("errors.owner.kicked", "Duration", h.cfg.KickBar.Round(time.Minute))
		if string(c.Data) == closeBan {
			reason = errBannedNow
		}
		frag := h.render(said(reason, components.RoomClosedOOB))
		for s := range p.sockets {
			s.send(frag)
			s.close(CloseKicked, closeRemoved)
		}
		if h.cfg.Hooks.Sockets != nil {
			h.cfg.Hooks.Sockets(-len(p.sockets))
		}
		delete(h.people, c.Identity)
		h.stopTyping(c.Identity)
		h.sendMembers()
	}
}

// reloadRoom reads the room's row again (owner, lock, password), as another instance changed it.
func (h *Hub) reloadRoom(ctx context.Context) {
	if r, err := h.rooms.store.RoomByID(ctx, h.id); err == nil {
		h.room = r
	}
}

// syncPeople reads who is present from the database: people on other instances come in
// (without sockets here), people no longer present go unless they have sockets here.
func (h *Hub) syncPeople(ctx context.Context) {
	rows, err := h.rooms.store.RoomPeople(ctx, h.id)
	if err != nil {
		warnUnlessStopping(ctx, h.log, "cluster: read presence", err)
		return
	}
	present := make(map[int64]bool, len(rows))
	for _, r := range rows {
		present[r.ID] = true
		p := h.people[r.ID]
		if p == nil {
			p = &presence{sockets: map[*Client]struct{}{}}
			h.people[r.ID] = p
		}
		p.identity.ID, p.identity.Nickname, p.identity.Colour = r.ID, r.Nickname, r.Colour
		p.seq = r.JoinedAt
	}
	for id, p := range h.people {
		if !present[id] && len(p.sockets) == 0 {
			delete(h.people, id)
		}
	}
}

// publishTyping tells the other instances someone here is typing (name) or stopped (""). A
// person's signal comes every 3 s at most while they type, so this is small traffic.
func (h *Hub) publishTyping(id int64, name string) {
	if !h.rooms.clustered() {
		return
	}
	if err := h.rooms.broker.PublishControl(cluster.Control{Room: h.id, Kind: cluster.ControlTyping, Identity: id, Data: []byte(name)}); err != nil {
		h.log.Warn("cluster: publish typing", "err", err)
	}
}

// remoteTyping applies another instance's typing signal, without passing it on.
func (h *Hub) remoteTyping(c cluster.Control) {
	if len(c.Data) > 0 {
		h.typing(c.Identity, string(c.Data))
		return
	}
	if t := h.typers[c.Identity]; t != nil {
		t.expiry.Stop()
		delete(h.typers, c.Identity)
		h.sendTyping()
	}
}

// publishRename tells the room's other instances someone took another name and colour.
func (h *Hub) publishRename(to db.Identity) {
	if !h.rooms.clustered() {
		return
	}
	data := []byte(to.Nickname + "\x00" + to.Colour)
	if err := h.rooms.broker.PublishControl(cluster.Control{Room: h.id, Kind: cluster.ControlRenamed, Identity: to.ID, Data: data}); err != nil {
		h.log.Warn("cluster: publish rename", "err", err)
	}
}

// remoteRename shows a rename made on another instance: the members panel, the person's own
// header and the whisper lines (the notice comes as an entry of the log).
func (h *Hub) remoteRename(c cluster.Control) {
	nick, colour, ok := strings.Cut(string(c.Data), "\x00")
	if !ok {
		return
	}
	to := db.Identity{ID: c.Identity, Nickname: nick, Colour: colour}
	h.rooms.names.remember(to, time.Now())
	h.renamed(context.Background(), to, false)
}
