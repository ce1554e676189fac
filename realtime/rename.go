package realtime

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"gifchat/components"
	"gifchat/db"
	"gifchat/vocab"
)

// Renaming: a person takes another nickname or colour (the /me form). A nickname someone else
// present in one of the person's rooms already goes by is refused there. Each room checks on
// its own goroutine, where joins and leaves happen, so it answers for who is present at that
// moment; renames run one at a time, so two people cannot take one name in one room at once.
// Once stored, the change shows live in every room the person is in: their entry in the
// members panel, a notice "A is now B", their own header, the typing line, and the whisper
// line of anyone whispering to them. Messages already sent keep the name they were sent
// under: it is stored with each (see stampNames).

// NameTaken refuses a rename: someone else present in the rooms titled Rooms already goes by
// Name (compared as NameKey compares).
type NameTaken struct {
	Name  string
	Rooms []string
}

func (e *NameTaken) Error() string {
	return fmt.Sprintf("realtime: the nickname %q is taken in %s", e.Name, strings.Join(e.Rooms, ", "))
}

// NameKey is what two nicknames must share to count as the same name: compatibility
// normalised (a full-width "Ｚｅｄ" is "Zed", a decomposed Hangul syllable its composed one)
// and case-folded ("ZED" is "zed").
func NameKey(nickname string) string {
	return cases.Fold().String(norm.NFKC.String(nickname))
}

// renameBook is the registry's memory of renames. one is held through a whole rename; fresh
// keeps, for freshFor, the names the latest renames gave, for a socket that joins a room with
// an identity read before its person's rename was stored (see freshIdentity).
type renameBook struct {
	one   sync.Mutex
	mu    sync.Mutex
	fresh map[int64]freshName
}

type freshName struct {
	nickname, colour string
	at               time.Time
}

// freshFor is how long a rename's name is remembered: far longer than a socket takes from
// reading its session to joining its room.
const freshFor = time.Minute

func (b *renameBook) remember(who db.Identity, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fresh == nil {
		b.fresh = map[int64]freshName{}
	}
	for id, f := range b.fresh {
		if now.Sub(f.at) > freshFor {
			delete(b.fresh, id)
		}
	}
	b.fresh[who.ID] = freshName{nickname: who.Nickname, colour: who.Colour, at: now}
}

// freshIdentity is who with the name and colour a rename stored since, if one did lately.
func (b *renameBook) freshIdentity(who db.Identity) db.Identity {
	b.mu.Lock()
	defer b.mu.Unlock()
	if f, ok := b.fresh[who.ID]; ok {
		who.Nickname, who.Colour = f.nickname, f.colour
	}
	return who
}

// Rename gives the person to.ID the nickname and colour of to, in every room at once. It
// returns *NameTaken when someone else present in one of the person's rooms goes by the new
// nickname; otherwise it calls save, which stores the change, and once it is stored shows it
// in every room the person is in (and on the lobby's card of any room they own). Renames run
// one at a time.
func (rs *Rooms) Rename(ctx context.Context, to db.Identity, save func(context.Context) error) error {
	rs.names.one.Lock()
	defer rs.names.one.Unlock()
	key := NameKey(to.Nickname)
	var taken []string
	for _, h := range rs.allHubs() {
		h.call(func() {
			if title, clash := h.nameClash(to.ID, key); clash {
				taken = append(taken, title)
			}
		})
	}
	if len(taken) > 0 {
		slices.Sort(taken)
		return &NameTaken{Name: to.Nickname, Rooms: taken}
	}
	if err := save(ctx); err != nil {
		return err
	}
	// Remembered before any room is told: a socket joining from now on takes the new name,
	// and one that joined before is renamed with its room.
	rs.names.remember(to, time.Now())
	work := context.WithoutCancel(ctx)
	for _, h := range rs.allHubs() {
		h.call(func() { h.renamed(work, to, true) })
	}
	return nil
}

