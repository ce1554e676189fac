package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"gifchat/vocab"
)

// Message is one entry of a room's log. Seq is its place in the room's log (1, 2, 3, ...
// with no gaps), the cursor for replay and paging; ID is only the row's key. Kind is one of
// vocab's kinds. AuthorID is 0 for notices, RecipientID is 0 unless the message is a
// whisper. A notice is data: Notice is its kind, SubjectID and SubjectName the person it
// names (the name they had then); a rename notice (vocab.NoticeRenamed) has the name before
// as SubjectName and the name after as Body.
//
// The author's and the recipient's names and colours are the ones they had when the message
// was sent: stored with it and read from its row, so renaming cannot rewrite history. The
// sender fills them in; InsertMessages takes the identity's current ones for any left empty.
//
// An event (vocab's event kinds) changes the entry TargetSeq: the entry keeps its latest
// state (Body, EditedAt, Deleted) and its Reactions, which the store attaches when it reads.
type Message struct {
	ID              int64  `db:"id"`
	Seq             int64  `db:"seq"`
	RoomID          string `db:"room_id"`
	AuthorID        int64  `db:"author_id"`
	AuthorName      string `db:"author_name"`
	AuthorColour    string `db:"author_colour"`
	Kind            string `db:"kind"`
	Body            string `db:"body"`
	GIF             string `db:"gif_sha256"`
	GIFWidth        int    `db:"gif_width"`
	GIFHeight       int    `db:"gif_height"`
	RecipientID     int64  `db:"recipient_id"`
	RecipientName   string `db:"recipient_name"`
	RecipientColour string `db:"recipient_colour"`
	Notice          string `db:"notice"`
	SubjectID       int64  `db:"subject_id"`
	SubjectName     string `db:"subject_name"`
	CreatedAt       int64  `db:"created_at"`
	TargetSeq       int64  `db:"target_seq"`
	EditedAt        int64  `db:"edited_at"`
	Deleted         bool   `db:"deleted"`
	Reactions       []Reaction
}

// Reaction is one person's reaction to an entry.
type Reaction struct {
	Seq        int64  `db:"message_seq"`
	Emoji      string `db:"emoji"`
	IdentityID int64  `db:"identity_id"`
	Name       string `db:"nickname"`
}

const messageSelect = `SELECT m.id, m.seq, m.room_id, COALESCE(m.author_id, 0) AS author_id,
	COALESCE(m.author_name, '') AS author_name, COALESCE(m.author_colour, '') AS author_colour,
	m.kind, m.body, COALESCE(m.gif_sha256, '') AS gif_sha256,
	COALESCE(g.width, 0) AS gif_width, COALESCE(g.height, 0) AS gif_height,
	COALESCE(m.recipient_id, 0) AS recipient_id,
	COALESCE(m.recipient_name, '') AS recipient_name, COALESCE(m.recipient_colour, '') AS recipient_colour,
	COALESCE(m.notice, '') AS notice, COALESCE(m.subject_id, 0) AS subject_id,
	COALESCE(m.subject_name, '') AS subject_name, m.created_at,
	COALESCE(m.target_seq, 0) AS target_seq, COALESCE(m.edited_at, 0) AS edited_at, m.deleted
	FROM messages m
	LEFT JOIN gifs g ON g.sha256 = m.gif_sha256
	LEFT JOIN messages t ON t.room_id = m.room_id AND t.seq = m.target_seq`

// visibleTo keeps whispers, and the events that change them, to the two people they concern.
const visibleTo = `(COALESCE(t.kind, m.kind) <> '` + vocab.KindWhisper + `'
	OR COALESCE(t.author_id, m.author_id) = ? OR COALESCE(t.recipient_id, m.recipient_id) = ?)`

// shownEntries leaves events out of history pages: a page shows entries, in their latest state.
const shownEntries = `m.kind NOT IN ('` + vocab.KindEdit + `', '` + vocab.KindDelete + `', '` + vocab.KindReact + `')`

// ErrRoomGone is returned for messages to a room that no longer exists.
var ErrRoomGone = errors.New("db: room does not exist")

