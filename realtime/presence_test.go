package realtime

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"gifchat/vocab"
)

func TestRefreshWithinDebounceIsSilent(t *testing.T) {
	clock := newFakeClock()
	debounce, grace := time.Second, 200*time.Millisecond
	e := newEnv(t, Config{LeaveDebounce: debounce, EmptyRoomGrace: grace, Clock: clock})
	alice, bob := e.person("alice"), e.person("bob")
	room := e.room(alice, 10, "")
	b := e.dial(bob, room.ID, 0)
	b.waitText(bob.Nickname + " joined")
	a := e.dial(alice, room.ID, 0)
	b.waitText(alice.Nickname + " joined")
	// Alice refreshes: the socket drops and comes back at once.
	a.conn.Close()
	a2 := e.dial(alice, room.ID, 0)
	a2.waitText("members")
	e.waitSockets(t, room.ID, alice, 1)
	clock.Advance(debounce + time.Millisecond) // a leave would be announced now
	e.settle(room.ID)
	if strings.Contains(b.text(), alice.Nickname+" left") || b.countText(alice.Nickname+" joined") != 1 {
		t.Fatalf("refresh produced leave/join noise:\n%s", strings.Join(b.texts("system"), "\n"))
	}
	// Everybody's sockets drop: past the grace, but within the debounce, nobody has left,
	// so the room is not empty and stays.
	b.conn.Close()
	a2.conn.Close()
	e.waitSockets(t, room.ID, alice, 0)
	e.waitSockets(t, room.ID, bob, 0)
	clock.Advance(2 * grace)
	e.settle(room.ID)
	if e.rooms.Hub(room.ID) == nil {
		t.Fatal("the room was removed while its people were within the leave debounce")
	}
	// Alice is back in time; bob is not: only bob leaves, and the room stays.
	a3 := e.dial(alice, room.ID, 0)
	a3.waitText("members")
	clock.Advance(debounce)
	e.settle(room.ID)
	a3.waitText(bob.Nickname + " left")
	clock.Advance(2 * grace)
	e.settle(room.ID)
	if e.rooms.Hub(room.ID) == nil {
		t.Fatal("a refresh deleted the room")
	}
	if strings.Contains(a3.text(), alice.Nickname+" left") {
		t.Fatalf("alice's refresh was announced as a leave:\n%s", strings.Join(a3.texts("system"), "\n"))
	}
}

func TestOwnerKicks(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, Config{KickBar: 10 * time.Minute, Clock: clock})
	owner, bob, carol := e.person("owner"), e.person("bob"), e.person("carol")
	room := e.room(owner, 10, "")
	o := e.dial(owner, room.ID, 0)
	b := e.dial(bob, room.ID, 0)
	c := e.dial(carol, room.ID, 0)
	o.waitText(bob.Nickname + " joined") // the handshake returns before the join is done
	o.waitText(carol.Nickname + " joined")

	// Carol forges a kick frame: refused with a reason, nothing changes.
	c.send(fmt.Sprintf(`{"action":"kick","member":"%d"}`, bob.ID))
	c.waitText("Only the room&#39;s owner can remove people.")
	if _, here := e.rooms.Hub(room.ID).Occupancy(bob.ID); !here {
		t.Fatal("a forged kick removed bob")
	}
	if until, _ := e.store.BarredUntil(context.Background(), room.ID, bob.ID); until != 0 {
		t.Fatal("a forged kick barred bob")
	}

	o.send(fmt.Sprintf(`{"action":"kick","member":"%d"}`, bob.ID))
	code, reason := b.waitClose()
	if code != CloseKicked || !strings.Contains(reason, "removed by the owner") {
		t.Fatalf("bob's socket closed with %d %q", code, reason)
	}
	if !strings.Contains(b.text(), "You were removed by the owner") {
		t.Fatalf("bob was not shown why: %s", clip(b.text()))
	}
	c.waitText(bob.Nickname + " was removed by the owner")
	c.waitText(`id="member-` + fmt.Sprint(bob.ID) + `" hx-swap-oob="delete"`)
	// Persisted like any notice.
	msgs, _ := e.store.LatestMessages(context.Background(), room.ID, carol.ID, 50)
	if last := msgs[len(msgs)-1]; last.Kind != vocab.KindNotice || last.Notice != vocab.NoticeKicked ||
		last.SubjectID != bob.ID || last.SubjectName != bob.Nickname || last.Body != "" {
		t.Fatalf("kick notice not persisted as data: %+v", last)
	}
	// Bob cannot come back for the bar period.
	b2 := e.dial(bob, room.ID, 0)
	if code, _ := b2.waitClose(); code != CloseKicked {
		t.Fatalf("barred bob's socket closed with %d, want %d", code, CloseKicked)
	}
	if !strings.Contains(b2.text(), "can come back in 10 minute") {
		t.Fatalf("barred bob was not told how long: %s", clip(b2.text()))
	}
	// A minute before the bar ends he still cannot; when it ends, he can.
	clock.Advance(9 * time.Minute)
	b3 := e.dial(bob, room.ID, 0)
	if code, _ := b3.waitClose(); code != CloseKicked || !strings.Contains(b3.text(), "can come back in 1 minute") {
		t.Fatalf("bob a minute before his bar ends: closed %d, shown:\n%s", code, clip(b3.text()))
	}
	clock.Advance(time.Minute)
	b4 := e.dial(bob, room.ID, 0)
	b4.waitText(bob.Nickname + " joined")
	// The owner cannot kick themselves.
	o.send(fmt.Sprintf(`{"action":"kick","member":"%d"}`, owner.ID))
	o.waitText("You cannot remove yourself")
}

