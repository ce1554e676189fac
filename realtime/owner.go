package realtime

import (
	"context"
	"net/netip"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"gifchat/components"
	"gifchat/db"
	"gifchat/vocab"
)

// The owner's tools: kick (out for KickBar), ban (out until the room closes) and unban, lock
// and unlock, change or remove the password. Each is checked on the hub, stored, told to the
// room as a notice, and the owner's controls are sent again in their new state.

// Refusals of the owner's tools.
var (
	errOwnerOnly      = refusal("errors.owner.only_owner")
	errRemoveNotOwner = refusal("errors.owner.remove_not_owner")
	errRemoveSelf     = refusal("errors.owner.remove_self")
	errNotHere        = refusal("errors.person.gone")
	errRemoveFailed   = refusal("errors.owner.remove_failed")
	errNotBanned      = refusal("errors.owner.not_banned")
	errUnbanFailed    = refusal("errors.owner.unban_failed")
	errLockFailed     = refusal("errors.owner.lock_failed")
	errPasswordFailed = refusal("errors.owner.password_failed")
	errPasswordLength = refusal("errors.owner.password_length", "Min", MinPassword, "Max", MaxPassword)
	// errBannedNow is what a banned person's sockets show as they close.
	errBannedNow = refusal("errors.room.banned")
)

// removeCmd is the owner removing someone: for KickBar (kick), or until the room closes (ban).
type removeCmd struct {
	member int64
	ban    bool
}

func (r removeCmd) action() string {
	if r.ban {
		return vocab.ActionBan
	}
	return vocab.ActionKick
}
func (removeCmd) batched() bool { return false }

func (r removeCmd) run(ctx context.Context, h *Hub, from *Client) {
	if err := h.removeMember(ctx, from.identity.ID, r.member, r.ban); err != nil {
		h.refuseFrame(from, err)
	}
}

// removeMember takes a member out at the owner's request: bars the person and the addresses
// their sockets came from (for KickBar, or until the room closes for a ban), closes their
// sockets with the reason, and tells the room.
func (h *Hub) removeMember(ctx context.Context, by, member int64, ban bool) error {
	if by != h.room.OwnerID {
		return errRemoveNotOwner
	}
	if member == by {
		return errRemoveSelf
	}
	p := h.people[member]
	if p == nil {
		return errNotHere
	}
	until := h.cfg.Clock.Now().Add(h.cfg.KickBar).UnixMilli()
	reason := refusal("errors.owner.kicked", "Duration", h.cfg.KickBar.Round(time.Minute))
	notice := vocab.NoticeKicked
	if ban {
		until, reason, notice = db.BanUntil, errBannedNow, vocab.NoticeBanned
	}
	var addrs []string
	for c := range p.sockets {
		if barrable(c.addr) {
			addrs = append(addrs, c.addr)
		}
	}
	err := h.rooms.store.BarFromRoom(ctx, h.id, member, until)
	if err == nil {
		err = h.rooms.store.BarAddresses(ctx, h.id, member, addrs, until)
	}
	if err != nil {
		h.log.Error("remove member: bar", "err", err)
		return errRemoveFailed
	}
	// One fragment for the person's sockets, said in each one's language.
	frag := h.render(said(reason, components.RoomClosedOOB))
	for c := range p.sockets {
		c.send(frag)
		c.close(CloseKicked, closeRemoved)
	}
	if h.cfg.Hooks.Sockets != nil {
		h.cfg.Hooks.Sockets(-len(p.sockets))
	}
	p.sockets = map[*Client]struct{}{}
	if h.rooms.clustered() {
		if err := h.removeShared(ctx, p, notice, ban); err != nil {
			return err
		}
	} else {
		h.depart(ctx, p, notice)
	}
	if ban {
		h.sendBans(ctx)
		h.roomChanged()
	}
	return nil
}

// barrable reports whether an address may be barred: not unknown, and not a loopback
// address, which is what every person looks like behind a local proxy without -trust-proxy
// (barring it would bar everybody).
func barrable(addr string) bool {
	a, err := netip.ParseAddr(addr)
	return err == nil && !a.IsLoopback() && !a.IsUnspecified()
}

// unbanCmd lets a banned (or kicked) person back in.
type unbanCmd struct{ member int64 }

func (unbanCmd) action() string { return vocab.ActionUnban }
func (unbanCmd) batched() bool  { return false }

