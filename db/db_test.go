package db

import (
	"context"
	"errors"
	"gifchat/vocab"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// openTestStore opens a store on a fresh file in t.TempDir() and closes it at the end.
func openTestStore(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gifchat.db")
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func mustIdentity(t *testing.T, s *Store, token, nick string) Identity {
	t.Helper()
	id, err := s.CreateIdentitySession(context.Background(), token, nick, "c1")
	if err != nil {
		t.Fatalf("create identity %s: %v", nick, err)
	}
	return id
}

func mustRoom(t *testing.T, s *Store, id string, owner int64) Room {
	t.Helper()
	r, err := s.CreateRoom(context.Background(), Room{ID: id, Title: "room " + id, Capacity: 10, OwnerID: owner})
	if err != nil {
		t.Fatalf("create room %s: %v", id, err)
	}
	return r
}

func migrationCount(t *testing.T, d dialect) int {
	t.Helper()
	names, err := fs.Glob(migrationFiles, "migrations/"+d.String()+"/*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("embedded migrations: %v (%d files)", err, len(names))
	}
	return len(names)
}

// TestMigrationsTwice opens, closes and reopens the same database: the second run must apply
// nothing, record nothing new and keep the data.
func TestMigrationsTwice(t *testing.T) {
	eachBackend(t, testMigrationsTwice)
}

func testMigrationsTwice(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	who := mustIdentity(t, s, "token-hash", "calm-otter-01")
	mustRoom(t, s, "aaaaaaaaaaaaaaaa", who.ID)
	var firstApplied []int64
	if err := s.read.SelectContext(ctx, &firstApplied, "SELECT applied_at FROM schema_migrations ORDER BY version"); err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	s = b.open(t)
	defer s.Close()
	var versions []string
	if err := s.read.SelectContext(ctx, &versions, "SELECT version FROM schema_migrations ORDER BY version"); err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	if want := migrationCount(t, s.dialect); len(versions) != want {
		t.Fatalf("schema_migrations has %d rows %v after two opens, want %d (one per file)", len(versions), versions, want)
	}
	if versions[0] != "0001_init" {
		t.Errorf("first recorded version = %q, want 0001_init", versions[0])
	}
	var secondApplied []int64
	if err := s.read.SelectContext(ctx, &secondApplied, "SELECT applied_at FROM schema_migrations ORDER BY version"); err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	for i := range firstApplied {
		if firstApplied[i] != secondApplied[i] {
			t.Errorf("migration %s re-recorded: applied_at %d -> %d", versions[i], firstApplied[i], secondApplied[i])
		}
	}
	if got, err := s.IdentityBySession(ctx, "token-hash"); err != nil || got.ID != who.ID {
		t.Errorf("identity after reopen = %+v, %v; want id %d", got, err, who.ID)
	}
	if _, err := s.RoomByID(ctx, "aaaaaaaaaaaaaaaa"); err != nil {
		t.Errorf("room after reopen: %v", err)
	}
}

// TestPragmasOnEveryConnection holds several read connections at once (so the pool must open
// distinct ones) and checks each has the DSN's pragmas, and so does the writer.
func TestPragmasOnEveryConnection(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t)
	const n = 5
	var wg sync.WaitGroup
	hold := make(chan struct{})
	opened := make(chan error, n)
	type pragmas struct {
		journal string
		fk, bt  int
	}
	results := make(chan pragmas, n)
	for range n {
		wg.Go(func() {
			conn, err := s.read.Connx(ctx)
			if err != nil {
				opened <- err
				return
			}
			defer conn.Close()
			opened <- nil
			<-hold // keep this connection checked out while the others open theirs
			var p pragmas
			if err := conn.GetContext(ctx, &p.journal, "PRAGMA journal_mode"); err != nil {
				t.Errorf("journal_mode: %v", err)
			}
			if err := conn.GetContext(ctx, &p.fk, "PRAGMA foreign_keys"); err != nil {
				t.Errorf("foreign_keys: %v", err)
			}
			if err := conn.GetContext(ctx, &p.bt, "PRAGMA busy_timeout"); err != nil {
				t.Errorf("busy_timeout: %v", err)
			}
			results <- p
		})
	}
	for range n {
		if err := <-opened; err != nil {
			t.Fatalf("read connection: %v", err)
		}
	}
	if got := s.read.Stats().OpenConnections; got < n {
		t.Fatalf("read pool has %d open connections, want at least %d held at once", got, n)
	}
	close(hold)
	wg.Wait()
	close(results)
	for p := range results {
		if p.journal != "wal" || p.fk != 1 || p.bt != 5000 {
			t.Errorf("read connection pragmas: journal_mode=%q foreign_keys=%d busy_timeout=%d; want wal, 1, 5000", p.journal, p.fk, p.bt)
		}
	}

	var journal string
	var fk, sync int
	if err := s.write.GetContext(ctx, &journal, "PRAGMA journal_mode"); err != nil {
		t.Fatal(err)
	}
	if err := s.write.GetContext(ctx, &fk, "PRAGMA foreign_keys"); err != nil {
		t.Fatal(err)
	}
	if err := s.write.GetContext(ctx, &sync, "PRAGMA synchronous"); err != nil {
		t.Fatal(err)
	}
	if journal != "wal" || fk != 1 || sync != 2 {
		t.Errorf("writer pragmas: journal_mode=%q foreign_keys=%d synchronous=%d; want wal, 1, 2 (FULL)", journal, fk, sync)
	}
	// Foreign keys are enforced, not just reported: a room needs an existing owner.
	if _, err := s.CreateRoom(ctx, Room{ID: "bbbbbbbbbbbbbbbb", Title: "orphan", Capacity: 2, OwnerID: 424242}); err == nil {
		t.Error("created a room whose owner does not exist; foreign keys are off")
	}
	// The readers are read-only: all writes go through the one writer.
	if _, err := s.read.ExecContext(ctx, "DELETE FROM identities"); err == nil {
		t.Error("a read-pool connection could write")
	}
}

func TestOpenRejectsBadSynchronous(t *testing.T) {
	_, err := Open(context.Background(), filepath.Join(t.TempDir(), "x.db"), Options{Synchronous: "OFF"})
	if err == nil || !strings.Contains(err.Error(), "synchronous") {
		t.Fatalf("Open with synchronous OFF: err = %v, want a refusal naming synchronous", err)
	}
}

// TestOpenPathNeedingEscapes: a data directory whose name holds URI syntax must still hold
// the database (and get its pragmas), not send it to another path.
func TestOpenPathNeedingEscapes(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"with space", "hash#1", "per%41cent", "ask?_journal_mode=DELETE"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), name)
			if err := os.MkdirAll(dir, 0o750); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "gifchat.db")
			s, err := Open(ctx, path, Options{})
			if err != nil {
				t.Fatalf("open %q: %v", path, err)
			}
			defer s.Close()
			mustIdentity(t, s, "tok", "keen-lynx-02")
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("database file not where asked: %v", err)
			}
			var journal string
			if err := s.read.GetContext(ctx, &journal, "PRAGMA journal_mode"); err != nil || journal != "wal" {
				t.Errorf("journal_mode = %q, %v; want wal", journal, err)
			}
		})
	}
}