func TestOwnershipPassesToLongestPresent(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, Config{LeaveDebounce: 100 * time.Millisecond, Clock: clock})
	owner, bob, carol := e.person("owner"), e.person("bob"), e.person("carol")
	room := e.room(owner, 10, "")
	o := e.dial(owner, room.ID, 0)
	o.waitText(owner.Nickname + " joined")
	b := e.dial(bob, room.ID, 0)
	b.waitText(bob.Nickname + " joined")
	c := e.dial(carol, room.ID, 0)
	c.waitText(carol.Nickname + " joined")

	o.conn.Close()
	e.waitSockets(t, room.ID, owner, 0)
	// Within the debounce the owner is still the owner; past it, ownership passes.
	clock.Advance(99 * time.Millisecond)
	e.settle(room.ID)
	if got := e.rooms.Hub(room.ID).Room().OwnerID; got != owner.ID {
		t.Fatalf("ownership passed within the leave debounce, to %d", got)
	}
	clock.Advance(time.Millisecond)
	c.waitText(bob.Nickname + " is now the owner")
	c.waitText(`data-owner="` + fmt.Sprint(bob.ID) + `"`)
	if got := e.rooms.Hub(room.ID).Room().OwnerID; got != bob.ID {
		t.Fatalf("owner is %d, want bob %d", got, bob.ID)
	}
	stored, err := e.store.RoomByID(context.Background(), room.ID)
	if err != nil || stored.OwnerID != bob.ID {
		t.Fatalf("stored owner %d (%v), want bob", stored.OwnerID, err)
	}
	msgs, _ := e.store.LatestMessages(context.Background(), room.ID, carol.ID, 50)
	var notices []string
	for _, m := range msgs {
		if m.Kind == vocab.KindNotice {
			notices = append(notices, fmt.Sprintf("%s:%d", m.Notice, m.SubjectID))
		}
	}
	if got := strings.Join(notices, "|"); !strings.HasSuffix(got, fmt.Sprintf("left:%d|owner:%d", owner.ID, bob.ID)) {
		t.Fatalf("notices %q", got)
	}
	if card, _ := e.lobby.Room(room.ID); card.Owner.ID != bob.ID {
		t.Fatalf("lobby shows owner %d", card.Owner.ID)
	}
	// The new owner can kick; the old one (back as a guest) cannot.
	o2 := e.dial(owner, room.ID, 0)
	c.waitText(owner.Nickname + " joined")
	o2.send(fmt.Sprintf(`{"action":"kick","member":"%d"}`, carol.ID))
	o2.waitText("Only the room&#39;s owner")
	b.send(fmt.Sprintf(`{"action":"kick","member":"%d"}`, carol.ID))
	if code, _ := c.waitClose(); code != CloseKicked {
		t.Fatalf("carol closed with %d", code)
	}
}