func (u unbanCmd) run(ctx context.Context, h *Hub, from *Client) {
	if from.identity.ID != h.room.OwnerID {
		h.refuseFrame(from, errOwnerOnly)
		return
	}
	bans, err := h.rooms.store.Bans(ctx, h.id)
	var who *db.Identity
	for i := range bans {
		if bans[i].ID == u.member {
			who = &bans[i]
		}
	}
	if err != nil || who == nil {
		h.refuseFrame(from, errNotBanned)
		return
	}
	if err := h.rooms.store.Unban(ctx, h.id, u.member); err != nil {
		h.log.Error("unban", "err", err)
		h.refuseFrame(from, errUnbanFailed)
		return
	}
	h.notice(ctx, vocab.NoticeUnbanned, *who)
	h.sendBans(ctx)
	h.roomChanged()
}

// sendBans sends the list of bans to the room (only the owner's page shows it).
func (h *Hub) sendBans(ctx context.Context) {
	bans, err := h.rooms.store.Bans(ctx, h.id)
	if err != nil {
		h.log.Error("bans", "err", err)
		return
	}
	frag := h.render(components.BanListOOB(PeopleViews(bans)))
	h.eachSocket(func(c *Client) { c.send(frag) })
}

// lockCmd locks the room (nobody new may enter; whoever is here stays) or unlocks it.
type lockCmd struct{ locked bool }

func (l lockCmd) action() string {
	if l.locked {
		return vocab.ActionLock
	}
	return vocab.ActionUnlock
}
func (lockCmd) batched() bool { return false }

func (l lockCmd) run(ctx context.Context, h *Hub, from *Client) {
	if from.identity.ID != h.room.OwnerID {
		h.refuseFrame(from, errOwnerOnly)
		return
	}
	if h.room.Locked == l.locked {
		h.sendOwnerTools()
		return
	}
	if err := h.rooms.store.SetRoomLocked(ctx, h.id, l.locked); err != nil {
		h.log.Error("lock room", "err", err)
		h.refuseFrame(from, errLockFailed)
		return
	}
	h.room.Locked = l.locked
	notice := vocab.NoticeUnlocked
	if l.locked {
		notice = vocab.NoticeLocked
	}
	h.notice(ctx, notice, from.identity)
	h.sendOwnerTools()
	h.updateLobby()
	h.roomChanged()
}

// passwordCmd sets the room's password, or removes it ("").
type passwordCmd struct{ password string }

func (passwordCmd) action() string { return vocab.ActionPassword }
func (passwordCmd) batched() bool  { return false }

// Room passwords are 6 to 72 bytes: bcrypt reads no further.
const (
	MinPassword = 6
	MaxPassword = 72
)

func (pw passwordCmd) run(ctx context.Context, h *Hub, from *Client) {
	if from.identity.ID != h.room.OwnerID {
		h.refuseFrame(from, errOwnerOnly)
		return
	}
	var hash []byte
	if pw.password != "" {
		if utf8.RuneCountInString(pw.password) < MinPassword || len(pw.password) > MaxPassword {
			h.refuseFrame(from, errPasswordLength)
			return
		}
		var err error
		if hash, err = bcrypt.GenerateFromPassword([]byte(pw.password), h.cfg.PasswordCost); err != nil {
			h.log.Error("hash room password", "err", err)
			h.refuseFrame(from, errPasswordFailed)
			return
		}
	} else if !h.room.Private() {
		h.sendOwnerTools()
		return
	}
	if err := h.rooms.store.SetRoomPassword(ctx, h.id, string(hash)); err != nil {
		h.log.Error("set room password", "err", err)
		h.refuseFrame(from, errPasswordFailed)
		return
	}
	h.room.PasswordHash = string(hash)
	notice := vocab.NoticePasswordRemoved
	if pw.password != "" {
		notice = vocab.NoticePasswordChanged
	}
	h.notice(ctx, notice, from.identity)
	h.sendOwnerTools()
	h.updateLobby()
	h.roomChanged()
}

// sendOwnerTools sends the owner's controls in the room's current state to everyone (me.css
// shows them to the owner alone).
func (h *Hub) sendOwnerTools() {
	frag := h.render(components.OwnerToolsOOB(h.room.Locked, h.room.Private()))
	h.eachSocket(func(c *Client) { c.send(frag) })
}

// Bans returns the people banned from the room, for its page.
func (h *Hub) Bans(ctx context.Context) ([]components.Person, error) {
	bans, err := h.rooms.store.Bans(ctx, h.id)
	if err != nil {
		return nil, err
	}
	return PeopleViews(bans), nil
}
