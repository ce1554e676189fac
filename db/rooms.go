package db

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/jmoiron/sqlx"

	"gifchat/vocab"
)

// Room is a chat room. PasswordHash is empty for a public room.
type Room struct {
	ID           string `db:"id"`
	Title        string `db:"title"`
	Capacity     int    `db:"capacity"`
	PasswordHash string `db:"password_hash"`
	OwnerID      int64  `db:"owner_id"`
	OwnerName    string `db:"owner_name"`
	OwnerColour  string `db:"owner_colour"`
	CreatedAt    int64  `db:"created_at"`
	Locked       bool   `db:"locked"`
}

// Private reports whether the room needs a password.
func (r Room) Private() bool { return r.PasswordHash != "" }

const roomColumns = `r.id, r.title, r.capacity, COALESCE(r.password_hash, '') AS password_hash, r.owner_id,
	i.nickname AS owner_name, i.colour AS owner_colour, r.created_at, r.locked`

// CreateRoom stores a new room; the caller chooses the id and hashes the password.
func (s *Store) CreateRoom(ctx context.Context, r Room) (Room, error) {
	r.CreatedAt = now()
	var hash any
	if r.PasswordHash != "" {
		hash = r.PasswordHash
	}
	if _, err := s.write.ExecContext(ctx, s.write.Rebind(`INSERT INTO rooms (id, title, capacity, password_hash, owner_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`), r.ID, r.Title, r.Capacity, hash, r.OwnerID, r.CreatedAt); err != nil {
		return Room{}, fmt.Errorf("db: create room: %w", err)
	}
	return s.roomByID(ctx, s.write, r.ID)
}

// RoomByID returns a room, or ErrNotFound.
func (s *Store) RoomByID(ctx context.Context, id string) (Room, error) {
	return s.roomByID(ctx, s.read, id)
}

func (s *Store) roomByID(ctx context.Context, q *sqlx.DB, id string) (Room, error) {
	var r Room
	err := q.GetContext(ctx, &r, q.Rebind("SELECT "+roomColumns+" FROM rooms r JOIN identities i ON i.id = r.owner_id WHERE r.id = ?"), id)
	if errors.Is(err, sql.ErrNoRows) {
		return Room{}, ErrNotFound
	}
	if err != nil {
		return Room{}, fmt.Errorf("db: room by id: %w", err)
	}
	return r, nil
}

// ListRooms returns every room, newest first.
func (s *Store) ListRooms(ctx context.Context) ([]Room, error) {
	var rooms []Room
	if err := s.read.SelectContext(ctx, &rooms, "SELECT "+roomColumns+" FROM rooms r JOIN identities i ON i.id = r.owner_id ORDER BY r.created_at DESC, r.id"); err != nil {
		return nil, fmt.Errorf("db: list rooms: %w", err)
	}
	return rooms, nil
}

// CountRoomsOwnedBy counts the rooms one identity owns now (the rooms-per-person limit).
func (s *Store) CountRoomsOwnedBy(ctx context.Context, ownerID int64) (int, error) {
	var n int
	if err := s.read.GetContext(ctx, &n, s.read.Rebind("SELECT COUNT(*) FROM rooms WHERE owner_id = ?"), ownerID); err != nil {
		return 0, fmt.Errorf("db: count rooms: %w", err)
	}
	return n, nil
}

// SetRoomOwner hands a room to another identity.
func (s *Store) SetRoomOwner(ctx context.Context, roomID string, ownerID int64) error {
	if _, err := s.write.ExecContext(ctx, s.write.Rebind("UPDATE rooms SET owner_id = ? WHERE id = ?"), ownerID, roomID); err != nil {
		return fmt.Errorf("db: set room owner: %w", err)
	}
	return nil
}

// DeleteRoom removes a room with its messages, entries and bars (by cascade) and returns the
// GIFs that no message references any more, which the caller deletes from disk and then
// forgets with ForgetGIFs. Rows go first: a crash after this leaves an unused file, never a
// message pointing at a missing one. It is one transaction: all of the room's rows go, or
// (an error, a cancelled ctx) none. A caller that has already let go of the room in memory
// passes a context that outlives its request (realtime's Hub.remove does).
func (s *Store) DeleteRoom(ctx context.Context, roomID string) (orphanGIFs []string, err error) {
	tx, err := s.write.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("db: delete room: begin: %w", err)
	}
	defer tx.Rollback()
	if orphanGIFs, err = deleteRoomTx(ctx, tx, roomID); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("db: delete room: commit: %w", err)
	}
	return orphanGIFs, nil
}

