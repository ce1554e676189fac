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

func TestOwnerKicks(t *testing.T) {
	e := newEnv(t, Config{KickBar: 10 * time.Minute})
	owner, bob, carol := e.person("owner"), e.person("bob"), e.person("carol")
	room := e.room(owner, 10, "")
	o := e.dial(owner, room.ID, 0)
	b := e.dial(bob, room.ID, 0)
	c := e.dial(carol, room.ID, 0)
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
	// The owner cannot kick themselves.
	o.send(fmt.Sprintf(`{"action":"kick","member":"%d"}`, owner.ID))
	o.waitText("You cannot remove yourself")
}

func TestOwnershipPassesToLongestPresent(t *testing.T) {
	e := newEnv(t, Config{LeaveDebounce: 100 * time.Millisecond})
	owner, bob, carol := e.person("owner"), e.person("bob"), e.person("carol")
	room := e.room(owner, 10, "")
	o := e.dial(owner, room.ID, 0)
	o.waitText(owner.Nickname + " joined")
	b := e.dial(bob, room.ID, 0)
	b.waitText(bob.Nickname + " joined")
	c := e.dial(carol, room.ID, 0)
	c.waitText(carol.Nickname + " joined")

	o.conn.Close()
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

func TestWhisperReachesOnlyTheTwo(t *testing.T) {
	e := newEnv(t, Config{LeaveDebounce: 100 * time.Millisecond})
	alice, bob, carol := e.person("alice"), e.person("bob"), e.person("carol")
	room := e.room(alice, 10, "")
	a := e.dial(alice, room.ID, 0)
	b := e.dial(bob, room.ID, 0)
	c := e.dial(carol, room.ID, 0)
	a.waitText(carol.Nickname + " joined")

	// Whisper mode: clicking bob puts alice's composer in whisper mode.
	a.send(fmt.Sprintf(`{"action":"whisper-to","to":"%d"}`, bob.ID))
	a.waitText("Whispering to")
	a.send(fmt.Sprintf(`{"action":"say","text":"psst bob","to":"%d"}`, bob.ID))
	b.waitText("psst bob")
	a.waitText("psst bob")
	a.say("hello all")
	c.waitText("hello all")
	b.waitText("hello all")
	if strings.Contains(c.text(), "psst") {
		t.Fatal("carol received the whisper live")
	}
	for _, who := range []db.Identity{alice, bob, carol} {
		msgs, err := e.store.LatestMessages(context.Background(), room.ID, who.ID, 50)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, m := range msgs {
			if m.Body == "psst bob" {
				found = true
				if m.Kind != vocab.KindWhisper || m.RecipientID != bob.ID {
					t.Fatalf("whisper stored as %+v", m)
				}
			}
		}
		if found != (who.ID != carol.ID) {
			t.Fatalf("%s sees the whisper in history: %v", who.Nickname, found)
		}
	}
	// Replay after a reconnect respects it too.
	c2 := e.dial(carol, room.ID, 0)
	c2.waitText("hello all")
	if strings.Contains(c2.text(), "psst") {
		t.Fatal("carol got the whisper in a replay")
	}
	// Whispering to someone who has left says so, and nothing is stored.
	b.conn.Close()
	a.waitText(bob.Nickname + " left")
	a.send(fmt.Sprintf(`{"action":"say","text":"are you there","to":"%d"}`, bob.ID))
	a.waitText("That person has left; your whisper was not sent.")
	a.send(fmt.Sprintf(`{"action":"whisper-to","to":"%d"}`, bob.ID))
	a.waitText("That person is no longer here.")
	a.send(`{"action":"say","text":"to nobody","to":"999999"}`)
	a.waitText("your whisper was not sent")
	msgs, _ := e.store.LatestMessages(context.Background(), room.ID, alice.ID, 50)
	for _, m := range msgs {
		if m.Body == "are you there" || m.Body == "to nobody" {
			t.Fatalf("a refused whisper was stored: %+v", m)
		}
	}
	if strings.Contains(c.text(), "are you there") {
		t.Fatal("a refused whisper reached carol")
	}
}

func TestOwnerDeletesRoom(t *testing.T) {
	e := newEnv(t, Config{})
	owner, bob := e.person("owner"), e.person("bob")
	room := e.room(owner, 10, "")
	stream := NewChanStream(64)
	sub, err := e.lobby.Subscribe(stream)
	if err != nil {
		t.Fatal(err)
	}
	defer e.lobby.Unsubscribe(sub)
	o := e.dial(owner, room.ID, 0)
	b := e.dial(bob, room.ID, 0)
	o.waitText(bob.Nickname + " joined")
	hub := e.rooms.Hub(room.ID)
	if err := hub.Delete(context.Background(), bob.ID); err != ErrNotOwner {
		t.Fatalf("bob's delete: %v, want ErrNotOwner", err)
	}
	if e.rooms.Hub(room.ID) == nil {
		t.Fatal("a forged delete removed the room")
	}
	if err := hub.Delete(context.Background(), owner.ID); err != nil {
		t.Fatal(err)
	}
	if code, _ := b.waitClose(); code != CloseRoomGone {
		t.Fatalf("bob closed with %d", code)
	}
	if !strings.Contains(b.text(), owner.Nickname+" closed the room") {
		t.Fatalf("bob did not get the closing notice: %s", clip(b.text()))
	}
	if !strings.Contains(b.text(), "This room was closed by its owner.") {
		t.Fatalf("bob not told: %s", clip(b.text()))
	}
	if _, err := e.store.RoomByID(context.Background(), room.ID); err != db.ErrNotFound {
		t.Fatalf("room row: %v", err)
	}
	deadline := time.After(2 * time.Second)
	for seen := ""; !strings.Contains(seen, `id="room-`+room.ID+`" hx-swap-oob="delete"`); {
		select {
		case p := <-stream.C:
			seen += p
		case <-deadline:
			t.Fatal("lobby not told of the deletion")
		}
	}
}

// TestDeleteRacingJoin: a room deleted just after someone was admitted ends their socket with
// 4004, and the socket is written by one goroutine at a time. The join used to be refused as
// well when the hub stopped before the joiner woke, so two goroutines wrote the socket. That
// needs the joiner to be descheduled at the wrong moment: the race detector caught it in CI
// under load, and this test sets up the interleaving but cannot force that moment.
func TestDeleteRacingJoin(t *testing.T) {
	e := newEnv(t, Config{})
	owner := e.person("owner")
	for range 10 {
		room := e.room(owner, 10, "")
		bob := e.person("bob")
		hub := e.rooms.Hub(room.ID)
		// Hold the hub so that the admission and the deletion queue up and then run back to
		// back, the hub stopping right after: the joiner finds both "admitted" and "stopped".
		release := make(chan struct{})
		hub.do(func() { <-release })
		dialed := make(chan *sock, 1)
		go func() { dialed <- e.dial(bob, room.ID, 0) }()
		for len(hub.ops) == 0 {
			time.Sleep(time.Millisecond)
		}
		deleted := make(chan error, 1)
		go func() { deleted <- hub.Delete(context.Background(), owner.ID) }()
		for len(hub.ops) < 2 {
			time.Sleep(time.Millisecond)
		}
		close(release)
		b := <-dialed
		if code, _ := b.waitClose(); code != CloseRoomGone {
			t.Fatalf("closed with %d, want %d", code, CloseRoomGone)
		}
		if err := <-deleted; err != nil {
			t.Fatal(err)
		}
	}
}
