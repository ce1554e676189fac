package realtime

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"gifchat/db"
	"gifchat/vocab"
)

// A kick bars the address the person came from too: a fresh cookie from there does not get
// back in for the bar's time; another address does; a loopback address (everyone behind a
// local proxy without -trust-proxy) is never barred.
func TestKickBarsTheAddress(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, Config{Clock: clock, KickBar: 10 * time.Minute})
	owner, bob := e.person("owner"), e.person("bob")
	room := e.room(owner, 10, "")
	o := e.dial(owner, room.ID, 0)
	e.dialFrom(bob, room.ID, 0, "203.0.113.7")
	o.waitText(bob.Nickname + " joined")
	o.send(fmt.Sprintf(`{"action":"kick","member":"%d"}`, bob.ID))
	o.waitText(bob.Nickname + " was removed by the owner")

	fresh := e.person("fresh-cookie")
	s := e.dialFrom(fresh, room.ID, 0, "203.0.113.7")
	if code, _ := s.waitClose(); code != CloseKicked || !strings.Contains(s.text(), "can come back in 10 minute") {
		t.Fatalf("a fresh identity from the kicked address: closed %d, shown:\n%s", code, clip(s.text()))
	}
	if err := e.rooms.Hub(room.ID).Admit(context.Background(), fresh, "203.0.113.7"); err == nil || !strings.Contains(err.Error(), "come back in") {
		t.Errorf("the page admits the kicked address: %v", err)
	}
	other := e.person("elsewhere")
	e.dialFrom(other, room.ID, 0, "198.51.100.9")
	o.waitText(other.Nickname + " joined")

	// Loopback is never barred.
	local := e.person("local")
	e.dialFrom(local, room.ID, 0, "127.0.0.1")
	o.waitText(local.Nickname + " joined")
	o.send(fmt.Sprintf(`{"action":"kick","member":"%d"}`, local.ID))
	o.waitText(local.Nickname + " was removed by the owner")
	neighbour := e.person("neighbour")
	e.dialFrom(neighbour, room.ID, 0, "127.0.0.1")
	o.waitText(neighbour.Nickname + " joined")

	// When the bar ends, the address may come back.
	clock.Advance(10 * time.Minute)
	again := e.dialFrom(e.person("later"), room.ID, 0, "203.0.113.7")
	again.waitText("joined")
}

// A ban lasts until the room closes (or an unban); the owner sees the bans with "Unban".
func TestBanAndUnban(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, Config{Clock: clock})
	owner, bob, carol := e.person("owner"), e.person("bob"), e.person("carol")
	room := e.room(owner, 10, "")
	o := e.dial(owner, room.ID, 0)
	b := e.dialFrom(bob, room.ID, 0, "2001:db8:1:2::")
	c := e.dial(carol, room.ID, 0)
	o.waitText(bob.Nickname + " joined") // the handshake returns before the join is done
	o.waitText(carol.Nickname + " joined")

	c.send(fmt.Sprintf(`{"action":"ban","member":"%d"}`, bob.ID))
	c.waitText("Only the room&#39;s owner can remove people.")
	o.send(fmt.Sprintf(`{"action":"ban","member":"%d"}`, bob.ID))
	if code, _ := b.waitClose(); code != CloseKicked || !strings.Contains(b.text(), "banned you from this room") {
		t.Fatalf("bob's ban: closed %d, shown:\n%s", code, clip(b.text()))
	}
	c.waitText(bob.Nickname + " was banned by the owner")
	o.waitText(`aria-label="Unban ` + bob.Nickname + `"`)

	clock.Advance(24 * time.Hour) // no bar time ends a ban
	for _, who := range []struct {
		name string
		addr string
	}{{"bob himself", ""}, {"a fresh cookie from his /64", "2001:db8:1:2::"}} {
		id := bob
		if who.addr != "" {
			id = e.person("fresh")
		}
		s := e.dialFrom(id, room.ID, 0, who.addr)
		if code, _ := s.waitClose(); code != CloseKicked || !strings.Contains(s.text(), "banned you") {
			t.Errorf("%s after a day: closed %d, shown:\n%s", who.name, code, clip(s.text()))
		}
	}

	c.send(fmt.Sprintf(`{"action":"unban","member":"%d"}`, bob.ID))
	c.waitText("Only the room&#39;s owner can do that.")
	o.send(fmt.Sprintf(`{"action":"unban","member":"%d"}`, bob.ID))
	o.waitText(bob.Nickname + " may come back: the owner lifted the ban")
	o.waitFor("an empty ban list", func(txt string) bool {
		i := strings.LastIndex(txt, `<hx-partial hx-target="#bans"`)
		return i >= 0 && !strings.Contains(txt[i:], "Unban "+bob.Nickname)
	})
	back := e.dialFrom(bob, room.ID, 0, "2001:db8:1:2::")
	back.waitText(bob.Nickname + " joined")
}