// deleteRoomTx is DeleteRoom's work inside a transaction of the caller's.
func deleteRoomTx(ctx context.Context, tx *sqlx.Tx, roomID string) (orphanGIFs []string, err error) {
	var used []string
	if err := tx.SelectContext(ctx, &used, tx.Rebind("SELECT DISTINCT gif_sha256 FROM messages WHERE room_id = ? AND gif_sha256 IS NOT NULL"), roomID); err != nil {
		return nil, fmt.Errorf("db: delete room: gifs: %w", err)
	}
	res, err := tx.ExecContext(ctx, tx.Rebind("DELETE FROM rooms WHERE id = ?"), roomID)
	if err != nil {
		return nil, fmt.Errorf("db: delete room: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, ErrNotFound
	}
	for _, sha := range used {
		var n int
		if err := tx.GetContext(ctx, &n, tx.Rebind("SELECT COUNT(*) FROM messages WHERE gif_sha256 = ?"), sha); err != nil {
			return nil, fmt.Errorf("db: delete room: gif refs: %w", err)
		}
		if n == 0 {
			orphanGIFs = append(orphanGIFs, sha)
		}
	}
	return orphanGIFs, nil
}

// AddRoomEntry records that an identity gave a private room's password.
func (s *Store) AddRoomEntry(ctx context.Context, roomID string, identityID int64) error {
	if _, err := s.write.ExecContext(ctx, s.write.Rebind(`INSERT INTO room_entries (room_id, identity_id, created_at) VALUES (?, ?, ?)
		ON CONFLICT (room_id, identity_id) DO NOTHING`), roomID, identityID, now()); err != nil {
		return fmt.Errorf("db: add room entry: %w", err)
	}
	return nil
}

// HasRoomEntry reports whether an identity gave a private room's password.
func (s *Store) HasRoomEntry(ctx context.Context, roomID string, identityID int64) (bool, error) {
	var n int
	if err := s.read.GetContext(ctx, &n, s.read.Rebind("SELECT COUNT(*) FROM room_entries WHERE room_id = ? AND identity_id = ?"), roomID, identityID); err != nil {
		return false, fmt.Errorf("db: has room entry: %w", err)
	}
	return n > 0, nil
}

// BarFromRoom keeps an identity out of a room until the given Unix millisecond.
func (s *Store) BarFromRoom(ctx context.Context, roomID string, identityID, untilMillis int64) error {
	if _, err := s.write.ExecContext(ctx, s.write.Rebind(`INSERT INTO room_bars (room_id, identity_id, until) VALUES (?, ?, ?)
		ON CONFLICT (room_id, identity_id) DO UPDATE SET until = excluded.until`), roomID, identityID, untilMillis); err != nil {
		return fmt.Errorf("db: bar from room: %w", err)
	}
	return nil
}

// BarredUntil returns the Unix millisecond until which an identity is kept out of a room, or 0.
func (s *Store) BarredUntil(ctx context.Context, roomID string, identityID int64) (int64, error) {
	var until int64
	err := s.read.GetContext(ctx, &until, s.read.Rebind("SELECT until FROM room_bars WHERE room_id = ? AND identity_id = ?"), roomID, identityID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("db: barred until: %w", err)
	}
	return until, nil
}

// BanUntil is the bar of a ban: until the room closes.
const BanUntil = int64(1<<63 - 1)

// BarAddresses keeps client addresses (as the caller keys them: an IPv4 address, an IPv6
// /64) out of a room until the given Unix millisecond, on behalf of the identity barred with
// them (so an unban lifts both).
func (s *Store) BarAddresses(ctx context.Context, roomID string, identityID int64, addresses []string, untilMillis int64) error {
	for _, a := range addresses {
		if _, err := s.write.ExecContext(ctx, s.write.Rebind(`INSERT INTO room_address_bars (room_id, address, identity_id, until)
			VALUES (?, ?, ?, ?) ON CONFLICT (room_id, address) DO UPDATE SET identity_id = excluded.identity_id, until = excluded.until`),
			roomID, a, nullID(identityID), untilMillis); err != nil {
			return fmt.Errorf("db: bar address: %w", err)
		}
	}
	return nil
}

// AddressBarredUntil returns the Unix millisecond until which an address is kept out of a
// room, or 0.
func (s *Store) AddressBarredUntil(ctx context.Context, roomID, address string) (int64, error) {
	var until int64
	err := s.read.GetContext(ctx, &until, s.read.Rebind("SELECT until FROM room_address_bars WHERE room_id = ? AND address = ?"), roomID, address)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("db: address barred until: %w", err)
	}
	return until, nil
}