// InsertMessages stores a batch of messages, for one room or several, in one transaction and
// fills in their ids, sequence numbers and times. Each room's messages take consecutive
// numbers in the order given, from the room's row (last_seq), so a room's sequence has no
// gaps and grows in commit order. One commit per batch is what lets busy rooms persist
// thousands of messages a second on one SQLite writer.
func (s *Store) InsertMessages(ctx context.Context, msgs []*Message) (err error) {
	if len(msgs) == 0 {
		return nil
	}
	defer func() {
		if err != nil {
			for _, m := range msgs {
				m.ID, m.Seq = 0, 0
			}
		}
	}()
	if s.dialect == postgres {
		return s.insertMessagesPostgres(ctx, msgs)
	}
	tx, err := s.write.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: insert messages: begin: %w", err)
	}
	defer tx.Rollback()
	// Each room's numbers come from one update of its row. A batch is almost always one room,
	// so the rooms are counted in a small slice, not a map.
	var rooms []roomSeqs
	for _, m := range msgs {
		if i := findRoom(rooms, m.RoomID); i >= 0 {
			rooms[i].count++
		} else {
			rooms = append(rooms, roomSeqs{id: m.RoomID, count: 1})
		}
	}
	if err := s.takeSeqs(ctx, tx, rooms); err != nil {
		return err
	}
	t := now()
	for _, m := range msgs {
		r := &rooms[findRoom(rooms, m.RoomID)]
		m.CreatedAt, m.Seq = t, r.next
		r.next++
	}
	if err := s.insertRows(ctx, tx, msgs); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("db: insert messages: commit: %w", err)
	}
	return nil
}

// roomSeqs is one room's share of a batch: how many entries, and the next seq to give.
type roomSeqs struct {
	id          string
	count, next int64
}

func findRoom(rooms []roomSeqs, id string) int {
	for i := range rooms {
		if rooms[i].id == id {
			return i
		}
	}
	return -1
}

// takeSeqs reserves each room's numbers (count of them, from next) by raising its last_seq.
func (s *Store) takeSeqs(ctx context.Context, tx *sqlx.Tx, rooms []roomSeqs) error {
	take := tx.StmtxContext(ctx, s.takeSeq)
	for i := range rooms {
		var last int64
		err := take.GetContext(ctx, &last, rooms[i].count, rooms[i].id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("db: insert messages: room %s: %w", rooms[i].id, ErrRoomGone)
		}
		if err != nil {
			return fmt.Errorf("db: insert messages: take sequence: %w", err)
		}
		rooms[i].next = last - rooms[i].count + 1
	}
	return nil
}

// insertMessageSQLite stores one numbered message (insertRows' statement, prepared once). A
// name or colour the sender left empty is the identity's current one: the name it is sent
// under. COALESCE reads identities only then.
const insertMessageSQLite = `INSERT INTO messages (room_id, seq, author_id, author_name, author_colour,
	kind, body, gif_sha256, recipient_id, recipient_name, recipient_colour, notice, subject_id, subject_name, created_at)
	VALUES (?1, ?2, ?3,
		COALESCE(?4, (SELECT nickname FROM identities WHERE id = ?3)),
		COALESCE(?5, (SELECT colour FROM identities WHERE id = ?3)),
		?6, ?7, ?8, ?9,
		COALESCE(?10, (SELECT nickname FROM identities WHERE id = ?9)),
		COALESCE(?11, (SELECT colour FROM identities WHERE id = ?9)),
		?12, ?13, ?14, ?15)`

// insertRows inserts the numbered messages, a prepared insert each, and fills in their ids
// (from LastInsertId: a RETURNING row costs a third of the throughput here).
func (s *Store) insertRows(ctx context.Context, tx *sqlx.Tx, msgs []*Message) error {
	insert := tx.StmtxContext(ctx, s.insertMessage)
	for _, m := range msgs {
		res, err := insert.ExecContext(ctx, m.RoomID, m.Seq, nullID(m.AuthorID),
			nullString(m.AuthorName), nullString(m.AuthorColour), m.Kind, m.Body, nullString(m.GIF),
			nullID(m.RecipientID), nullString(m.RecipientName), nullString(m.RecipientColour),
			nullString(m.Notice), nullID(m.SubjectID), nullString(m.SubjectName), m.CreatedAt)
		if err != nil {
			return fmt.Errorf("db: insert message: %w", err)
		}
		if m.ID, err = res.LastInsertId(); err != nil {
			return fmt.Errorf("db: insert message: id: %w", err)
		}
	}
	return nil
}

// LatestMessages returns up to limit of a room's newest messages that viewer may see, oldest first.
func (s *Store) LatestMessages(ctx context.Context, roomID string, viewerID int64, limit int) ([]Message, error) {
	return s.MessagesBefore(ctx, roomID, viewerID, 0, limit)
}

