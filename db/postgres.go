package db

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
)

// PostgresOptions tunes OpenPostgres. The zero value is what production uses.
type PostgresOptions struct {
	// MaxConns caps the connection pool (default 16): the group-commit writer uses one at a
	// time, page loads and replays the rest.
	MaxConns int
	// ConnectTimeout bounds the first connection (default 10s), so a wrong host stops the
	// start with a reason instead of hanging.
	ConnectTimeout time.Duration
}

// OpenPostgres connects to PostgreSQL at url (a postgres:// URL or a key=value DSN) and
// applies the migrations. A bad URL, an unreachable server and a failed migration are errors
// that name their cause.
func OpenPostgres(ctx context.Context, url string, opts PostgresOptions) (*Store, error) {
	if opts.MaxConns <= 0 {
		opts.MaxConns = 16
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password included: say only what is wrong.
		return nil, fmt.Errorf("db: the PostgreSQL URL cannot be read (want postgres://user@host:port/database or host=... dbname=...): %w", redactURLError(err))
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > opts.ConnectTimeout {
		cfg.ConnectTimeout = opts.ConnectTimeout
	}
	// sqlx maps the driver name "pgx" (not "pgx/v5") to $1 placeholders for Rebind.
	pool := sqlx.NewDb(stdlib.OpenDB(*cfg), "pgx")
	pool.SetMaxOpenConns(opts.MaxConns)
	pool.SetMaxIdleConns(opts.MaxConns)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
	defer cancel()
	if err := pool.PingContext(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("db: PostgreSQL at %s:%d (database %q) does not answer: %w", cfg.Host, cfg.Port, cfg.Database, oneLine{err})
	}
	return ready(ctx, &Store{write: pool, read: pool, dialect: postgres})
}

// oneLine is an error whose text fits one log line: pgx lists each address it tried on a
// line of its own, often the same one twice.
type oneLine struct{ err error }

func (o oneLine) Error() string {
	var parts []string
	for _, line := range strings.Split(o.err.Error(), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !slices.Contains(parts, line) {
			parts = append(parts, line)
		}
	}
	return strings.Join(parts, " ")
}

func (o oneLine) Unwrap() error { return o.err }

// redactURLError keeps pgx's reason for a URL it cannot parse without the URL itself.
func redactURLError(err error) error {
	var pe *pgconn.ParseConfigError
	if !errors.As(err, &pe) {
		return err
	}
	if cause := pe.Unwrap(); cause != nil {
		return cause
	}
	return errors.New("malformed connection string")
}

// insertBatchPostgres stores a whole batch, for any number of rooms, in one statement (so one
// round trip, and atomic without a transaction around it): each room's last_seq is raised by
// its count of messages (that row's lock orders every writer of the room; the rows are locked
// in id order first, so two instances' batches over the same rooms cannot deadlock), and its messages
// take the numbers after the old value, in the order given. A message for a room that does
// not exist gets no number, and the NOT NULL on seq fails the whole statement. A name or colour
// left empty is the identity's current one, as on SQLite (insertMessageSQLite).
const insertBatchPostgres = `WITH batch AS (
	SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[],
		$7::text[], $8::bigint[], $9::text[], $10::bigint[], $11::text[], $12::text[], $13::text[], $14::text[])
		WITH ORDINALITY AS b(room_id, author_id, kind, body, gif_sha256, recipient_id, notice,
			subject_id, subject_name, created_at, author_name, author_colour, recipient_name,
			recipient_colour, ord)
), counts AS (
	SELECT room_id, count(*) AS n FROM batch GROUP BY room_id
), locked AS MATERIALIZED (
	SELECT id FROM rooms WHERE id IN (SELECT room_id FROM counts) ORDER BY id FOR UPDATE
), taken AS (
	UPDATE rooms AS r SET last_seq = r.last_seq + c.n FROM counts AS c, locked AS l
	WHERE r.id = c.room_id AND l.id = r.id
	RETURNING r.id, r.last_seq - c.n AS base
)
INSERT INTO messages (room_id, seq, author_id, kind, body, gif_sha256, recipient_id, notice,
	subject_id, subject_name, created_at, author_name, author_colour, recipient_name, recipient_colour)
SELECT b.room_id, t.base + row_number() OVER (PARTITION BY b.room_id ORDER BY b.ord),
	b.author_id, b.kind, b.body, b.gif_sha256, b.recipient_id, b.notice, b.subject_id,
	b.subject_name, b.created_at,
	COALESCE(b.author_name, (SELECT i.nickname FROM identities AS i WHERE i.id = b.author_id)),
	COALESCE(b.author_colour, (SELECT i.colour FROM identities AS i WHERE i.id = b.author_id)),
	COALESCE(b.recipient_name, (SELECT i.nickname FROM identities AS i WHERE i.id = b.recipient_id)),
	COALESCE(b.recipient_colour, (SELECT i.colour FROM identities AS i WHERE i.id = b.recipient_id))
FROM batch AS b LEFT JOIN taken AS t ON t.id = b.room_id
ORDER BY b.ord
RETURNING id, room_id, seq`

// insertMessagesPostgres is InsertMessages on PostgreSQL (see insertBatchPostgres).
func (s *Store) insertMessagesPostgres(ctx context.Context, msgs []*Message) error {
	n := len(msgs)
	roomIDs, kinds, bodies := make([]string, n), make([]string, n), make([]string, n)
	times := make([]int64, n)
	authors, recipients, subjects := make([]*int64, n), make([]*int64, n), make([]*int64, n)
	gifs, notices, subjectNames := make([]*string, n), make([]*string, n), make([]*string, n)
	authorNames, authorColours := make([]*string, n), make([]*string, n)
	recipientNames, recipientColours := make([]*string, n), make([]*string, n)
	t := now()
	for i, m := range msgs {
		m.CreatedAt = t
		roomIDs[i], kinds[i], bodies[i], times[i] = m.RoomID, m.Kind, m.Body, m.CreatedAt
		authors[i], recipients[i], subjects[i] = optionalInt(m.AuthorID), optionalInt(m.RecipientID), optionalInt(m.SubjectID)
		gifs[i], notices[i], subjectNames[i] = optionalString(m.GIF), optionalString(m.Notice), optionalString(m.SubjectName)
		authorNames[i], authorColours[i] = optionalString(m.AuthorName), optionalString(m.AuthorColour)
		recipientNames[i], recipientColours[i] = optionalString(m.RecipientName), optionalString(m.RecipientColour)
	}
	rows, err := s.insertMessage.QueryxContext(ctx, roomIDs, authors, kinds, bodies, gifs, recipients, notices, subjects, subjectNames, times,
		authorNames, authorColours, recipientNames, recipientColours)
	if err != nil {
		return insertFailed(err)
	}
	defer rows.Close()
	// RETURNING promises no order: each room's numbers, sorted, go to its messages in order.
	type stored struct{ id, seq int64 }
	byRoom := map[string][]stored{}
	for rows.Next() {
		var room string
		var st stored
		if err := rows.Scan(&st.id, &room, &st.seq); err != nil {
			return fmt.Errorf("db: insert messages: %w", err)
		}
		byRoom[room] = append(byRoom[room], st)
	}
	if err := rows.Err(); err != nil {
		return insertFailed(err)
	}
	for _, list := range byRoom {
		slices.SortFunc(list, func(a, b stored) int { return cmp.Compare(a.seq, b.seq) })
	}
	for _, m := range msgs {
		list := byRoom[m.RoomID]
		if len(list) == 0 {
			return fmt.Errorf("db: insert messages: fewer rows came back than were sent")
		}
		m.ID, m.Seq = list[0].id, list[0].seq
		byRoom[m.RoomID] = list[1:]
	}
	return nil
}

// insertFailed names the error of a batch insert; a message that got no seq was for a room
// that does not exist.
func insertFailed(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23502" && pe.ColumnName == "seq" {
		return fmt.Errorf("db: insert messages: %w", ErrRoomGone)
	}
	return fmt.Errorf("db: insert messages: %w", err)
}

func optionalInt(v int64) *int64 {
	if v == 0 {
		return nil
	}
	return &v
}

func optionalString(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}