// Bans lists the people banned from a room, in the order they were banned.
func (s *Store) Bans(ctx context.Context, roomID string) ([]Identity, error) {
	var out []Identity
	if err := s.read.SelectContext(ctx, &out, s.read.Rebind(`SELECT i.id, i.nickname, i.colour, i.created_at
		FROM room_bars b JOIN identities i ON i.id = b.identity_id WHERE b.room_id = ? AND b.until = ? ORDER BY i.nickname, i.id`),
		roomID, BanUntil); err != nil {
		return nil, fmt.Errorf("db: bans: %w", err)
	}
	return out, nil
}

// Unban lifts a person's bar (a ban or a kick's) and the address bars that came with it.
func (s *Store) Unban(ctx context.Context, roomID string, identityID int64) error {
	tx, err := s.write.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: unban: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, tx.Rebind("DELETE FROM room_bars WHERE room_id = ? AND identity_id = ?"), roomID, identityID); err != nil {
		return fmt.Errorf("db: unban: %w", err)
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind("DELETE FROM room_address_bars WHERE room_id = ? AND identity_id = ?"), roomID, identityID); err != nil {
		return fmt.Errorf("db: unban: %w", err)
	}
	return tx.Commit()
}

// SetRoomLocked locks a room (nobody new may enter) or unlocks it.
func (s *Store) SetRoomLocked(ctx context.Context, roomID string, locked bool) error {
	if _, err := s.write.ExecContext(ctx, s.write.Rebind("UPDATE rooms SET locked = ? WHERE id = ?"), locked, roomID); err != nil {
		return fmt.Errorf("db: lock room: %w", err)
	}
	return nil
}

// SetRoomPassword sets a room's password hash ("" makes it public) and forgets who entered
// the old one: they must give the new one to come back.
func (s *Store) SetRoomPassword(ctx context.Context, roomID, hash string) error {
	tx, err := s.write.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: set room password: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, tx.Rebind("UPDATE rooms SET password_hash = ? WHERE id = ?"), nullString(hash), roomID); err != nil {
		return fmt.Errorf("db: set room password: %w", err)
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind("DELETE FROM room_entries WHERE room_id = ?"), roomID); err != nil {
		return fmt.Errorf("db: set room password: %w", err)
	}
	return tx.Commit()
}

// Present is someone a room's log shows in the room: their last joined, left or kicked
// notice there is a joined one. JoinSeq is that notice's place in the log (join order).
type Present struct {
	Identity
	JoinSeq int64
}

// PresentByLog returns, per room, the people the log shows present, in join order: who was
// in each room when the server last stopped, cleanly or not (what a crash lost from the
// group commit was not announced either). A person whose identity is gone is not listed.
func (s *Store) PresentByLog(ctx context.Context) (map[string][]Present, error) {
	// The notices that say whether someone is in a room, for a messages row aliased a.
	presenceNotice := func(a string) string {
		return a + ".kind = '" + vocab.KindNotice + "' AND " + a + ".notice IN ('" +
			vocab.NoticeJoined + "', '" + vocab.NoticeLeft + "', '" + vocab.NoticeKicked + "')"
	}
	rows, err := s.read.QueryxContext(ctx, `
		SELECT m.room_id, m.seq, i.id, i.nickname, i.colour, i.created_at, i.name_chosen
		FROM messages m JOIN identities i ON i.id = m.subject_id
		WHERE `+presenceNotice("m")+` AND m.notice = '`+vocab.NoticeJoined+`'
		  AND NOT EXISTS (SELECT 1 FROM messages l
		                  WHERE l.room_id = m.room_id AND l.subject_id = m.subject_id AND l.seq > m.seq
		                    AND `+presenceNotice("l")+`)
		ORDER BY m.room_id, m.subject_id, m.seq`) // the index's order: SQLite then reads only the index
	if err != nil {
		return nil, fmt.Errorf("db: present by log: %w", err)
	}
	defer rows.Close()
	out := map[string][]Present{}
	for rows.Next() {
		var room string
		var p Present
		if err := rows.Scan(&room, &p.JoinSeq, &p.ID, &p.Nickname, &p.Colour, &p.CreatedAt, &p.NameChosen); err != nil {
			return nil, fmt.Errorf("db: present by log: %w", err)
		}
		out[room] = append(out[room], p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: present by log: %w", err)
	}
	for _, people := range out {
		slices.SortFunc(people, func(a, b Present) int { return cmp.Compare(a.JoinSeq, b.JoinSeq) })
	}
	return out, nil
}
