package db

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"gifchat/vocab"
)

// age makes a session last used, and its identity created, long ago.
func age(t *testing.T, s *Store, token string, id int64) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.write.ExecContext(ctx, s.write.Rebind("UPDATE sessions SET last_seen = 1000 WHERE token_hash = ?"), token); err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.ExecContext(ctx, s.write.Rebind("UPDATE identities SET created_at = 1000 WHERE id = ?"), id); err != nil {
		t.Fatal(err)
	}
}

// TestSessionLastSeen: a new session is seen at its creation; TouchSession moves it on.
func TestSessionLastSeen(t *testing.T) { eachStore(t, testSessionLastSeen) }

func testSessionLastSeen(t *testing.T, s *Store) {
	ctx := context.Background()
	alice := mustIdentity(t, s, "seen-a", "alice")
	sess, err := s.SessionByToken(ctx, "seen-a")
	if err != nil || sess.Identity != alice || sess.LastSeen != alice.CreatedAt {
		t.Fatalf("SessionByToken = %+v, %v; want alice, last seen at creation (%d)", sess, err, alice.CreatedAt)
	}
	age(t, s, "seen-a", alice.ID)
	if err := s.TouchSession(ctx, "seen-a"); err != nil {
		t.Fatal(err)
	}
	sess, err = s.SessionByToken(ctx, "seen-a")
	if err != nil || time.Since(time.UnixMilli(sess.LastSeen)) > time.Minute {
		t.Fatalf("after a touch: last seen %v (%v)", time.UnixMilli(sess.LastSeen), err)
	}
	if _, err := s.SessionByToken(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
}

// TestDeleteIdle: the sweep deletes sessions unused since the cutoff, and identities left
// without a session that nothing still in a room refers to, with their room entries and
// bars. An identity that owns a room, or wrote, received or reacted to something still in a
// room's log, keeps its row (its session goes) until a later sweep after the room has gone.
func TestDeleteIdle(t *testing.T) { eachStore(t, testDeleteIdle) }

func testDeleteIdle(t *testing.T, s *Store) {
	ctx := context.Background()
	people := map[string]Identity{}
	for _, name := range []string{"active", "idle", "owner", "author", "recipient", "reactor", "subject", "fresh"} {
		people[name] = mustIdentity(t, s, "tok-"+name, name)
		if name != "active" && name != "fresh" {
			age(t, s, "tok-"+name, people[name].ID)
		}
	}
	// fresh: a session unused since long ago but an identity made just now is left alone
	// (its session goes); nothing a request is creating right now is taken from under it.
	if _, err := s.write.ExecContext(ctx, s.write.Rebind("UPDATE sessions SET last_seen = 1000 WHERE token_hash = ?"), "tok-fresh"); err != nil {
		t.Fatal(err)
	}
	room := mustRoom(t, s, "iiiiiiiiiiiiiiii", people["owner"].ID)
	if err := s.InsertMessages(ctx, []*Message{
		{RoomID: room.ID, AuthorID: people["author"].ID, Kind: vocab.KindText, Body: "still here"},
		{RoomID: room.ID, AuthorID: people["active"].ID, Kind: vocab.KindWhisper, Body: "psst", RecipientID: people["recipient"].ID},
		{RoomID: room.ID, Kind: vocab.KindNotice, Notice: vocab.NoticeJoined, SubjectID: people["subject"].ID, SubjectName: "subject"},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.ExecContext(ctx, s.write.Rebind(`INSERT INTO reactions (room_id, message_seq, emoji, identity_id, created_at)
		VALUES (?, 1, '👍', ?, 1)`), room.ID, people["reactor"].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRoomEntry(ctx, room.ID, people["idle"].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.BarFromRoom(ctx, room.ID, people["idle"].ID, time.Now().Add(time.Hour).UnixMilli()); err != nil {
		t.Fatal(err)
	}

	cutoff := time.Now().Add(-time.Hour).UnixMilli()
	got, err := s.DeleteIdle(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sessions != 7 || got.Identities != 2 {
		t.Errorf("deleted %+v; want the 7 idle sessions and 2 identities (idle, subject)", got)
	}
	exists := func(name string) bool {
		_, err := s.IdentityByID(ctx, people[name].ID)
		return err == nil
	}
	for name, want := range map[string]bool{"active": true, "idle": false, "owner": true, "author": true,
		"recipient": true, "reactor": true, "subject": false, "fresh": true} {
		if exists(name) != want {
			t.Errorf("%s: identity kept %v, want %v", name, exists(name), want)
		}
	}
	if _, err := s.SessionByToken(ctx, "tok-active"); err != nil {
		t.Errorf("the active session: %v", err)
	}
	if _, err := s.SessionByToken(ctx, "tok-owner"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the owner's idle session is still there: %v", err)
	}
	if ok, _ := s.HasRoomEntry(ctx, room.ID, people["idle"].ID); ok {
		t.Error("a deleted identity's room entry is left")
	}
	if until, _ := s.BarredUntil(ctx, room.ID, people["idle"].ID); until != 0 {
		t.Error("a deleted identity's bar is left")
	}
	if n, _ := s.CountMessages(ctx, room.ID); n != 3 {
		t.Errorf("%d messages in the room, want all 3 (a notice keeps the name it had)", n)
	}

	// Once the room has gone, what kept the others has gone too.
	if _, err := s.DeleteRoom(ctx, room.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := s.DeleteIdle(ctx, cutoff); err != nil || got.Identities != 4 || got.Sessions != 0 {
		t.Errorf("after the room went: deleted %+v, %v; want the 4 identities kept before", got, err)
	}
	for _, name := range []string{"active", "fresh"} {
		if !exists(name) {
			t.Errorf("%s was deleted", name)
		}
	}
}

// TestDeleteIdleInBatches: more idle sessions than one batch all go.
func TestDeleteIdleInBatches(t *testing.T) { eachStore(t, testDeleteIdleInBatches) }

func testDeleteIdleInBatches(t *testing.T, s *Store) {
	ctx := context.Background()
	const n = idleBatch*2 + 7
	tx := s.write.MustBegin()
	for i := range n {
		var id int64
		if err := tx.GetContext(ctx, &id, tx.Rebind("INSERT INTO identities (nickname, colour, created_at) VALUES ('x', 'c1', 1) RETURNING id")); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind("INSERT INTO sessions (token_hash, identity_id, created_at, last_seen) VALUES (?, ?, 1, 1)"),
			fmt.Sprint("batch-", i), id); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	keep := mustIdentity(t, s, "keep", "keep")
	got, err := s.DeleteIdle(ctx, time.Now().Add(-time.Hour).UnixMilli())
	if err != nil || got.Sessions != n || got.Identities != n {
		t.Fatalf("deleted %+v, %v; want %d of each", got, err, n)
	}
	if _, err := s.IdentityByID(ctx, keep.ID); err != nil {
		t.Fatal("an active identity was deleted")
	}
}

// Sessions from before migration 0004 count as last seen when they were made, not at 0: the
// first sweep after an upgrade must not sign out everybody.
func TestMigrationSessionsSeenAtCreation(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gifchat.db")
	old, err := sqlx.Open("sqlite3", "file:"+path+"?_foreign_keys=on")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.ExecContext(ctx, `CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"0001_init", "0002_room_seq", "0003_living_messages"} {
		body, err := migrationFiles.ReadFile("migrations/sqlite/" + v + ".sql")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := old.ExecContext(ctx, string(body)); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if _, err := old.ExecContext(ctx, "INSERT INTO schema_migrations VALUES (?, 1)", v); err != nil {
			t.Fatal(err)
		}
	}
	made := time.Now().Add(-time.Minute).UnixMilli()
	if _, err := old.ExecContext(ctx, `INSERT INTO identities (id, nickname, colour, created_at) VALUES (1, 'old-otter-01', 'c1', ?)`, made); err != nil {
		t.Fatal(err)
	}
	if _, err := old.ExecContext(ctx, `INSERT INTO sessions (token_hash, identity_id, created_at) VALUES ('old', 1, ?)`, made); err != nil {
		t.Fatal(err)
	}
	old.Close()

	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sess, err := s.SessionByToken(ctx, "old")
	if err != nil || sess.LastSeen != made {
		t.Fatalf("old session: last seen %d (%v), want its creation %d", sess.LastSeen, err, made)
	}
	if got, err := s.DeleteIdle(ctx, time.Now().Add(-time.Hour).UnixMilli()); err != nil || got.Sessions != 0 {
		t.Fatalf("the first sweep deleted %+v (%v); want nothing", got, err)
	}
}
