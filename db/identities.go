package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Identity is an anonymous person: a generated nickname and colour behind a session cookie.
type Identity struct {
	ID        int64  `db:"id"`
	Nickname  string `db:"nickname"`
	Colour    string `db:"colour"`
	CreatedAt int64  `db:"created_at"`
	// NameChosen is set once the person chose their nickname (RenameIdentity): read with the
	// session, for the rule that a chosen name may not meet someone present by that name.
	NameChosen bool `db:"name_chosen"`
}

// CreateIdentitySession stores a new identity and binds the session token hash to it, in one
// transaction, so there is never an identity without a session or the reverse.
func (s *Store) CreateIdentitySession(ctx context.Context, tokenHash, nickname, colour string) (Identity, error) {
	id := Identity{Nickname: nickname, Colour: colour, CreatedAt: now()}
	tx, err := s.write.BeginTxx(ctx, nil)
	if err != nil {
		return Identity{}, fmt.Errorf("db: create identity: begin: %w", err)
	}
	defer tx.Rollback()
	if err := tx.GetContext(ctx, &id.ID, tx.Rebind("INSERT INTO identities (nickname, colour, created_at) VALUES (?, ?, ?) RETURNING id"),
		id.Nickname, id.Colour, id.CreatedAt); err != nil {
		return Identity{}, fmt.Errorf("db: create identity: %w", err)
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind("INSERT INTO sessions (token_hash, identity_id, created_at, last_seen) VALUES (?, ?, ?, ?)"),
		tokenHash, id.ID, id.CreatedAt, id.CreatedAt); err != nil {
		return Identity{}, fmt.Errorf("db: create session: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return Identity{}, fmt.Errorf("db: create identity: commit: %w", err)
	}
	return id, nil
}

// IdentityBySession returns the identity a session token hash belongs to, or ErrNotFound.
func (s *Store) IdentityBySession(ctx context.Context, tokenHash string) (Identity, error) {
	var id Identity
	err := s.read.GetContext(ctx, &id, s.read.Rebind(`SELECT i.id, i.nickname, i.colour, i.created_at, i.name_chosen
		FROM sessions s JOIN identities i ON i.id = s.identity_id WHERE s.token_hash = ?`), tokenHash)
	if errors.Is(err, sql.ErrNoRows) {
		return Identity{}, ErrNotFound
	}
	if err != nil {
		return Identity{}, fmt.Errorf("db: identity by session: %w", err)
	}
	return id, nil
}

// Session is a session's identity and when the session was last used (Unix milliseconds;
// the caller refreshes it with TouchSession, at most every so often).
type Session struct {
	Identity
	LastSeen int64 `db:"last_seen"`
}

// SessionByToken returns the session a token hash names, or ErrNotFound.
func (s *Store) SessionByToken(ctx context.Context, tokenHash string) (Session, error) {
	var out Session
	err := s.read.GetContext(ctx, &out, s.read.Rebind(`SELECT i.id, i.nickname, i.colour, i.created_at, i.name_chosen, s.last_seen
		FROM sessions s JOIN identities i ON i.id = s.identity_id WHERE s.token_hash = ?`), tokenHash)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrNotFound
	}
	if err != nil {
		return Session{}, fmt.Errorf("db: session by token: %w", err)
	}
	return out, nil
}

// TouchSession records that a session was used now, for DeleteIdle.
func (s *Store) TouchSession(ctx context.Context, tokenHash string) error {
	t := now()
	if _, err := s.write.ExecContext(ctx, s.write.Rebind("UPDATE sessions SET last_seen = ? WHERE token_hash = ? AND last_seen < ?"),
		t, tokenHash, t); err != nil {
		return fmt.Errorf("db: touch session: %w", err)
	}
	return nil
}

// Idle counts what DeleteIdle removed.
type Idle struct {
	Sessions, Identities int64
}

// idleBatch bounds each DELETE of the sweep: on SQLite the writer is shared with every
// room's group commit, which must not wait behind one long transaction.
const idleBatch = 500

// DeleteIdle deletes the sessions not used since before (Unix milliseconds), then the
// identities created before it that no session, room, log entry or reaction refers to any
// more, with their room entries and bars (by cascade). An identity that still owns a room,
// or whose messages, whispers or reactions are still in a room's log, is kept, sessions
// gone (its cookie names nobody now); a later sweep deletes it once the room has gone. It
// works in batches and stops early if ctx ends; what it did so far stays done.
func (s *Store) DeleteIdle(ctx context.Context, before int64) (Idle, error) {
	var out Idle
	for {
		n, err := s.deleteBatch(ctx, `DELETE FROM sessions WHERE token_hash IN
			(SELECT token_hash FROM sessions WHERE last_seen < ? LIMIT ?)`, before, idleBatch)
		out.Sessions += n
		if err != nil {
			return out, fmt.Errorf("db: delete idle sessions: %w", err)
		}
		if n < idleBatch {
			break
		}
	}
	for {
		n, err := s.deleteBatch(ctx, `DELETE FROM identities WHERE id IN (SELECT i.id FROM identities i
			WHERE i.created_at < ?
			AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.identity_id = i.id)
			AND NOT EXISTS (SELECT 1 FROM rooms r WHERE r.owner_id = i.id)
			AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.author_id = i.id)
			AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.recipient_id = i.id)
			AND NOT EXISTS (SELECT 1 FROM reactions x WHERE x.identity_id = i.id)
			LIMIT ?)`, before, idleBatch)
		out.Identities += n
		if err != nil {
			return out, fmt.Errorf("db: delete idle identities: %w", err)
		}
		if n < idleBatch {
			return out, nil
		}
	}
}

func (s *Store) deleteBatch(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := s.write.ExecContext(ctx, s.write.Rebind(q), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// IdentityByID returns one identity, or ErrNotFound.
func (s *Store) IdentityByID(ctx context.Context, id int64) (Identity, error) {
	var out Identity
	err := s.read.GetContext(ctx, &out, s.read.Rebind("SELECT id, nickname, colour, created_at, name_chosen FROM identities WHERE id = ?"), id)
	if errors.Is(err, sql.ErrNoRows) {
		return Identity{}, ErrNotFound
	}
	if err != nil {
		return Identity{}, fmt.Errorf("db: identity by id: %w", err)
	}
	return out, nil
}

// RenameIdentity gives an identity a new nickname and colour, or reports ErrNotFound. The
// messages it has sent keep the name they were sent under (stored with each), so only what
// shows people as they are now (members, reactions, room owners) changes.
func (s *Store) RenameIdentity(ctx context.Context, id int64, nickname, colour string) error {
	res, err := s.write.ExecContext(ctx, s.write.Rebind("UPDATE identities SET nickname = ?, colour = ?, name_chosen = TRUE WHERE id = ?"), nickname, colour, id)
	if err != nil {
		return fmt.Errorf("db: rename identity: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("db: rename identity: %w", err)
	} else if n == 0 {
		return ErrNotFound
	}
	return nil
}