// MessagesBefore returns up to limit messages with seq < beforeSeq (any when beforeSeq is 0)
// that viewer may see, oldest first: one page of history, by keyset on the (room, seq) index.
func (s *Store) MessagesBefore(ctx context.Context, roomID string, viewerID, beforeSeq int64, limit int) ([]Message, error) {
	var out []Message
	q := messageSelect + " WHERE m.room_id = ? AND " + visibleTo + " AND " + shownEntries
	args := []any{roomID, viewerID, viewerID}
	if beforeSeq > 0 {
		q += " AND m.seq < ?"
		args = append(args, beforeSeq)
	}
	q += " ORDER BY m.seq DESC LIMIT ?"
	args = append(args, limit)
	if err := s.read.SelectContext(ctx, &out, s.read.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("db: messages before: %w", err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, s.attachReactions(ctx, roomID, out)
}

// MessagesAfter returns up to limit entries and events with seq > afterSeq that viewer may
// see, oldest first: what a reconnecting client missed.
func (s *Store) MessagesAfter(ctx context.Context, roomID string, viewerID, afterSeq int64, limit int) ([]Message, error) {
	var out []Message
	q := messageSelect + " WHERE m.room_id = ? AND " + visibleTo + " AND m.seq > ? ORDER BY m.seq LIMIT ?"
	if err := s.read.SelectContext(ctx, &out, s.read.Rebind(q), roomID, viewerID, viewerID, afterSeq, limit); err != nil {
		return nil, fmt.Errorf("db: messages after: %w", err)
	}
	return out, s.attachReactions(ctx, roomID, out)
}

// MessageBySeq returns one entry of a room's log, in its latest state, or ErrNotFound.
func (s *Store) MessageBySeq(ctx context.Context, roomID string, seq int64) (Message, error) {
	var m Message
	err := s.read.GetContext(ctx, &m, s.read.Rebind(messageSelect+" WHERE m.room_id = ? AND m.seq = ?"), roomID, seq)
	if errors.Is(err, sql.ErrNoRows) {
		return Message{}, ErrNotFound
	}
	if err != nil {
		return Message{}, fmt.Errorf("db: message by seq: %w", err)
	}
	list := []Message{m}
	err = s.attachReactions(ctx, roomID, list)
	return list[0], err
}

// attachReactions fills in the reactions of the entries among msgs, oldest first.
func (s *Store) attachReactions(ctx context.Context, roomID string, msgs []Message) error {
	var seqs []int64
	at := make(map[int64]int, len(msgs))
	for i, m := range msgs {
		switch m.Kind {
		case vocab.KindText, vocab.KindGIF, vocab.KindWhisper:
			seqs = append(seqs, m.Seq)
			at[m.Seq] = i
		}
	}
	if len(seqs) == 0 {
		return nil
	}
	q, args, err := sqlx.In(`SELECT x.message_seq, x.emoji, x.identity_id, i.nickname FROM reactions x
		JOIN identities i ON i.id = x.identity_id
		WHERE x.room_id = ? AND x.message_seq IN (?) ORDER BY x.created_at, x.identity_id`, roomID, seqs)
	if err != nil {
		return fmt.Errorf("db: reactions: %w", err)
	}
	var rows []Reaction
	if err := s.read.SelectContext(ctx, &rows, s.read.Rebind(q), args...); err != nil {
		return fmt.Errorf("db: reactions: %w", err)
	}
	for _, r := range rows {
		m := &msgs[at[r.Seq]]
		m.Reactions = append(m.Reactions, r)
	}
	return nil
}

// ApplyEvent stores an event (Kind edit, delete or react; RoomID, TargetSeq, AuthorID the
// person acting; Body the emoji of a reaction) with the room's next seq, and changes its
// target in the same transaction: an edit sets the target's text (the new text is in Body,
// and is not kept in the event), a delete empties it and drops its GIF and reactions, a
// reaction is added, or taken back when it was there. It fills in ev's Seq and CreatedAt.
// The caller checks who may do what; ApplyEvent refuses only what the target's state makes
// impossible (ErrNotFound: no such entry, or deleted). A delete reports the GIF it freed, if
// no message uses it any more, for the caller to remove.
func (s *Store) ApplyEvent(ctx context.Context, ev *Message) (orphanGIF string, err error) {
	newText := ev.Body
	if ev.Kind == vocab.KindEdit {
		ev.Body = "" // the entry holds the latest text; an event never keeps an old one
	}
	tx, err := s.write.BeginTxx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("db: apply event: begin: %w", err)
	}
	defer tx.Rollback()
	var target struct {
		GIF     sql.NullString `db:"gif_sha256"`
		Deleted bool           `db:"deleted"`
	}
	if err := tx.GetContext(ctx, &target, tx.Rebind("SELECT gif_sha256, deleted FROM messages WHERE room_id = ? AND seq = ?"), ev.RoomID, ev.TargetSeq); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", ErrNotFound
		}
		return "", fmt.Errorf("db: apply event: target: %w", err)
	}
	if target.Deleted {
		return "", ErrNotFound
	}
	ev.CreatedAt = now()
	if err := tx.GetContext(ctx, &ev.Seq, tx.Rebind("UPDATE rooms SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq"), ev.RoomID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", ErrRoomGone
		}
		return "", fmt.Errorf("db: apply event: take sequence: %w", err)
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO messages (room_id, seq, author_id, kind, body, target_seq, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`), ev.RoomID, ev.Seq, nullID(ev.AuthorID), ev.Kind, ev.Body, ev.TargetSeq, ev.CreatedAt); err != nil {
		return "", fmt.Errorf("db: apply event: %w", err)
	}
	switch ev.Kind {
	case vocab.KindEdit:
		_, err = tx.ExecContext(ctx, tx.Rebind("UPDATE messages SET body = ?, edited_at = ? WHERE room_id = ? AND seq = ?"),
			newText, ev.CreatedAt, ev.RoomID, ev.TargetSeq)
	case vocab.KindDelete:
		_, err = tx.ExecContext(ctx, tx.Rebind("UPDATE messages SET body = '', gif_sha256 = NULL, deleted = ? WHERE room_id = ? AND seq = ?"),
			true, ev.RoomID, ev.TargetSeq)
		if err == nil {
			_, err = tx.ExecContext(ctx, tx.Rebind("DELETE FROM reactions WHERE room_id = ? AND message_seq = ?"), ev.RoomID, ev.TargetSeq)
		}
	case vocab.KindReact:
		var res sql.Result
		res, err = tx.ExecContext(ctx, tx.Rebind("DELETE FROM reactions WHERE room_id = ? AND message_seq = ? AND emoji = ? AND identity_id = ?"),
			ev.RoomID, ev.TargetSeq, ev.Body, ev.AuthorID)
		if err != nil {
			break
		}
		if n, _ := res.RowsAffected(); n == 0 {
			_, err = tx.ExecContext(ctx, tx.Rebind(`INSERT INTO reactions (room_id, message_seq, emoji, identity_id, created_at)
				VALUES (?, ?, ?, ?, ?)`), ev.RoomID, ev.TargetSeq, ev.Body, ev.AuthorID, ev.CreatedAt)
		}
	default:
		return "", fmt.Errorf("db: apply event: %q is not an event kind", ev.Kind)
	}
	if err != nil {
		return "", fmt.Errorf("db: apply %s: %w", ev.Kind, err)
	}
	if ev.Kind == vocab.KindDelete && target.GIF.Valid {
		var n int
		if err := tx.GetContext(ctx, &n, tx.Rebind("SELECT COUNT(*) FROM messages WHERE gif_sha256 = ?"), target.GIF.String); err != nil {
			return "", fmt.Errorf("db: apply delete: gif refs: %w", err)
		}
		if n == 0 {
			orphanGIF = target.GIF.String
		}
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("db: apply event: commit: %w", err)
	}
	return orphanGIF, nil
}

// MessageByID returns one message with its joined names (used to render a fresh row).
func (s *Store) MessageByID(ctx context.Context, id int64) (Message, error) {
	var m Message
	if err := s.read.GetContext(ctx, &m, s.read.Rebind(messageSelect+" WHERE m.id = ?"), id); err != nil {
		return Message{}, fmt.Errorf("db: message by id: %w", err)
	}
	return m, nil
}

// CountMessages counts a room's messages (tests and metrics).
func (s *Store) CountMessages(ctx context.Context, roomID string) (int, error) {
	var n int
	if err := s.read.GetContext(ctx, &n, s.read.Rebind("SELECT COUNT(*) FROM messages WHERE room_id = ?"), roomID); err != nil {
		return 0, fmt.Errorf("db: count messages: %w", err)
	}
	return n, nil
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
