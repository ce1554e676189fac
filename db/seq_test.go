package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"

	"gifchat/vocab"
)

// seqs lists the messages' sequence numbers.
func seqs(msgs []*Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Seq
	}
	return out
}

// Each room's log is numbered 1, 2, 3, ... with no gaps, in the order given, however the
// rooms' messages are interleaved in one group commit, and a failed batch takes no numbers.
func TestSequencePerRoom(t *testing.T) { eachStore(t, testSequencePerRoom) }

func testSequencePerRoom(t *testing.T, s *Store) {
	ctx := context.Background()
	alice := mustIdentity(t, s, "ta", "alice")
	a := mustRoom(t, s, "aaaaaaaaaaaaaaaa", alice.ID)
	b := mustRoom(t, s, "bbbbbbbbbbbbbbbb", alice.ID)
	msg := func(room string, body string) *Message {
		return &Message{RoomID: room, AuthorID: alice.ID, Kind: vocab.KindText, Body: body}
	}

	first := []*Message{msg(a.ID, "a1"), msg(b.ID, "b1"), msg(a.ID, "a2"), msg(b.ID, "b2"), msg(a.ID, "a3")}
	if err := s.InsertMessages(ctx, first); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(seqs(first)), "[1 1 2 2 3]"; got != want {
		t.Fatalf("interleaved batch got seqs %s, want %s", got, want)
	}
	second := []*Message{msg(b.ID, "b3"), msg(a.ID, "a4")}
	if err := s.InsertMessages(ctx, second); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(seqs(second)), "[3 4]"; got != want {
		t.Fatalf("next batch got seqs %s, want %s", got, want)
	}

	// All or nothing: a bad message rolls back its neighbours and their numbers.
	bad := []*Message{msg(a.ID, "lost"), {RoomID: a.ID, AuthorID: alice.ID, Kind: "shout", Body: "bad"}}
	if err := s.InsertMessages(ctx, bad); err == nil {
		t.Fatal("a message of kind \"shout\" was stored")
	}
	if bad[0].Seq != 0 || bad[0].ID != 0 {
		t.Errorf("a rolled-back message kept seq %d, id %d", bad[0].Seq, bad[0].ID)
	}
	// A room that is gone takes nothing and says so.
	gone := []*Message{msg("cccccccccccccccc", "nowhere")}
	if err := s.InsertMessages(ctx, gone); !errors.Is(err, ErrRoomGone) {
		t.Errorf("a message to a missing room: %v, want ErrRoomGone", err)
	}
	third := []*Message{msg(a.ID, "a5")}
	if err := s.InsertMessages(ctx, third); err != nil {
		t.Fatal(err)
	}
	if third[0].Seq != 5 {
		t.Errorf("after a failed batch the next message got seq %d, want 5 (no gap)", third[0].Seq)
	}
	got, err := s.MessagesAfter(ctx, a.ID, alice.ID, 2, 10)
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, m := range got {
		bodies = append(bodies, fmt.Sprintf("%d:%s", m.Seq, m.Body))
	}
	if fmt.Sprint(bodies) != "[3:a3 4:a4 5:a5]" {
		t.Errorf("MessagesAfter(2) = %v", bodies)
	}
}

