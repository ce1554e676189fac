package realtime

import (
	"context"
	"strings"
	"testing"
	"time"

	"gifchat/i18n"

	"gifchat/db"
)

func TestEmptyRoomsRemovedAfterGrace(t *testing.T) {
	clock := newFakeClock()
	debounce, grace := 100*time.Millisecond, 300*time.Millisecond
	e := newEnv(t, Config{LeaveDebounce: debounce, EmptyRoomGrace: grace, Clock: clock})
	stream := NewChanStream(64)
	sub, err := e.lobby.Subscribe(stream, i18n.En)
	if err != nil {
		t.Fatal(err)
	}
	defer e.lobby.Unsubscribe(sub)
	alice := e.person("alice")
	used := e.room(alice, 10, "")
	never := e.room(alice, 10, "")
	e.settle(never.ID) // its hub runs, its grace counted from creation
	a := e.dial(alice, used.ID, 0)
	a.waitText(alice.Nickname + " joined")
	a.say("hello")
	a.waitText("hello")

	// Just before the grace nothing goes; at the grace the never-entered room does.
	clock.Advance(grace - time.Millisecond)
	e.settle(never.ID)
	if e.rooms.Hub(never.ID) == nil {
		t.Fatal("a room was removed before its grace")
	}
	clock.Advance(time.Millisecond)
	waitGone(t, e, never.ID)
	if e.rooms.Hub(used.ID) == nil {
		t.Fatal("an occupied room was removed")
	}
	// The last person leaves: after debounce + grace the room and its messages are gone,
	// and not before.
	a.conn.Close()
	e.waitSockets(t, used.ID, alice, 0)
	clock.Advance(debounce)
	e.settle(used.ID)
	clock.Advance(grace - time.Millisecond)
	e.settle(used.ID)
	if e.rooms.Hub(used.ID) == nil {
		t.Fatal("a room was removed before its grace had passed since the last person left")
	}
	clock.Advance(time.Millisecond)
	waitGone(t, e, used.ID)
	// The hub leaves memory first and then deletes the rows (Hub.remove): wait for them.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, err := e.store.RoomByID(context.Background(), used.ID)
		if err == db.ErrNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("room row still there 5 s after the room left memory: %v", err)
		}
	}
	if n, _ := e.store.CountMessages(context.Background(), used.ID); n != 0 {
		t.Fatalf("%d messages left behind", n)
	}
	// Every lobby subscriber was told about both removals.
	seen := ""
	timeout := time.After(2 * time.Second)
	for !strings.Contains(seen, `id="room-`+used.ID+`" hx-swap-oob="delete"`) || !strings.Contains(seen, `id="room-`+never.ID+`" hx-swap-oob="delete"`) {
		select {
		case p := <-stream.C:
			seen += p
		case <-timeout:
			t.Fatalf("lobby never told of the removals; saw:\n%s", seen)
		}
	}
}

func TestLeftoverRoomsAfterRestart(t *testing.T) {
	dir := t.TempDir()
	e1 := newEnvAt(t, dir, Config{EmptyRoomGrace: time.Hour})
	alice := e1.person("alice")
	keep := e1.room(alice, 10, "")
	drop := e1.room(alice, 10, "")
	e1.close()

	clock := newFakeClock()
	grace := 400 * time.Millisecond
	e2 := newEnvAt(t, dir, Config{LeaveDebounce: 100 * time.Millisecond, EmptyRoomGrace: grace, Clock: clock})
	if e2.rooms.Hub(keep.ID) == nil || e2.rooms.Hub(drop.ID) == nil {
		t.Fatal("rooms not loaded at start")
	}
	e2.settle(drop.ID)
	a := e2.dial(alice, keep.ID, 0)
	a.waitText(alice.Nickname + " joined")
	clock.Advance(grace)
	waitGone(t, e2, drop.ID)
	e2.settle(keep.ID)
	if e2.rooms.Hub(keep.ID) == nil {
		t.Fatal("the room someone joined after the restart was removed")
	}
}

func waitGone(t *testing.T, e *testEnv, id string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for e.rooms.Hub(id) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("room %s still live", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, ok := e.lobby.Room(id); ok {
		t.Fatalf("room %s still in the lobby", id)
	}
}

func TestOwnerDeletesRoom(t *testing.T) {
	e := newEnv(t, Config{})
	owner, bob := e.person("owner"), e.person("bob")
	room := e.room(owner, 10, "")
	stream := NewChanStream(64)
	sub, err := e.lobby.Subscribe(stream, i18n.En)
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

// TestOwnerDeleteOutlivesItsRequest: an owner's delete whose request is cancelled (the
// browser closed, the connection dropped) once the hub has taken it still deletes every row,
// so the room does not come back at the next start. It used to run the deletion on the
// request's context: the hub and the lobby entry went, the rows stayed.
func TestOwnerDeleteOutlivesItsRequest(t *testing.T) {
	dir := t.TempDir()
	e := newEnvAt(t, dir, Config{})
	owner := e.person("owner")
	room := e.room(owner, 10, "")
	o := e.dial(owner, room.ID, 0)
	o.say("about to go")
	o.waitText("about to go")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.rooms.Hub(room.ID).Delete(ctx, owner.ID); err != nil {
		t.Fatalf("delete: %v", err)
	}
	waitGone(t, e, room.ID)
	// Fully gone: not half (no hub, rows left) and not fully there (it is gone from memory).
	if _, err := e.store.RoomByID(context.Background(), room.ID); err != db.ErrNotFound {
		t.Fatalf("room row after a delete with a cancelled request: %v", err)
	}
	if n, err := e.store.CountMessages(context.Background(), room.ID); err != nil || n != 0 {
		t.Fatalf("%d messages left behind (%v)", n, err)
	}
	e.close()
	next := newEnvAt(t, dir, Config{})
	if next.rooms.Hub(room.ID) != nil {
		t.Fatal("the deleted room came back at the next start")
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
