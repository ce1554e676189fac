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
// names (the name they had then). Author and recipient names come joined for rendering.
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
}

const messageSelect = `SELECT m.id, m.seq, m.room_id, COALESCE(m.author_id, 0) AS author_id,
	COALESCE(a.nickname, '') AS author_name, COALESCE(a.colour, '') AS author_colour,
	m.kind, m.body, COALESCE(m.gif_sha256, '') AS gif_sha256,
	COALESCE(g.width, 0) AS gif_width, COALESCE(g.height, 0) AS gif_height,
	COALESCE(m.recipient_id, 0) AS recipient_id,
	COALESCE(r.nickname, '') AS recipient_name, COALESCE(r.colour, '') AS recipient_colour,
	COALESCE(m.notice, '') AS notice, COALESCE(m.subject_id, 0) AS subject_id,
	COALESCE(m.subject_name, '') AS subject_name, m.created_at
	FROM messages m
	LEFT JOIN identities a ON a.id = m.author_id
	LEFT JOIN identities r ON r.id = m.recipient_id
	LEFT JOIN gifs g ON g.sha256 = m.gif_sha256`

// visibleTo keeps whispers to the two people they concern.
const visibleTo = `(m.kind <> '` + vocab.KindWhisper + `' OR m.author_id = ? OR m.recipient_id = ?)`

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

// insertRows inserts the numbered messages, a prepared insert each, and fills in their ids
// (from LastInsertId: a RETURNING row costs a third of the throughput here).
func (s *Store) insertRows(ctx context.Context, tx *sqlx.Tx, msgs []*Message) error {
	insert := tx.StmtxContext(ctx, s.insertMessage)
	for _, m := range msgs {
		res, err := insert.ExecContext(ctx, m.RoomID, m.Seq, nullID(m.AuthorID), m.Kind, m.Body, nullString(m.GIF),
			nullID(m.RecipientID), nullString(m.Notice), nullID(m.SubjectID), nullString(m.SubjectName), m.CreatedAt)
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
	q := messageSelect + " WHERE m.room_id = ? AND " + visibleTo
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
	return out, nil
}

// MessagesAfter returns up to limit messages with seq > afterSeq that viewer may see, oldest
// first: what a reconnecting client missed.
func (s *Store) MessagesAfter(ctx context.Context, roomID string, viewerID, afterSeq int64, limit int) ([]Message, error) {
	var out []Message
	q := messageSelect + " WHERE m.room_id = ? AND " + visibleTo + " AND m.seq > ? ORDER BY m.seq LIMIT ?"
	if err := s.read.SelectContext(ctx, &out, s.read.Rebind(q), roomID, viewerID, viewerID, afterSeq, limit); err != nil {
		return nil, fmt.Errorf("db: messages after: %w", err)
	}
	return out, nil
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
