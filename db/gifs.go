package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// GIF describes a stored, validated GIF file.
type GIF struct {
	SHA256    string `db:"sha256"`
	Width     int    `db:"width"`
	Height    int    `db:"height"`
	Frames    int    `db:"frames"`
	Bytes     int64  `db:"bytes"`
	CreatedAt int64  `db:"created_at"`
}

// SaveGIF records a GIF whose file is already on disk; the same content twice is one row.
func (s *Store) SaveGIF(ctx context.Context, g GIF) error {
	if _, err := s.write.ExecContext(ctx, s.write.Rebind(`INSERT INTO gifs (sha256, width, height, frames, bytes, created_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING`), g.SHA256, g.Width, g.Height, g.Frames, g.Bytes, now()); err != nil {
		return fmt.Errorf("db: save gif: %w", err)
	}
	return nil
}

// GIFByHash returns a stored GIF, or ErrNotFound.
func (s *Store) GIFByHash(ctx context.Context, sha string) (GIF, error) {
	var g GIF
	err := s.read.GetContext(ctx, &g, s.read.Rebind("SELECT sha256, width, height, frames, bytes, created_at FROM gifs WHERE sha256 = ?"), sha)
	if errors.Is(err, sql.ErrNoRows) {
		return GIF{}, ErrNotFound
	}
	if err != nil {
		return GIF{}, fmt.Errorf("db: gif by hash: %w", err)
	}
	return g, nil
}

// UnreferencedGIFs lists GIF rows no message uses (left over from a failed post or a deleted room).
func (s *Store) UnreferencedGIFs(ctx context.Context) ([]string, error) {
	var out []string
	if err := s.read.SelectContext(ctx, &out, `SELECT g.sha256 FROM gifs g
		WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.gif_sha256 = g.sha256)`); err != nil {
		return nil, fmt.Errorf("db: unreferenced gifs: %w", err)
	}
	return out, nil
}

// ForgetGIF deletes a GIF row if no message references it, and reports whether it did; the
// caller deletes the file only then, so a GIF re-used meanwhile keeps its file.
func (s *Store) ForgetGIF(ctx context.Context, sha string) (bool, error) {
	res, err := s.write.ExecContext(ctx, s.write.Rebind(`DELETE FROM gifs WHERE sha256 = ?
		AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.gif_sha256 = ?)`), sha, sha)
	if err != nil {
		return false, fmt.Errorf("db: forget gif: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}