func TestSessionsAndRooms(t *testing.T) { eachStore(t, testSessionsAndRooms) }

func testSessionsAndRooms(t *testing.T, s *Store) {
	ctx := context.Background()
	if _, err := s.IdentityBySession(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown session: err = %v, want ErrNotFound", err)
	}
	owner := mustIdentity(t, s, "t1", "brisk-heron-03")
	if _, err := s.RoomByID(ctx, "cccccccccccccccc"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown room: err = %v, want ErrNotFound", err)
	}
	pub := mustRoom(t, s, "cccccccccccccccc", owner.ID)
	if pub.Private() || pub.PasswordHash != "" || pub.OwnerName != owner.Nickname || pub.CreatedAt == 0 {
		t.Errorf("public room read back as %+v", pub)
	}
	priv, err := s.CreateRoom(ctx, Room{ID: "dddddddddddddddd", Title: "secret", Capacity: 3, PasswordHash: "$2a$10$hash", OwnerID: owner.ID})
	if err != nil || !priv.Private() || priv.PasswordHash != "$2a$10$hash" {
		t.Fatalf("private room = %+v, %v", priv, err)
	}
	if n, err := s.CountRoomsOwnedBy(ctx, owner.ID); err != nil || n != 2 {
		t.Errorf("CountRoomsOwnedBy = %d, %v; want 2", n, err)
	}
	if ok, _ := s.HasRoomEntry(ctx, priv.ID, owner.ID); ok {
		t.Error("entry recorded before AddRoomEntry")
	}
	for range 2 { // twice: the second is a no-op, not a constraint error
		if err := s.AddRoomEntry(ctx, priv.ID, owner.ID); err != nil {
			t.Fatalf("AddRoomEntry: %v", err)
		}
	}
	if ok, err := s.HasRoomEntry(ctx, priv.ID, owner.ID); !ok || err != nil {
		t.Errorf("HasRoomEntry = %v, %v; want true", ok, err)
	}
	if _, err := s.DeleteRoom(ctx, priv.ID); err != nil {
		t.Fatalf("DeleteRoom: %v", err)
	}
	if ok, _ := s.HasRoomEntry(ctx, priv.ID, owner.ID); ok {
		t.Error("room entry survived the room's deletion")
	}
	if _, err := s.DeleteRoom(ctx, priv.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteRoom: err = %v, want ErrNotFound", err)
	}
}