// allHubs is every live room's hub, in no order.
func (rs *Rooms) allHubs() []*Hub {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := make([]*Hub, 0, len(rs.hubs))
	for _, h := range rs.hubs {
		out = append(out, h)
	}
	return out
}

// nameClash reports, on the hub goroutine, whether id is present here and someone else
// present goes by the name key, and the room's title. Someone who keeps their name (a new
// colour, or only a change of case) clashes with nobody new.
func (h *Hub) nameClash(id int64, key string) (title string, clash bool) {
	p := h.people[id]
	if h.closed || p == nil || NameKey(p.identity.Nickname) == key {
		return "", false
	}
	for other, q := range h.people {
		if other != id && NameKey(q.identity.Nickname) == key {
			return h.room.Title, true
		}
	}
	return "", false
}

// renamed shows a stored rename in this room, on the hub goroutine. The instance where it was
// made (here) posts the notice and, in a cluster, tells the other instances, which only show
// it (remoteRename).
func (h *Hub) renamed(ctx context.Context, to db.Identity, here bool) {
	if h.closed {
		return
	}
	if h.room.OwnerID == to.ID && (h.room.OwnerName != to.Nickname || h.room.OwnerColour != to.Colour) {
		h.room.OwnerName, h.room.OwnerColour = to.Nickname, to.Colour
		defer h.updateLobby()
	}
	p := h.people[to.ID]
	if p == nil {
		return
	}
	before := p.identity
	if before.Nickname == to.Nickname && before.Colour == to.Colour {
		return
	}
	// What they sent before the rename is stored, under the old name, before the notice.
	h.flush(ctx)
	p.identity.Nickname, p.identity.Colour = to.Nickname, to.Colour
	for c := range p.sockets {
		c.identity.Nickname, c.identity.Colour = to.Nickname, to.Colour
	}
	if t := h.typers[to.ID]; t != nil && t.name != to.Nickname {
		t.name = to.Nickname
		h.sendTyping()
	}
	if !h.draining {
		who := PersonView(p.identity)
		member := h.render(components.MemberRenamedOOB(components.Member{Person: who, Owner: to.ID == h.room.OwnerID}))
		own := h.render(components.WhoamiOOB(who))
		whisperers := h.render(components.WhisperTargetOOB(who))
		for id, q := range h.people {
			for c := range q.sockets {
				c.send(member)
				if id == to.ID {
					c.send(own)
				} else {
					c.send(whisperers)
				}
			}
		}
	}
	if here && before.Nickname != to.Nickname {
		h.renameNotice(ctx, before, p.identity)
	}
	if here {
		h.publishRename(to)
	}
}

// renameNotice stores and delivers "A is now B": the name before as the notice's subject
// name, as every notice keeps the name its subject had then, and the name after as its text.
func (h *Hub) renameNotice(ctx context.Context, before, after db.Identity) {
	h.flush(ctx) // what was queued before it goes first
	msg := &db.Message{RoomID: h.id, Kind: vocab.KindNotice, Notice: vocab.NoticeRenamed,
		SubjectID: after.ID, SubjectName: before.Nickname, Body: after.Nickname}
	if err := h.rooms.insert(ctx, []*db.Message{msg}); err != nil {
		h.log.Error("persist notice", "err", err, "notice", vocab.NoticeRenamed)
		return
	}
	h.fanOut(*msg)
}

// stampNames puts into a message accepted from someone present the names it is sent under,
// as the room knows them now: the author's and a whisper's recipient's. They are stored with
// it, so a later rename does not change them.
func (h *Hub) stampNames(p *pendingMsg) {
	author := p.author
	if q := h.people[author.ID]; q != nil {
		author = q.identity
	}
	p.msg.AuthorName, p.msg.AuthorColour = author.Nickname, author.Colour
	if q := h.people[p.msg.RecipientID]; p.msg.RecipientID != 0 && q != nil {
		p.msg.RecipientName, p.msg.RecipientColour = q.identity.Nickname, q.identity.Colour
	}
}
