package db

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"gifchat/vocab"
)

// Edits, deletions and reactions are events in the room's log: each takes the next seq, its
// target keeps the latest state, history pages show entries only, and a replay after a seq
// carries the events, visible to whoever may see their target.
func TestEventsChangeTheirTarget(t *testing.T) { eachStore(t, testEventsChangeTheirTarget) }

func testEventsChangeTheirTarget(t *testing.T, s *Store) {
	ctx := context.Background()
	alice := mustIdentity(t, s, "ta", "alice")
	bob := mustIdentity(t, s, "tb", "bob")
	carol := mustIdentity(t, s, "tc", "carol")
	room := mustRoom(t, s, "eventroom0000000", alice.ID)
	if err := s.SaveGIF(ctx, GIF{SHA256: "abc123", Width: 2, Height: 2, Frames: 1, Bytes: 3, Data: []byte("gif")}); err != nil {
		t.Fatal(err)
	}
	msgs := []*Message{
		{RoomID: room.ID, AuthorID: alice.ID, Kind: vocab.KindText, Body: "helo"},
		{RoomID: room.ID, AuthorID: alice.ID, Kind: vocab.KindWhisper, RecipientID: bob.ID, Body: "psst"},
		{RoomID: room.ID, AuthorID: bob.ID, Kind: vocab.KindGIF, GIF: "abc123", Body: "cat.gif"},
	}
	if err := s.InsertMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	text, whisper, gif := msgs[0].Seq, msgs[1].Seq, msgs[2].Seq
	apply := func(kind string, target, actor int64, body string) (*Message, string) {
		t.Helper()
		ev := &Message{RoomID: room.ID, Kind: kind, TargetSeq: target, AuthorID: actor, Body: body}
		orphan, err := s.ApplyEvent(ctx, ev)
		if err != nil {
			t.Fatalf("%s of %d: %v", kind, target, err)
		}
		return ev, orphan
	}
	edit, _ := apply(vocab.KindEdit, text, alice.ID, "hello")
	if edit.Seq != 4 {
		t.Errorf("the edit took seq %d, want 4 (the next in the room)", edit.Seq)
	}
	apply(vocab.KindReact, text, bob.ID, "👍")
	apply(vocab.KindReact, text, carol.ID, "👍")
	apply(vocab.KindReact, text, carol.ID, "🎉")
	apply(vocab.KindReact, text, carol.ID, "🎉") // taken back
	apply(vocab.KindEdit, whisper, alice.ID, "psst!")
	_, orphan := apply(vocab.KindDelete, gif, bob.ID, "")
	if orphan != "abc123" {
		t.Errorf("deleting the only message using a GIF freed %q, want abc123", orphan)
	}

	got, err := s.MessageBySeq(ctx, room.ID, text)
	if err != nil {
		t.Fatal(err)
	}
	var reacted []string
	for _, r := range got.Reactions {
		reacted = append(reacted, fmt.Sprintf("%s:%s", r.Emoji, r.Name))
	}
	if got.Body != "hello" || got.EditedAt == 0 || fmt.Sprint(reacted) != "[👍:bob 👍:carol]" {
		t.Errorf("edited entry reads %q edited %d reactions %v", got.Body, got.EditedAt, reacted)
	}
	deleted, err := s.MessageBySeq(ctx, room.ID, gif)
	if err != nil || !deleted.Deleted || deleted.Body != "" || deleted.GIF != "" {
		t.Errorf("deleted entry reads %+v, %v", deleted, err)
	}
	// A deleted entry takes no more events.
	if _, err := s.ApplyEvent(ctx, &Message{RoomID: room.ID, Kind: vocab.KindReact, TargetSeq: gif, AuthorID: alice.ID, Body: "👍"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("reacting to a deleted entry: %v, want ErrNotFound", err)
	}
	if _, err := s.ApplyEvent(ctx, &Message{RoomID: room.ID, Kind: vocab.KindEdit, TargetSeq: 99, AuthorID: alice.ID, Body: "x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("editing a missing entry: %v, want ErrNotFound", err)
	}

	// History shows the three entries in their latest state, no events.
	page, err := s.LatestMessages(ctx, room.ID, bob.ID, 50)
	if err != nil {
		t.Fatal(err)
	}
	var shown []string
	for _, m := range page {
		shown = append(shown, fmt.Sprintf("%d:%s:%s", m.Seq, m.Kind, m.Body))
	}
	if fmt.Sprint(shown) != "[1:text:hello 2:whisper:psst! 3:gif:]" {
		t.Errorf("bob's history: %v", shown)
	}
	// A replay carries the events; the whisper's edit only to its two people.
	seqsAfter := func(viewer int64) string {
		t.Helper()
		after, err := s.MessagesAfter(ctx, room.ID, viewer, 3, 50)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range after {
			out = append(out, fmt.Sprintf("%d:%s>%d", m.Seq, m.Kind, m.TargetSeq))
		}
		return fmt.Sprint(out)
	}
	if got := seqsAfter(bob.ID); got != "[4:edit>1 5:react>1 6:react>1 7:react>1 8:react>1 9:edit>2 10:delete>3]" {
		t.Errorf("bob's replay after 3: %s", got)
	}
	if got := seqsAfter(carol.ID); got != "[4:edit>1 5:react>1 6:react>1 7:react>1 8:react>1 10:delete>3]" {
		t.Errorf("carol's replay after 3 (the whisper's edit is not hers): %s", got)
	}
}