// A locked room lets nobody new in; whoever is there stays; unlocked, it opens again.
func TestLockRoom(t *testing.T) {
	e := newEnv(t, Config{})
	owner, bob, carol := e.person("owner"), e.person("bob"), e.person("carol")
	room := e.room(owner, 10, "")
	o := e.dial(owner, room.ID, 0)
	b := e.dial(bob, room.ID, 0)
	o.waitText(bob.Nickname + " joined")

	b.send(`{"action":"lock"}`)
	b.waitText("Only the room&#39;s owner can do that.")
	o.send(`{"action":"lock"}`)
	b.waitText(owner.Nickname + " locked the room: nobody new may enter")
	o.waitText(">Unlock room</button>")
	c := e.dial(carol, room.ID, 0)
	if code, _ := c.waitClose(); code != CloseLocked || !strings.Contains(c.text(), "locked by its owner") {
		t.Fatalf("a newcomer to a locked room: closed %d, shown:\n%s", code, clip(c.text()))
	}
	if err := e.rooms.Hub(room.ID).Admit(context.Background(), carol, ""); err != ErrLocked {
		t.Errorf("the page admits a newcomer to a locked room: %v", err)
	}
	b2 := e.dial(bob, room.ID, 0) // present: a second tab is welcome
	b2.waitText(`id="members"`)
	if stored, _ := e.store.RoomByID(context.Background(), room.ID); !stored.Locked {
		t.Error("the lock was not stored")
	}

	o.send(`{"action":"unlock"}`)
	b.waitText(owner.Nickname + " unlocked the room")
	c2 := e.dial(carol, room.ID, 0)
	c2.waitText(carol.Nickname + " joined")
}

// The owner changes the password (who is here stays; who is not must give the new one) or
// removes it; the lobby shows the room private or public.
func TestChangeAndRemovePassword(t *testing.T) {
	e := newEnv(t, Config{PasswordCost: bcrypt.MinCost})
	owner, bob, carol := e.person("owner"), e.person("bob"), e.person("carol")
	room := e.room(owner, 10, "")
	o := e.dial(owner, room.ID, 0)
	b := e.dial(bob, room.ID, 0)
	o.waitText(bob.Nickname + " joined")

	o.send(`{"action":"password","text":"short"}`)
	o.waitText("A room password is 6 to 72 characters long.")
	b.send(`{"action":"password","text":"open sesame"}`)
	b.waitText("Only the room&#39;s owner can do that.")
	o.send(`{"action":"password","text":"open sesame"}`)
	b.waitText(owner.Nickname + " changed the room&#39;s password")
	stored, _ := e.store.RoomByID(context.Background(), room.ID)
	if bcrypt.CompareHashAndPassword([]byte(stored.PasswordHash), []byte("open sesame")) != nil {
		t.Fatal("the new password was not stored (hashed)")
	}
	if card, _ := e.lobby.Room(room.ID); !card.Private {
		t.Error("the lobby still shows the room public")
	}
	if strings.Contains(b.text(), "open sesame") || strings.Contains(o.text(), "open sesame") {
		t.Error("the password came back over a socket")
	}
	c := e.dial(carol, room.ID, 0)
	if code, _ := c.waitClose(); code != CloseNeedsPassword {
		t.Fatalf("a newcomer without the new password: closed %d", code)
	}
	b.say("still here")
	o.waitText("still here")

	o.send(`{"action":"password","text":""}`)
	b.waitText(owner.Nickname + " removed the room&#39;s password: anyone may enter")
	c2 := e.dial(carol, room.ID, 0)
	c2.waitText(carol.Nickname + " joined")
	if card, _ := e.lobby.Room(room.ID); card.Private {
		t.Error("the lobby still shows the room private")
	}
	var notices []string
	msgs, _ := e.store.LatestMessages(context.Background(), room.ID, owner.ID, 50)
	for _, m := range msgs {
		if m.Kind == vocab.KindNotice {
			notices = append(notices, m.Notice)
		}
	}
	if got := strings.Join(notices, " "); !strings.Contains(got, "password-changed password-removed") {
		t.Errorf("notices stored: %s", got)
	}
}

