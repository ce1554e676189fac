package db

// Messages keep the name they were sent under: the author's and a whisper recipient's names
// and colours are stored with each message (migration 0006), so renaming cannot rewrite
// history, while reactions show people as they are now.

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"gifchat/db/dbtest"
	"gifchat/vocab"
)

func TestMessagesKeepTheNameTheyWereSentUnder(t *testing.T) {
	eachStore(t, testMessagesKeepTheNameTheyWereSentUnder)
}

func testMessagesKeepTheNameTheyWereSentUnder(t *testing.T, s *Store) {
	ctx := context.Background()
	alice, bob := mustIdentity(t, s, "alice-token", "alice"), mustIdentity(t, s, "bob-token", "bob")
	room := mustRoom(t, s, "names", alice.ID)
	msgs := []*Message{
		// Names left empty are taken from the identities as they are at the insert.
		{RoomID: room.ID, AuthorID: alice.ID, Kind: vocab.KindText, Body: "plain"},
		{RoomID: room.ID, AuthorID: alice.ID, Kind: vocab.KindWhisper, Body: "psst", RecipientID: bob.ID},
		// Names the sender gives are the ones kept (the hub gives the name it knows).
		{RoomID: room.ID, AuthorID: bob.ID, AuthorName: "bob-then", AuthorColour: "c9", Kind: vocab.KindText, Body: "named"},
	}
	if err := s.InsertMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyEvent(ctx, &Message{RoomID: room.ID, Kind: vocab.KindReact, TargetSeq: msgs[0].Seq, AuthorID: alice.ID, Body: "👍"}); err != nil {
		t.Fatal(err)
	}
	if err := s.RenameIdentity(ctx, alice.ID, "Alicia", "c5"); err != nil {
		t.Fatal(err)
	}
	if err := s.RenameIdentity(ctx, bob.ID, "Robert", "c6"); err != nil {
		t.Fatal(err)
	}
	if err := s.RenameIdentity(ctx, 987654, "nobody", "c1"); err != ErrNotFound {
		t.Errorf("renaming a missing identity: %v, want ErrNotFound", err)
	}
	if id, err := s.IdentityByID(ctx, alice.ID); err != nil || id.Nickname != "Alicia" || id.Colour != "c5" {
		t.Fatalf("alice after the rename: %+v, %v", id, err)
	}

	latest, err := s.LatestMessages(ctx, room.ID, bob.ID, 10)
	if err != nil || len(latest) != 3 {
		t.Fatalf("LatestMessages: %d, %v", len(latest), err)
	}
	type names struct{ author, authorColour, recipient, recipientColour string }
	want := []names{{"alice", "c1", "", ""}, {"alice", "c1", "bob", "c1"}, {"bob-then", "c9", "", ""}}
	for i, m := range latest {
		got := names{m.AuthorName, m.AuthorColour, m.RecipientName, m.RecipientColour}
		if got != want[i] {
			t.Errorf("entry %q after renames shows %+v, want the names it was sent under %+v", m.Body, got, want[i])
		}
	}
	// Reactions show who reacted as they are now.
	if r := latest[0].Reactions; len(r) != 1 || r[0].Name != "Alicia" {
		t.Errorf("reaction after the rename: %+v, want it under the current name Alicia", r)
	}
	for _, read := range []func() (Message, error){
		func() (Message, error) { return s.MessageBySeq(ctx, room.ID, msgs[1].Seq) },
		func() (Message, error) { return s.MessageByID(ctx, msgs[1].ID) },
		func() (Message, error) {
			after, err := s.MessagesAfter(ctx, room.ID, alice.ID, msgs[0].Seq, 1)
			if err != nil || len(after) != 1 {
				return Message{}, err
			}
			return after[0], nil
		},
	} {
		m, err := read()
		if err != nil || m.AuthorName != "alice" || m.RecipientName != "bob" {
			t.Errorf("whisper read back as %q to %q (%v), want alice to bob", m.AuthorName, m.RecipientName, err)
		}
	}
}

// Migration 0006 fills in the names of the messages stored before it from their identities,
// on both databases.
func TestMigrationBackfillsMessageNames(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "gifchat.db")
		raw, err := sqlx.Open("sqlite3", "file:"+path+"?_foreign_keys=on")
		if err != nil {
			t.Fatal(err)
		}
		testMigrationBackfillsMessageNames(t, raw, sqlite, func() (*Store, error) {
			return Open(context.Background(), path, Options{})
		})
	})
	t.Run("postgres", func(t *testing.T) {
		url := dbtest.PostgresURL(t)
		raw, err := sqlx.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		testMigrationBackfillsMessageNames(t, raw, postgres, func() (*Store, error) {
			return OpenPostgres(context.Background(), url, PostgresOptions{})
		})
	})
}

func testMigrationBackfillsMessageNames(t *testing.T, raw *sqlx.DB, d dialect, open func() (*Store, error)) {
	ctx := context.Background()
	// The schema as it was before 0006.
	if _, err := raw.ExecContext(ctx, `CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	names, err := migrationNames(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		version := strings.TrimSuffix(filepath.Base(name), ".sql")
		if version >= "0006" {
			break
		}
		body, err := migrationFiles.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.ExecContext(ctx, string(body)); err != nil {
			t.Fatalf("%s: %v", version, err)
		}
		if _, err := raw.ExecContext(ctx, raw.Rebind("INSERT INTO schema_migrations VALUES (?, 1)"), version); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`INSERT INTO identities (id, nickname, colour, created_at) VALUES (1, 'old-otter-01', 'c3', 1), (2, 'old-heron-02', 'c8', 1)`,
		`INSERT INTO rooms (id, title, capacity, owner_id, created_at, last_seq) VALUES ('old', 'Old room', 10, 1, 1, 4)`,
		`INSERT INTO messages (room_id, seq, author_id, kind, body, created_at) VALUES ('old', 1, 1, 'text', 'hello from before', 1)`,
		`INSERT INTO messages (room_id, seq, author_id, kind, body, recipient_id, created_at) VALUES ('old', 2, 2, 'whisper', 'a secret from before', 1, 1)`,
		`INSERT INTO messages (room_id, seq, kind, body, notice, subject_id, subject_name, created_at) VALUES ('old', 3, 'system', '', 'joined', 2, 'old-heron-02', 1)`,
		`INSERT INTO messages (room_id, seq, author_id, kind, body, target_seq, created_at) VALUES ('old', 4, 2, 'react', '👍', 1, 1)`,
	} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()

	s, err := open()
	if err != nil {
		t.Fatalf("migrate to 0006: %v", err)
	}
	defer s.Close()
	// Renamed after the upgrade: the old messages keep the names they were sent under.
	if err := s.RenameIdentity(ctx, 1, "new-otter", "c0"); err != nil {
		t.Fatal(err)
	}
	if err := s.RenameIdentity(ctx, 2, "new-heron", "c0"); err != nil {
		t.Fatal(err)
	}
	var got []string
	all, err := s.MessagesAfter(ctx, "old", 1, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		got = append(got, m.Kind+":"+m.AuthorName+"/"+m.AuthorColour+">"+m.RecipientName+"/"+m.RecipientColour)
	}
	want := "text:old-otter-01/c3>/ whisper:old-heron-02/c8>old-otter-01/c3 system:/>/ react:/>/"
	if strings.Join(got, " ") != want {
		t.Errorf("after 0006 and renames the old log reads\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
}

func migrationNames(d dialect) ([]string, error) {
	entries, err := migrationFiles.ReadDir("migrations/" + d.String())
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		out = append(out, "migrations/"+d.String()+"/"+e.Name())
	}
	return out, nil
}
