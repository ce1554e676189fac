package realtime

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"gifchat/db"
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

// TestRestartIsNoNoticeStorm: the people in a room when the server stops keep their places
// after the start, as the log shows them: whoever is back within RejoinGrace makes no notice
// (a restart closed their sockets, not they), whoever is not leaves with one once it has
// passed, and someone who had left before the stop is not brought back.
func TestRestartIsNoNoticeStorm(t *testing.T) {
	dir := t.TempDir()
	e1 := newEnvAt(t, dir, Config{LeaveDebounce: 50 * time.Millisecond})
	alice, bob, carol, dave := e1.person("alice"), e1.person("bob"), e1.person("carol"), e1.person("dave")
	room := e1.room(alice, 10, "")
	a := e1.dial(alice, room.ID, 0)
	a.waitText(alice.Nickname + " joined") // the handshake returns before the join is done
	b := e1.dial(bob, room.ID, 0)
	a.waitText(bob.Nickname + " joined")
	d := e1.dial(dave, room.ID, 0)
	a.waitText(dave.Nickname + " joined")
	d.conn.Close()
	a.waitText(dave.Nickname + " left")
	c := e1.dial(carol, room.ID, 0)
	a.waitText(carol.Nickname + " joined")
	a.say("before the restart")
	for _, s := range []*sock{b, c} {
		s.waitText("before the restart")
	}
	last := a.messages()[len(a.messages())-1].ID
	e1.close()

	clock := newFakeClock()
	grace := time.Minute
	e2 := newEnvAt(t, dir, Config{LeaveDebounce: 50 * time.Millisecond, RejoinGrace: grace, Clock: clock})
	if people, _ := e2.rooms.Hub(room.ID).Occupancy(0); people != 3 {
		t.Fatalf("after the start the room holds %d people, want the 3 present at the stop", people)
	}
	if card, _ := e2.lobby.Room(room.ID); card.Members != 3 {
		t.Fatalf("the lobby shows %d people, want 3", card.Members)
	}
	a2 := e2.dial(alice, room.ID, last)
	b2 := e2.dial(bob, room.ID, last)
	a2.waitText("members")
	b2.waitText("members")
	clock.Advance(grace / 2) // past the leave debounce, within the rejoin grace
	a2.say("after the restart")
	b2.waitText("after the restart")
	for _, s := range []*sock{a2, b2} {
		if notices := s.texts(vocab.KindNotice); len(notices) > 0 {
			t.Fatalf("coming back after a restart made notices: %q", notices)
		}
	}
	// The panel shows carol, who is not back yet, and not dave, who had left.
	e2.settle(room.ID)
	var names []string
	for _, m := range e2.rooms.Hub(room.ID).Members() {
		names = append(names, m.Person.Name)
	}
	if want := fmt.Sprint([]string{alice.Nickname, bob.Nickname, carol.Nickname}); fmt.Sprint(names) != want {
		t.Fatalf("members after the start %v, want %s in join order", names, want)
	}
	if !strings.Contains(a2.text(), carol.Nickname) || strings.Contains(a2.text(), dave.Nickname) {
		t.Fatalf("alice's panel after the start should list carol and not dave:\n%s", a2.text())
	}
	// Carol stays away past the grace: she leaves, announced once.
	clock.Advance(grace)
	e2.settle(room.ID)
	a2.waitText(carol.Nickname + " left")
	if n := b2.countText(" joined"); n != 0 {
		t.Fatalf("bob saw %d join notices after the restart", n)
	}
}

// TestPanelRenderedOncePerChange: sockets that come to a room whose people did not change
// (more tabs here; after a restart, the whole crowd) share one rendering of the members
// panel; a change renders it again.
func TestPanelRenderedOncePerChange(t *testing.T) {
	e := newEnv(t, Config{})
	owner := e.person("owner")
	room := e.room(owner, 20, "")
	o := e.dial(owner, room.ID, 0)
	o.waitText(owner.Nickname + " joined")
	var people []db.Identity
	for i := range 5 {
		p := e.person(fmt.Sprintf("p%d", i))
		people = append(people, p)
		e.dial(p, room.ID, 0)
		o.waitText(p.Nickname + " joined")
	}
	last := o.messages()[len(o.messages())-1].ID
	e.settle(room.ID)
	before := e.renders.Load()
	var tabs []*sock
	for _, p := range people {
		tab := e.dial(p, room.ID, last)
		tab.waitText("members")
		tabs = append(tabs, tab)
	}
	if n := e.renders.Load() - before; n != 0 {
		t.Fatalf("5 sockets coming to an unchanged room rendered %d fragments, want none: the last joiner's panel serves", n)
	}
	for _, tab := range tabs[1:] {
		if tab.text() != tabs[0].text() {
			t.Fatalf("the shared panel differs between sockets:\n%s\n%s", tab.text(), tabs[0].text())
		}
	}
	// Someone new: the panel is rendered again for the next socket, and shows them.
	newcomer := e.person("newcomer")
	e.dial(newcomer, room.ID, 0).waitText(newcomer.Nickname + " joined")
	tab := e.dial(people[0], room.ID, last)
	tab.waitText(newcomer.Nickname + " joined")
	tab.waitFor("the newcomer in the panel", func(s string) bool { return strings.Count(s, newcomer.Nickname) >= 2 })
}
