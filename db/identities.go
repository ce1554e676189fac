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
	if _, err := tx.ExecContext(ctx, tx.Rebind("INSERT INTO sessions (token_hash, identity_id, created_at) VALUES (?, ?, ?)"),
		tokenHash, id.ID, id.CreatedAt); err != nil {
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
	err := s.read.GetContext(ctx, &id, s.read.Rebind(`SELECT i.id, i.nickname, i.colour, i.created_at
		FROM sessions s JOIN identities i ON i.id = s.identity_id WHERE s.token_hash = ?`), tokenHash)
	if errors.Is(err, sql.ErrNoRows) {
		return Identity{}, ErrNotFound
	}
	if err != nil {
		return Identity{}, fmt.Errorf("db: identity by session: %w", err)
	}
	return id, nil
}

// IdentityByID returns one identity, or ErrNotFound.
func (s *Store) IdentityByID(ctx context.Context, id int64) (Identity, error) {
	var out Identity
	err := s.read.GetContext(ctx, &out, s.read.Rebind("SELECT id, nickname, colour, created_at FROM identities WHERE id = ?"), id)
	if errors.Is(err, sql.ErrNoRows) {
		return Identity{}, ErrNotFound
	}
	if err != nil {
		return Identity{}, fmt.Errorf("db: identity by id: %w", err)
	}
	return out, nil
}
