package db

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gifchat/vocab"
)

// The writer leaves checkpoints to the checkpointer: the WAL is copied back beside it and
// reused, so it stays small while far more is written through it; with neither the writer's
// automatic checkpoints nor the checkpointer it would hold everything written.
func TestCheckpointsBesideTheWriter(t *testing.T) {
	ctx := context.Background()
	s, path, who, room := checkpointedStore(t)
	var auto int
	if err := s.write.GetContext(ctx, &auto, "PRAGMA wal_autocheckpoint"); err != nil || auto != 0 {
		t.Fatalf("the writer's automatic checkpoints: %d (%v), want 0 (off)", auto, err)
	}
	body := string(make([]byte, 1000))
	var largest int64
	rounds := 40
	for r := range rounds {
		msgs := make([]*Message, 50)
		for i := range msgs {
			msgs[i] = &Message{RoomID: room.ID, AuthorID: who.ID, Kind: vocab.KindText, Body: fmt.Sprintf("%d %d %s", r, i, body)}
		}
		if err := s.InsertMessages(ctx, msgs); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond) // a few checkpoint rounds
		if fi, err := os.Stat(path + "-wal"); err == nil {
			largest = max(largest, fi.Size())
		}
	}
	// Unchecked, the WAL holds every page written: here about 4.7 MB for 2 MB of text.
	written := int64(rounds * 50 * 1000)
	if largest == 0 || largest > written/2 {
		t.Fatalf("the WAL grew to %d bytes with %d bytes of messages written through it: not checkpointed beside the writer", largest, written)
	}
}

// Under writes that never pause, every checkpoint beside the writer sees new frames committed
// while it copies, so the WAL is never all copied and never reused; it would grow by
// everything written (about 20 MB/s at 1,000 messages/s). The checkpointer finishes between
// two of the writer's transactions, so the WAL is reused and stays the size of a round or two.
func TestWALReusedUnderWritesThatNeverPause(t *testing.T) {
	ctx := context.Background()
	s, path, who, room := checkpointedStore(t)
	body := string(make([]byte, 1000))
	var written, largest int64
	for start := time.Now(); time.Since(start) < 2*time.Second; {
		m := &Message{RoomID: room.ID, AuthorID: who.ID, Kind: vocab.KindText, Body: body}
		if err := s.InsertMessages(ctx, []*Message{m}); err != nil {
			t.Fatal(err)
		}
		written += int64(len(body))
		if fi, err := os.Stat(path + "-wal"); err == nil {
			largest = max(largest, fi.Size())
		}
	}
	// Each commit writes several pages (about 24 KB) for its 1,000 bytes, so a WAL never
	// reused holds some 25 times what was written through it; reused every round, it holds
	// what a few rounds write, a third of two seconds' worth at most.
	if largest == 0 || largest > written {
		t.Fatalf("the WAL grew to %d bytes with %d bytes of messages written through it back to back: never reused", largest, written)
	}
	t.Logf("%d bytes of messages written, WAL at most %d bytes", written, largest)
}

// checkpointedStore opens a store in a fresh file (its path returned) that checkpoints every
// 10 ms, with one person and a room of theirs to write to.
func checkpointedStore(t *testing.T) (*Store, string, Identity, Room) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gifchat.db")
	s, err := Open(context.Background(), path, Options{Synchronous: "NORMAL", CheckpointEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	who := mustIdentity(t, s, "tok", "ann")
	return s, path, who, mustRoom(t, s, "cccccccccccccccc", who.ID)
}