// TestMessagePaging walks a room's history in pages and checks whispers reach only the two
// people they concern, in every helper.
func TestMessagePaging(t *testing.T) { eachStore(t, testMessagePaging) }

func testMessagePaging(t *testing.T, s *Store) {
	ctx := context.Background()
	alice := mustIdentity(t, s, "ta", "alice")
	bob := mustIdentity(t, s, "tb", "bob")
	carol := mustIdentity(t, s, "tc", "carol")
	room := mustRoom(t, s, "eeeeeeeeeeeeeeee", alice.ID)
	other := mustRoom(t, s, "ffffffffffffffff", alice.ID)

	// 10 messages: text from alice, a whisper alice->bob at positions 3 and 7, a system notice at 5.
	var msgs []*Message
	for i := range 10 {
		m := &Message{RoomID: room.ID, AuthorID: alice.ID, Kind: vocab.KindText, Body: "m" + string(rune('0'+i))}
		switch i {
		case 3, 7:
			m.Kind, m.RecipientID = vocab.KindWhisper, bob.ID
		case 5:
			m.Kind, m.AuthorID = vocab.KindNotice, 0
		}
		msgs = append(msgs, m)
	}
	if err := s.InsertMessages(ctx, msgs); err != nil {
		t.Fatalf("InsertMessages: %v", err)
	}
	// Another room's messages never leak in.
	if err := s.InsertMessages(ctx, []*Message{{RoomID: other.ID, AuthorID: alice.ID, Kind: vocab.KindText, Body: "elsewhere"}}); err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		if m.ID == 0 || m.CreatedAt == 0 || m.Seq != int64(i+1) {
			t.Fatalf("message %d got id %d, seq %d, created %d: ids filled in, seqs 1, 2, 3, ...", i, m.ID, m.Seq, m.CreatedAt)
		}
	}
	bodies := func(ms []Message) string {
		var b []string
		for _, m := range ms {
			b = append(b, m.Body)
		}
		return strings.Join(b, ",")
	}
	all := "m0,m1,m2,m3,m4,m5,m6,m7,m8,m9"
	noWhispers := "m0,m1,m2,m4,m5,m6,m8,m9"

	for _, tc := range []struct {
		name   string
		viewer int64
		want   string
	}{
		{"author", alice.ID, all},
		{"recipient", bob.ID, all},
		{"bystander", carol.ID, noWhispers},
		{"nobody", 0, noWhispers},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.LatestMessages(ctx, room.ID, tc.viewer, 100)
			if err != nil || bodies(got) != tc.want {
				t.Errorf("LatestMessages = %s, %v; want %s", bodies(got), err, tc.want)
			}
			got, err = s.MessagesAfter(ctx, room.ID, tc.viewer, 0, 100)
			if err != nil || bodies(got) != tc.want {
				t.Errorf("MessagesAfter(0) = %s, %v; want %s", bodies(got), err, tc.want)
			}
			// Page backwards three at a time and forwards three at a time: together the
			// pages are the whole visible history, once each, in order.
			var back []string
			var before int64
			for range 10 {
				page, err := s.MessagesBefore(ctx, room.ID, tc.viewer, before, 3)
				if err != nil {
					t.Fatalf("MessagesBefore: %v", err)
				}
				if len(page) == 0 {
					break
				}
				if len(page) > 3 {
					t.Fatalf("page of %d messages, limit 3", len(page))
				}
				back = append([]string{bodies(page)}, back...)
				before = page[0].Seq
			}
			if got := strings.Join(back, ","); got != tc.want {
				t.Errorf("paging back by 3 = %s; want %s", got, tc.want)
			}
			var fwd []string
			var after int64
			for range 10 {
				page, err := s.MessagesAfter(ctx, room.ID, tc.viewer, after, 3)
				if err != nil {
					t.Fatalf("MessagesAfter: %v", err)
				}
				if len(page) == 0 {
					break
				}
				fwd = append(fwd, bodies(page))
				after = page[len(page)-1].Seq
			}
			if got := strings.Join(fwd, ","); got != tc.want {
				t.Errorf("paging forward by 3 = %s; want %s", got, tc.want)
			}
		})
	}

	latest, err := s.LatestMessages(ctx, room.ID, carol.ID, 2)
	if err != nil || bodies(latest) != "m8,m9" {
		t.Errorf("LatestMessages limit 2 = %s, %v; want m8,m9 (newest, oldest first)", bodies(latest), err)
	}
	before, err := s.MessagesBefore(ctx, room.ID, carol.ID, msgs[8].Seq, 3)
	// m7 is a whisper the bystander may not see: the page is the three visible before m8.
	if err != nil || bodies(before) != "m4,m5,m6" {
		t.Errorf("MessagesBefore(m8, 3) for a bystander = %s, %v; want m4,m5,m6", bodies(before), err)
	}
	after, err := s.MessagesAfter(ctx, room.ID, bob.ID, msgs[6].Seq, 2)
	if err != nil || bodies(after) != "m7,m8" {
		t.Errorf("MessagesAfter(m6, 2) for the recipient = %s, %v; want m7,m8", bodies(after), err)
	}

	// The joined names come along for rendering.
	w, err := s.MessageByID(ctx, msgs[3].ID)
	if err != nil || w.AuthorName != "alice" || w.RecipientName != "bob" || w.Kind != vocab.KindWhisper {
		t.Errorf("MessageByID(whisper) = %+v, %v", w, err)
	}
	sys, err := s.MessageByID(ctx, msgs[5].ID)
	if err != nil || sys.AuthorID != 0 || sys.AuthorName != "" || sys.Kind != vocab.KindNotice {
		t.Errorf("MessageByID(system) = %+v, %v", sys, err)
	}
	if n, err := s.CountMessages(ctx, room.ID); err != nil || n != 10 {
		t.Errorf("CountMessages = %d, %v; want 10", n, err)
	}

	// A failed batch is all or nothing: one bad kind rolls back the good ones.
	bad := []*Message{
		{RoomID: room.ID, AuthorID: alice.ID, Kind: vocab.KindText, Body: "good"},
		{RoomID: room.ID, AuthorID: alice.ID, Kind: "shout", Body: "bad"},
	}
	if err := s.InsertMessages(ctx, bad); err == nil {
		t.Fatal("a message of kind \"shout\" was stored")
	}
	if n, _ := s.CountMessages(ctx, room.ID); n != 10 {
		t.Errorf("after a failed batch the room has %d messages, want 10", n)
	}
}
