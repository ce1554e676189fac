package db

import (
	"context"
	"testing"
	"time"

	"gifchat/vocab"
)

// TestDeleteRoomAllOrNothing: a room's deletion is one transaction. Asked with a context that
// is already cancelled it does nothing at all (the room, its log, entries and bars are all
// still there); asked properly it removes all of them, and the GIFs only it used are named.
func TestDeleteRoomAllOrNothing(t *testing.T) { eachStore(t, testDeleteRoomAllOrNothing) }

func testDeleteRoomAllOrNothing(t *testing.T, s *Store) {
	ctx := context.Background()
	alice := mustIdentity(t, s, "del-a", "alice")
	bob := mustIdentity(t, s, "del-b", "bob")
	room := mustRoom(t, s, "dddddddddddddddd", alice.ID)
	if err := s.SaveGIF(ctx, GIF{SHA256: "aa11", Width: 1, Height: 1, Frames: 1, Bytes: 3, Data: []byte("gif")}); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertMessages(ctx, []*Message{
		{RoomID: room.ID, AuthorID: alice.ID, Kind: vocab.KindText, Body: "hello"},
		{RoomID: room.ID, AuthorID: bob.ID, Kind: vocab.KindGIF, GIF: "aa11", GIFWidth: 1, GIFHeight: 1},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRoomEntry(ctx, room.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.BarFromRoom(ctx, room.ID, bob.ID, time.Now().Add(time.Hour).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	state := func() (rooms, messages int, entered bool, barred int64) {
		t.Helper()
		if _, err := s.RoomByID(ctx, room.ID); err == nil {
			rooms = 1
		}
		var err error
		if messages, err = s.CountMessages(ctx, room.ID); err != nil {
			t.Fatal(err)
		}
		if entered, err = s.HasRoomEntry(ctx, room.ID, bob.ID); err != nil {
			t.Fatal(err)
		}
		if barred, err = s.BarredUntil(ctx, room.ID, bob.ID); err != nil {
			t.Fatal(err)
		}
		return rooms, messages, entered, barred
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.DeleteRoom(cancelled, room.ID); err == nil {
		t.Fatal("a deletion with a cancelled context reported success")
	}
	if r, m, e, b := state(); r != 1 || m != 2 || !e || b == 0 {
		t.Fatalf("after a cancelled deletion: room %d, %d messages, entered %v, barred %d; want all still there", r, m, e, b)
	}

	orphans, err := s.DeleteRoom(ctx, room.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 1 || orphans[0] != "aa11" {
		t.Errorf("orphaned GIFs %v, want [aa11]", orphans)
	}
	if r, m, e, b := state(); r != 0 || m != 0 || e || b != 0 {
		t.Fatalf("after the deletion: room %d, %d messages, entered %v, barred %d; want none of them", r, m, e, b)
	}
}
