package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// GIF describes a stored, validated GIF. Data is its bytes, which only a store that
// KeepsGIFBytes writes (and GIFData reads); on SQLite the file on disk is the only copy.
type GIF struct {
	SHA256    string `db:"sha256"`
	Width     int    `db:"width"`
	Height    int    `db:"height"`
	Frames    int    `db:"frames"`
	Bytes     int64  `db:"bytes"`
	CreatedAt int64  `db:"created_at"`
	Data      []byte `db:"-"`
}

// KeepsGIFBytes reports whether GIF bytes live in the database (PostgreSQL: every instance
// serves every GIF, disk is a cache) rather than only in files next to it (SQLite).
func (s *Store) KeepsGIFBytes() bool { return s.dialect == postgres }

// SaveGIF records a GIF, with its bytes where the store keeps them; the same content twice is
// one row.
func (s *Store) SaveGIF(ctx context.Context, g GIF) error {
	q := `INSERT INTO gifs (sha256, width, height, frames, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (sha256) DO NOTHING`
	args := []any{g.SHA256, g.Width, g.Height, g.Frames, g.Bytes, now()}
	if s.KeepsGIFBytes() {
		if int64(len(g.Data)) != g.Bytes {
			return fmt.Errorf("db: save gif %s: %d bytes given, %d described", g.SHA256, len(g.Data), g.Bytes)
		}
		q = `INSERT INTO gifs (sha256, width, height, frames, bytes, created_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (sha256) DO NOTHING`
		args = append(args, g.Data)
	}
	if _, err := s.write.ExecContext(ctx, s.write.Rebind(q), args...); err != nil {
		return fmt.Errorf("db: save gif: %w", err)
	}
	return nil
}

// GIFData returns a stored GIF's bytes, or ErrNotFound (also from a store that does not keep
// them).
func (s *Store) GIFData(ctx context.Context, sha string) ([]byte, error) {
	if !s.KeepsGIFBytes() {
		return nil, ErrNotFound
	}
	var data []byte
	err := s.read.GetContext(ctx, &data, s.read.Rebind("SELECT data FROM gifs WHERE sha256 = ?"), sha)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("db: gif data: %w", err)
	}
	return data, nil
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

// GIFUsage is how many GIF bytes are kept: those a room's messages use (each GIF once) and
// all stored GIFs, and whether one given GIF is already used in the room or stored at all
// (posting it again then adds nothing there).
type GIFUsage struct {
	RoomBytes  int64 `db:"room_bytes"`
	TotalBytes int64 `db:"total_bytes"`
	InRoom     bool  `db:"in_room"`
	Stored     bool  `db:"stored"`
}

// GIFUsage returns the GIF bytes kept for a room and in all, for the upload quotas, with
// whether the GIF named sha is already in the room or stored.
func (s *Store) GIFUsage(ctx context.Context, roomID, sha string) (GIFUsage, error) {
	var u GIFUsage
	// SUM of a BIGINT is NUMERIC on PostgreSQL: cast back so both databases return an integer.
	err := s.read.GetContext(ctx, &u, s.read.Rebind(`SELECT
		CAST(COALESCE((SELECT SUM(g.bytes) FROM gifs g WHERE g.sha256 IN
			(SELECT m.gif_sha256 FROM messages m WHERE m.room_id = ? AND m.gif_sha256 IS NOT NULL)), 0) AS BIGINT) AS room_bytes,
		CAST(COALESCE((SELECT SUM(g.bytes) FROM gifs g), 0) AS BIGINT) AS total_bytes,
		EXISTS (SELECT 1 FROM messages m WHERE m.room_id = ? AND m.gif_sha256 = ?) AS in_room,
		EXISTS (SELECT 1 FROM gifs g WHERE g.sha256 = ?) AS stored`), roomID, roomID, sha, sha)
	if err != nil {
		return GIFUsage{}, fmt.Errorf("db: gif usage: %w", err)
	}
	return u, nil
}
