package db

import (
	"context"
	"fmt"
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

func TestPresentByLog(t *testing.T) { eachStore(t, testPresentByLog) }

// testPresentByLog: whoever's last joined/left/kicked notice in a room is a joined one is
// present there, in join order; other notices and messages do not count, nor do other rooms.
func testPresentByLog(t *testing.T, s *Store) {
	ctx := context.Background()
	people := map[string]Identity{}
	for _, name := range []string{"ann", "ben", "cat", "dan", "eve"} {
		people[name] = mustIdentity(t, s, "tok-"+name, name)
	}
	one := mustRoom(t, s, "pppppppppppppppp", people["ann"].ID)
	two := mustRoom(t, s, "qqqqqqqqqqqqqqqq", people["ann"].ID)
	notice := func(room Room, kind, who string) *Message {
		return &Message{RoomID: room.ID, Kind: vocab.KindNotice, Notice: kind, SubjectID: people[who].ID, SubjectName: who}
	}
	if err := s.InsertMessages(ctx, []*Message{
		notice(one, vocab.NoticeJoined, "ben"),
		notice(one, vocab.NoticeJoined, "ann"),
		notice(one, vocab.NoticeJoined, "cat"),
		notice(one, vocab.NoticeLeft, "cat"), // left
		notice(one, vocab.NoticeJoined, "dan"),
		notice(one, vocab.NoticeKicked, "dan"), // kicked
		notice(one, vocab.NoticeJoined, "eve"),
		notice(one, vocab.NoticeLeft, "eve"),
		notice(one, vocab.NoticeJoined, "eve"), // back: present, joined after ann
		notice(one, vocab.NoticeOwner, "ben"),  // not about presence
		{RoomID: one.ID, AuthorID: people["ben"].ID, Kind: vocab.KindText, Body: "hi"},
		notice(two, vocab.NoticeJoined, "cat"),
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.PresentByLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := func(room Room) (out []string) {
		for _, p := range got[room.ID] {
			out = append(out, p.Nickname)
		}
		return out
	}
	if fmt.Sprint(names(one)) != "[ben ann eve]" || fmt.Sprint(names(two)) != "[cat]" || len(got) != 2 {
		t.Fatalf("present: room one %v (want [ben ann eve]), room two %v (want [cat]), %d rooms", names(one), names(two), len(got))
	}
	if p := got[one.ID][0]; p.ID != people["ben"].ID || p.Colour != "c1" || p.JoinSeq != 1 {
		t.Fatalf("ben as read: %+v", p)
	}
}
