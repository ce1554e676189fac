package db

import (
	"context"
	"fmt"
	"gifchat/vocab"
	"sync"
	"testing"
)

func TestBatchWriterCommitsEverythingInOrder(t *testing.T) {
	eachStore(t, testBatchWriterCommitsEverythingInOrder)
}

func testBatchWriterCommitsEverythingInOrder(t *testing.T, s *Store) {
	who := mustIdentity(t, s, "tok", "alice")
	room := mustRoom(t, s, "batchroom0000000", who.ID)
	w := NewBatchWriter(s, 8, nil)
	const senders, per = 12, 40
	var wg sync.WaitGroup
	ids := make([][]int64, senders)
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range per {
				m := &Message{RoomID: room.ID, AuthorID: who.ID, Kind: vocab.KindText, Body: fmt.Sprintf("%d-%d", i, j)}
				if err := w.Insert(context.Background(), []*Message{m}); err != nil {
					t.Error(err)
					return
				}
				if m.ID == 0 {
					t.Error("id not filled in")
				}
				ids[i] = append(ids[i], m.ID)
			}
		}()
	}
	wg.Wait()
	w.Close()
	for i, got := range ids {
		for j := 1; j < len(got); j++ {
			if got[j] <= got[j-1] {
				t.Fatalf("sender %d: ids not increasing: %v", i, got)
			}
		}
	}
	if n, _ := s.CountMessages(context.Background(), room.ID); n != senders*per {
		t.Fatalf("stored %d, want %d", n, senders*per)
	}
	if err := w.Insert(context.Background(), []*Message{{RoomID: room.ID, Kind: vocab.KindNotice, Body: "late"}}); err != ErrWriterClosed {
		t.Fatalf("insert after close: %v", err)
	}
}

func TestBatchWriterReportsFailures(t *testing.T) { eachStore(t, testBatchWriterReportsFailures) }

func testBatchWriterReportsFailures(t *testing.T, s *Store) {
	w := NewBatchWriter(s, 8, nil)
	defer w.Close()
	// A message for a room that does not exist violates the foreign key: the batch fails
	// and every waiter is told, so no hub broadcasts a message that was not stored.
	err := w.Insert(context.Background(), []*Message{{RoomID: "nosuchroom", Kind: vocab.KindNotice, Body: "x"}})
	if err == nil {
		t.Fatal("insert into a missing room succeeded")
	}
}
