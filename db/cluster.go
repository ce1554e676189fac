package db

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Several instances on one PostgreSQL database (migration 0007_cluster.sql): the instances'
// leases, the empty-room reaper, and the reads a hub fills gaps with. Who is present is in
// presence.go. Every decision about a room is one transaction under its row lock, the lock
// that also orders the room's seqs, so a join, a kick or a leave and its notice commit
// together.

// ErrNotClustered is returned by the shared-presence methods on SQLite: a file on one
// machine cannot be shared by instances.
var ErrNotClustered = errors.New("db: shared presence needs PostgreSQL")

// ErrLeaseLost is RenewLease's answer when the instance's row is gone: another instance took
// it for dead and reaped its connections. The instance must stop serving its sockets.
var ErrLeaseLost = errors.New("db: this instance's lease was reaped")

// dbNowMillis is the database's clock, the one every instance shares.
const dbNowMillis = "(extract(epoch from clock_timestamp()) * 1000)::bigint"

func (s *Store) clustered() error {
	if s.dialect != postgres {
		return ErrNotClustered
	}
	return nil
}

// StartInstance registers a running instance under its stable name and returns the id of
// this incarnation. Rows of an earlier incarnation of the same name (a restart after a crash)
// go at once, with their connections, and the people they held are marked gone (see
// markGone for hold), so their leaves are announced unless they come back.
func (s *Store) StartInstance(ctx context.Context, name string, lease, hold time.Duration) (string, error) {
	if err := s.clustered(); err != nil {
		return "", err
	}
	var b [8]byte
	rand.Read(b[:])
	id := name + "#" + hex.EncodeToString(b[:])
	err := s.inTx(ctx, "start instance", func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM instances WHERE name = $1", name); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO instances (id, name, started_at, lease_until)
			VALUES ($1, $2, `+dbNowMillis+`, `+dbNowMillis+` + $3)`, id, name, lease.Milliseconds()); err != nil {
			return err
		}
		return markGone(ctx, tx, hold)
	})
	return id, err
}

// RenewLease keeps an instance alive for lease from now; ErrLeaseLost if it was reaped.
func (s *Store) RenewLease(ctx context.Context, instance string, lease time.Duration) error {
	res, err := s.write.ExecContext(ctx, "UPDATE instances SET lease_until = "+dbNowMillis+" + $2 WHERE id = $1", instance, lease.Milliseconds())
	if err != nil {
		return fmt.Errorf("db: renew lease: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrLeaseLost
	}
	return nil
}

// StopInstance removes a stopping instance's row and connections; the people it held are
// marked gone (see markGone for hold): they reconnect elsewhere in time, or leave.
func (s *Store) StopInstance(ctx context.Context, instance string, hold time.Duration) error {
	return s.inTx(ctx, "stop instance", func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM instances WHERE id = $1", instance); err != nil {
			return err
		}
		return markGone(ctx, tx, hold)
	})
}

// ReapInstances removes the instances whose lease ran out (a kill -9, a lost machine) with
// their connections, marks the people they held gone, and returns the ids reaped. Their
// debounce starts now, with no hold: the lease has already given them time to reconnect
// elsewhere, and the dead instance's people should leave within about the lease.
func (s *Store) ReapInstances(ctx context.Context) ([]string, error) {
	var reaped []string
	err := s.inTx(ctx, "reap instances", func(tx *sqlx.Tx) error {
		if err := tx.SelectContext(ctx, &reaped, "DELETE FROM instances WHERE lease_until < "+dbNowMillis+" RETURNING id"); err != nil {
			return err
		}
		if len(reaped) == 0 {
			return nil
		}
		return markGone(ctx, tx, 0)
	})
	return reaped, err
}

// markGone starts the leave debounce of everyone present with no connection left, hold from
// now: their instance went away, which closed their sockets all at once, and a crowd coming
// back with its browsers' back-off takes longer than one person's refresh.
func markGone(ctx context.Context, tx *sqlx.Tx, hold time.Duration) error {
	_, err := tx.ExecContext(ctx, `UPDATE room_people AS p SET gone_since = `+dbNowMillis+` + $1
		WHERE p.gone_since IS NULL AND NOT EXISTS (
			SELECT 1 FROM connections AS c WHERE c.room_id = p.room_id AND c.identity_id = p.identity_id)`, hold.Milliseconds())
	return err
}

// ReapEmptyRooms removes the rooms that have been empty for longer than grace, each in one
// transaction under its lock (so a join racing the removal either wins, and the room stays,
// or finds it gone), and returns them with the GIFs no message references any more.
func (s *Store) ReapEmptyRooms(ctx context.Context, grace time.Duration) (removed []string, orphanGIFs []string, err error) {
	if err := s.clustered(); err != nil {
		return nil, nil, err
	}
	var candidates []string
	// A room nobody has entered (or left from before every instance restarted) has no
	// empty_since: its age counts instead, as one process counts from its creation.
	if err := s.read.SelectContext(ctx, &candidates, `SELECT r.id FROM rooms AS r
		WHERE COALESCE(r.empty_since, r.created_at) <= `+dbNowMillis+` - $1
		AND NOT EXISTS (SELECT 1 FROM room_people AS p WHERE p.room_id = r.id) ORDER BY r.id`,
		grace.Milliseconds()); err != nil {
		return nil, nil, fmt.Errorf("db: reap empty rooms: %w", err)
	}
	for _, room := range candidates {
		err := s.inTx(ctx, "reap empty room", func(tx *sqlx.Tx) error {
			// The room's row is locked first, as a join locks it: the join either committed
			// (empty_since is cleared, someone is present) or waits and then finds no room.
			var id string
			err := tx.GetContext(ctx, &id, "SELECT id FROM rooms WHERE id = $1 AND COALESCE(empty_since, created_at) <= "+dbNowMillis+" - $2 FOR UPDATE",
				room, grace.Milliseconds())
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			var present int
			if err := tx.GetContext(ctx, &present, "SELECT COUNT(*) FROM room_people WHERE room_id = $1", room); err != nil {
				return err
			}
			if present > 0 {
				return nil
			}
			orphans, err := deleteRoomTx(ctx, tx, room)
			if err != nil {
				return err
			}
			removed = append(removed, room)
			orphanGIFs = append(orphanGIFs, orphans...)
			return nil
		})
		if err != nil {
			return removed, orphanGIFs, err
		}
	}
	return removed, orphanGIFs, nil
}

// inTx runs fn in a transaction and commits it, naming what failed.
func (s *Store) inTx(ctx context.Context, what string, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.write.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: %s: begin: %w", what, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		var barred *BarredError
		if errors.Is(err, ErrRoomGone) || errors.Is(err, ErrFull) || errors.Is(err, ErrLocked) || errors.Is(err, ErrNeedsPassword) ||
			errors.Is(err, ErrNotFound) || errors.As(err, &barred) {
			return err
		}
		return fmt.Errorf("db: %s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("db: %s: commit: %w", what, err)
	}
	return nil
}

// EntriesBetween returns a room's log entries with after < seq <= upto in order: every kind,
// whispers and events included, for a hub that delivers each to whoever may see it (a hub
// filling a gap in what the broker brought).
func (s *Store) EntriesBetween(ctx context.Context, room string, after, upto int64) ([]Message, error) {
	var out []Message
	if err := s.read.SelectContext(ctx, &out, s.read.Rebind(messageSelect+" WHERE m.room_id = ? AND m.seq > ? AND m.seq <= ? ORDER BY m.seq"),
		room, after, upto); err != nil {
		return nil, fmt.Errorf("db: entries between: %w", err)
	}
	return out, s.attachReactions(ctx, room, out)
}

// LastSeqs returns every room's latest seq, in one read (the cluster's tail check).
func (s *Store) LastSeqs(ctx context.Context) (map[string]int64, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT id, last_seq FROM rooms")
	if err != nil {
		return nil, fmt.Errorf("db: last seqs: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			return nil, fmt.Errorf("db: last seqs: %w", err)
		}
		out[id] = seq
	}
	return out, rows.Err()
}

// RoomLastSeq returns the seq of a room's latest entry (0 for an empty log).
func (s *Store) RoomLastSeq(ctx context.Context, room string) (int64, error) {
	var seq int64
	err := s.read.GetContext(ctx, &seq, s.read.Rebind("SELECT last_seq FROM rooms WHERE id = ?"), room)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrRoomGone
	}
	if err != nil {
		return 0, fmt.Errorf("db: room last seq: %w", err)
	}
	return seq, nil
}