// A no-JS poster's presence lasts FormPresence after their last post, and keeps the room.
func TestFormPresenceExpires(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, Config{Clock: clock, FormPresence: 5 * time.Minute, EmptyRoomGrace: time.Minute, LeaveDebounce: time.Second})
	owner := e.person("owner")
	room := e.room(owner, 10, "")
	e.settle(room.ID)
	hub := e.rooms.Hub(room.ID)
	if err := hub.Post(context.Background(), owner, &db.Message{Kind: vocab.KindText, Body: "from a form"}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(4 * time.Minute) // past the empty-room grace, within the form presence
	e.settle(room.ID)
	if _, here := hub.Occupancy(owner.ID); !here || e.rooms.Hub(room.ID) == nil {
		t.Fatal("the no-JS poster's room was removed under them")
	}
	if err := hub.Post(context.Background(), owner, &db.Message{Kind: vocab.KindText, Body: "again"}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(4 * time.Minute) // 8 minutes after the first post, 4 after the last
	e.settle(room.ID)
	if _, here := hub.Occupancy(owner.ID); !here {
		t.Fatal("a later post did not extend the presence")
	}
	clock.Advance(time.Minute + time.Second)
	e.settle(room.ID)
	if _, here := hub.Occupancy(owner.ID); here {
		t.Error("still present FormPresence after the last post")
	}
}

// Frames from a socket whose person was kicked are dropped, even while the socket's close is
// still on its way: a kicked socket that stops reading cannot go on posting.
func TestKickedSocketFramesDropped(t *testing.T) {
	e := newEnv(t, Config{})
	owner, troll := e.person("owner"), e.person("troll")
	room := e.room(owner, 10, "")
	o := e.dial(owner, room.ID, 0)
	e.dial(troll, room.ID, 0)
	o.waitText(troll.Nickname + " joined")
	hub := e.rooms.Hub(room.ID)
	var sockets []*Client
	hub.call(func() {
		for c := range hub.people[troll.ID].sockets {
			sockets = append(sockets, c)
		}
	})
	o.send(fmt.Sprintf(`{"action":"kick","member":"%d"}`, troll.ID))
	o.waitText(troll.Nickname + " was removed by the owner")
	for _, c := range sockets {
		hub.receive(c, []byte(`{"action":"say","text":"after the kick"}`))
	}
	o.say("sync")
	o.waitText("sync")
	for _, m := range o.messages() {
		if strings.Contains(m.Text, "after the kick") {
			t.Fatal("a kicked socket's frame was posted")
		}
	}
	msgs, _ := e.store.LatestMessages(context.Background(), room.ID, owner.ID, 50)
	for _, m := range msgs {
		if m.Body == "after the kick" {
			t.Fatal("a kicked socket's frame was stored")
		}
	}
}