// A database made by the first schema (numbered by global ids, notices as English
// sentences) is carried over: every room's history numbered in its old order, last_seq
// where the next message continues, the sentences gifchat wrote turned into notice data, and
// nothing lost.
func TestMigrationCarriesOldHistoryOver(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gifchat.db")
	old, err := sqlx.Open("sqlite3", "file:"+path+"?_foreign_keys=on")
	if err != nil {
		t.Fatal(err)
	}
	first, err := migrationFiles.ReadFile("migrations/sqlite/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{
		string(first),
		`CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`,
		`INSERT INTO schema_migrations VALUES ('0001_init', 1)`,
		`INSERT INTO identities (id, nickname, colour, created_at) VALUES (1, 'brisk-otter-17', 'c1', 1), (2, 'sunny-lynx-04', 'c2', 1)`,
		`INSERT INTO rooms (id, title, capacity, owner_id, created_at) VALUES ('aaaaaaaaaaaaaaaa', 'A', 10, 1, 1), ('bbbbbbbbbbbbbbbb', 'B', 10, 2, 1)`,
		// Two rooms' messages interleaved by id, as the old global numbering left them.
		`INSERT INTO messages (id, room_id, author_id, kind, body, created_at) VALUES
			(1, 'aaaaaaaaaaaaaaaa', NULL, 'system', 'brisk-otter-17 joined', 1),
			(2, 'bbbbbbbbbbbbbbbb', NULL, 'system', 'sunny-lynx-04 joined', 2),
			(3, 'aaaaaaaaaaaaaaaa', 1, 'text', 'hello left', 3),
			(5, 'aaaaaaaaaaaaaaaa', NULL, 'system', 'sunny-lynx-04 was removed by the owner', 5),
			(6, 'bbbbbbbbbbbbbbbb', 2, 'whisper', 'psst', 6),
			(7, 'aaaaaaaaaaaaaaaa', NULL, 'system', 'sunny-lynx-04 is now the owner', 7),
			(8, 'aaaaaaaaaaaaaaaa', NULL, 'system', 'brisk-otter-17 left', 8),
			(9, 'aaaaaaaaaaaaaaaa', NULL, 'system', 'Welcome to the room', 9)`,
		`UPDATE messages SET recipient_id = 1 WHERE id = 6`,
	}
	for _, q := range stmts {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatalf("build the old database: %v\n%s", err, q)
		}
	}
	old.Close()

	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("open the old database: %v", err)
	}
	defer s.Close()
	type row struct {
		seq                         int64
		kind, notice, subject, body string
	}
	want := map[string][]row{
		"aaaaaaaaaaaaaaaa": {
			{1, "system", "joined", "brisk-otter-17", ""},
			{2, "text", "", "", "hello left"}, // a person's text is never taken for a notice
			{3, "system", "kicked", "sunny-lynx-04", ""},
			{4, "system", "owner", "sunny-lynx-04", ""},
			{5, "system", "left", "brisk-otter-17", ""},
			{6, "system", "", "", "Welcome to the room"}, // unknown: kept as written
		},
		"bbbbbbbbbbbbbbbb": {
			{1, "system", "joined", "sunny-lynx-04", ""},
			{2, "whisper", "", "", "psst"},
		},
	}
	for room, rows := range want {
		got, err := s.MessagesAfter(ctx, room, 1, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(rows) {
			t.Fatalf("room %s: %d messages after the upgrade, want %d", room, len(got), len(rows))
		}
		for i, w := range rows {
			g := got[i]
			if g.Seq != w.seq || g.Kind != w.kind || g.Notice != w.notice || g.SubjectName != w.subject || g.Body != w.body {
				t.Errorf("room %s message %d: seq %d kind %q notice %q subject %q body %q; want %+v", room, i, g.Seq, g.Kind, g.Notice, g.SubjectName, g.Body, w)
			}
		}
		// The next message continues the room's numbering.
		next := []*Message{{RoomID: room, AuthorID: 1, Kind: vocab.KindText, Body: "after the upgrade"}}
		if err := s.InsertMessages(ctx, next); err != nil {
			t.Fatal(err)
		}
		if next[0].Seq != int64(len(rows)+1) {
			t.Errorf("room %s: first message after the upgrade got seq %d, want %d", room, next[0].Seq, len(rows)+1)
		}
	}
	var versions []string
	if err := s.read.SelectContext(ctx, &versions, "SELECT version FROM schema_migrations ORDER BY version"); err != nil || len(versions) != migrationCount(t, sqlite) {
		t.Errorf("migrations recorded after the upgrade: %v, %v", versions, err)
	}
	var dup sql.NullInt64
	if err := s.read.GetContext(ctx, &dup, `SELECT COUNT(*) FROM messages GROUP BY room_id, seq HAVING COUNT(*) > 1`); err != sql.ErrNoRows {
		t.Errorf("a (room, seq) pair is used twice: %v %v", dup, err)
	}
}
