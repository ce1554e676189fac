package db

import (
	"context"
	"fmt"
	"gifchat/db/dbtest"
	"gifchat/vocab"
	"path/filepath"
	"sync"
	"testing"
)

func benchStore(b *testing.B, sync string) (*Store, Room, Identity) {
	b.Helper()
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), Options{Synchronous: sync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	who, err := s.CreateIdentitySession(context.Background(), "bench-token", "bench", "c1")
	if err != nil {
		b.Fatal(err)
	}
	room, err := s.CreateRoom(context.Background(), Room{ID: "benchroom0000000", Title: "Bench", Capacity: 10, OwnerID: who.ID})
	if err != nil {
		b.Fatal(err)
	}
	return s, room, who
}

// BenchmarkInsertSingle is one message per transaction, one after another: the cost of a
// commit (a WAL sync with synchronous=FULL).
func BenchmarkInsertSingle(b *testing.B) {
	for _, mode := range []string{"FULL", "NORMAL"} {
		b.Run(mode, func(b *testing.B) {
			s, room, who := benchStore(b, mode)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := s.InsertMessages(ctx, []*Message{{RoomID: room.ID, AuthorID: who.ID, Kind: vocab.KindText, Body: "hello benchmark"}}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkInsertConcurrent is many senders at once through the group-commit writer, each
// waiting for its own message to be committed, as a room hub does.
func BenchmarkInsertConcurrent(b *testing.B) {
	for _, senders := range []int{16, 256} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) {
			s, room, who := benchStore(b, "FULL")
			w := NewBatchWriter(s, 1024, nil)
			defer w.Close()
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N/senders + 1
			for range senders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range per {
						if err := w.Insert(ctx, []*Message{{RoomID: room.ID, AuthorID: who.ID, Kind: vocab.KindText, Body: "hello benchmark"}}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(per*senders)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkInsertAcrossRooms is 64 senders, each in a room of its own, through the group-commit
// writer, on each database: every batch takes seqs for many rooms in one transaction.
func BenchmarkInsertAcrossRooms(b *testing.B) {
	const senders = 64
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			var s *Store
			var err error
			if kind == "postgres" {
				s, err = OpenPostgres(context.Background(), dbtest.PostgresURL(b), PostgresOptions{})
			} else {
				s, err = Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), Options{})
			}
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			who, err := s.CreateIdentitySession(ctx, "bench-token", "bench", "c1")
			if err != nil {
				b.Fatal(err)
			}
			rooms := make([]string, senders)
			for i := range rooms {
				rooms[i] = fmt.Sprintf("benchroom%07d", i)
				if _, err := s.CreateRoom(ctx, Room{ID: rooms[i], Title: "Bench", Capacity: 10, OwnerID: who.ID}); err != nil {
					b.Fatal(err)
				}
			}
			w := NewBatchWriter(s, 1024, nil)
			defer w.Close()
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N/senders + 1
			for i := range senders {
				wg.Go(func() {
					for range per {
						if err := w.Insert(ctx, []*Message{{RoomID: rooms[i], AuthorID: who.ID, Kind: vocab.KindText, Body: "hello benchmark"}}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(per*senders)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
