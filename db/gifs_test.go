package db

import (
	"context"
	"testing"

	"gifchat/vocab"
)

// TestGIFUsage: the bytes of the GIFs a room's messages use, each GIF once however often it
// was posted, and of every stored GIF, and whether a given GIF is in the room or stored.
func TestGIFUsage(t *testing.T) { eachStore(t, testGIFUsage) }

func testGIFUsage(t *testing.T, s *Store) {
	ctx := context.Background()
	alice := mustIdentity(t, s, "usage-a", "alice")
	a := mustRoom(t, s, "uuuuuuuuuuuuuuua", alice.ID)
	b := mustRoom(t, s, "uuuuuuuuuuuuuuub", alice.ID)
	empty := mustRoom(t, s, "uuuuuuuuuuuuuuuc", alice.ID)
	if u, err := s.GIFUsage(ctx, empty.ID, "none"); err != nil || u != (GIFUsage{}) {
		t.Fatalf("nothing stored: %+v, %v", u, err)
	}
	for sha, size := range map[string]int{"g100": 100, "g20": 20, "g3": 3} {
		if err := s.SaveGIF(ctx, GIF{SHA256: sha, Width: 1, Height: 1, Frames: 1, Bytes: int64(size), Data: make([]byte, size)}); err != nil {
			t.Fatal(err)
		}
	}
	gif := func(room, sha string) *Message {
		return &Message{RoomID: room, AuthorID: alice.ID, Kind: vocab.KindGIF, GIF: sha, GIFWidth: 1, GIFHeight: 1}
	}
	if err := s.InsertMessages(ctx, []*Message{gif(a.ID, "g100"), gif(a.ID, "g100"), gif(a.ID, "g20"), gif(b.ID, "g20"),
		{RoomID: a.ID, AuthorID: alice.ID, Kind: vocab.KindText, Body: "not a gif"}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		room, sha string
		want      GIFUsage
	}{
		{a.ID, "g100", GIFUsage{RoomBytes: 120, TotalBytes: 123, InRoom: true, Stored: true}},
		{a.ID, "g3", GIFUsage{RoomBytes: 120, TotalBytes: 123, InRoom: false, Stored: true}},
		{b.ID, "g100", GIFUsage{RoomBytes: 20, TotalBytes: 123, InRoom: false, Stored: true}},
		{empty.ID, "new", GIFUsage{RoomBytes: 0, TotalBytes: 123}},
	} {
		if got, err := s.GIFUsage(ctx, tc.room, tc.sha); err != nil || got != tc.want {
			t.Errorf("GIFUsage(%s, %s) = %+v, %v; want %+v", tc.room, tc.sha, got, err, tc.want)
		}
	}
}
