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

	"gifchat/vocab"
)

// Shared presence: with several instances on one PostgreSQL database, who is in a room lives
// in the database (migration 0007_cluster.sql), and every decision about it is one
// transaction under the room's row lock, the lock that also orders the room's seqs. So the
// capacity race admits exactly the capacity across all instances, and a join, a kick or a
// leave and its notice commit together.

// ErrNotClustered is returned by the shared-presence methods on SQLite: a file on one
// machine cannot be shared by instances.
var ErrNotClustered = errors.New("db: shared presence needs PostgreSQL")

// ErrLeaseLost is RenewLease's answer when the instance's row is gone: another instance took
// it for dead and reaped its connections. The instance must stop serving its sockets.
var ErrLeaseLost = errors.New("db: this instance's lease was reaped")

// Admission refusals, decided under the room's lock.
var (
	ErrFull          = errors.New("db: room full")
	ErrLocked        = errors.New("db: room locked")
	ErrNeedsPassword = errors.New("db: room needs its password")
)

// BarredError refuses someone barred from the room until Until (Unix ms; BanUntil for a ban).
type BarredError struct{ Until int64 }

func (e *BarredError) Error() string { return "db: barred from the room" }

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
// go at once, with their connections, and the people they held are marked gone, so their
// leaves are announced after the debounce unless they come back.
func (s *Store) StartInstance(ctx context.Context, name string, lease time.Duration) (string, error) {
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
		return markGone(ctx, tx)
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
// marked gone (they reconnect elsewhere within the debounce, or leave).
func (s *Store) StopInstance(ctx context.Context, instance string) error {
	return s.inTx(ctx, "stop instance", func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM instances WHERE id = $1", instance); err != nil {
			return err
		}
		return markGone(ctx, tx)
	})
}

// ReapInstances removes the instances whose lease ran out (a kill -9, a lost machine) with
// their connections, marks the people they held gone, and returns the ids reaped.
func (s *Store) ReapInstances(ctx context.Context) ([]string, error) {
	var reaped []string
	err := s.inTx(ctx, "reap instances", func(tx *sqlx.Tx) error {
		if err := tx.SelectContext(ctx, &reaped, "DELETE FROM instances WHERE lease_until < "+dbNowMillis+" RETURNING id"); err != nil {
			return err
		}
		if len(reaped) == 0 {
			return nil
		}
		return markGone(ctx, tx)
	})
	return reaped, err
}

// markGone starts the leave debounce of everyone present with no connection left.
func markGone(ctx context.Context, tx *sqlx.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE room_people AS p SET gone_since = `+dbNowMillis+`
		WHERE p.gone_since IS NULL AND NOT EXISTS (
			SELECT 1 FROM connections AS c WHERE c.room_id = p.room_id AND c.identity_id = p.identity_id)`)
	return err
}

// Admission is one socket asking to join a room on an instance. Address is the client's
// address as bars key it ("" unknown).
type Admission struct {
	Room     string
	Identity Identity
	Address  string
	Instance string
}

// Admitted is a granted admission: the connection row to remove when the socket ends, and,
// for a newcomer, the join notice committed with it (its seq taken under the room's lock).
type Admitted struct {
	Conn     int64
	Newcomer bool
	Joined   *Message
}

// lockedRoom is what admission and the leave decisions read of a room under its lock.
type lockedRoom struct {
	Capacity     int    `db:"capacity"`
	PasswordHash string `db:"password_hash"`
	OwnerID      int64  `db:"owner_id"`
	Locked       bool   `db:"locked"`
}

func lockRoom(ctx context.Context, tx *sqlx.Tx, room string) (lockedRoom, error) {
	var r lockedRoom
	err := tx.GetContext(ctx, &r, `SELECT capacity, COALESCE(password_hash, '') AS password_hash, owner_id, locked
		FROM rooms WHERE id = $1 FOR UPDATE`, room)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrRoomGone
	}
	return r, err
}

// AdmitConnection applies the one admission rule across instances, in one transaction under
// the room's lock: someone present stays admitted; anyone else must have entered a private
// room's password (its owner need not), must not be barred (person or address), must find
// the room unlocked (its owner may enter a locked room) and needs a free place, counted in
// people across every instance. The connection row is inserted with the decision.
func (s *Store) AdmitConnection(ctx context.Context, a Admission) (Admitted, error) {
	if err := s.clustered(); err != nil {
		return Admitted{}, err
	}
	var out Admitted
	err := s.inTx(ctx, "admit", func(tx *sqlx.Tx) error {
		room, err := lockRoom(ctx, tx, a.Room)
		if err != nil {
			return err
		}
		var present int
		if err := tx.GetContext(ctx, &present, "SELECT COUNT(*) FROM room_people WHERE room_id = $1 AND identity_id = $2",
			a.Room, a.Identity.ID); err != nil {
			return err
		}
		if present == 0 {
			if err := admissible(ctx, tx, room, a); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO room_people (room_id, identity_id, joined_at) VALUES ($1, $2, `+dbNowMillis+`)`,
				a.Room, a.Identity.ID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "UPDATE rooms SET empty_since = NULL WHERE id = $1", a.Room); err != nil {
				return err
			}
			out.Newcomer = true
			if out.Joined, err = insertNoticeTx(ctx, tx, a.Room, vocab.NoticeJoined, a.Identity); err != nil {
				return err
			}
		} else if _, err := tx.ExecContext(ctx, "UPDATE room_people SET gone_since = NULL WHERE room_id = $1 AND identity_id = $2",
			a.Room, a.Identity.ID); err != nil {
			return err
		}
		return tx.GetContext(ctx, &out.Conn, `INSERT INTO connections (room_id, identity_id, instance_id) VALUES ($1, $2, $3) RETURNING id`,
			a.Room, a.Identity.ID, a.Instance)
	})
	return out, err
}

// admissible checks a newcomer against the room's entry, bars, lock and capacity.
func admissible(ctx context.Context, tx *sqlx.Tx, room lockedRoom, a Admission) error {
	if room.PasswordHash != "" && room.OwnerID != a.Identity.ID {
		var entered int
		if err := tx.GetContext(ctx, &entered, "SELECT COUNT(*) FROM room_entries WHERE room_id = $1 AND identity_id = $2",
			a.Room, a.Identity.ID); err != nil {
			return err
		}
		if entered == 0 {
			return ErrNeedsPassword
		}
	}
	var until int64
	if err := tx.GetContext(ctx, &until, `SELECT GREATEST(
			COALESCE((SELECT until FROM room_bars WHERE room_id = $1 AND identity_id = $2), 0),
			COALESCE((SELECT until FROM room_address_bars WHERE room_id = $1 AND address = $3 AND $3 <> ''), 0))`,
		a.Room, a.Identity.ID, a.Address); err != nil {
		return err
	}
	if until == BanUntil || until > time.Now().UnixMilli() {
		return &BarredError{Until: until}
	}
	if room.Locked && room.OwnerID != a.Identity.ID {
		return ErrLocked
	}
	var people int
	if err := tx.GetContext(ctx, &people, "SELECT COUNT(*) FROM room_people WHERE room_id = $1", a.Room); err != nil {
		return err
	}
	if people >= room.Capacity {
		return ErrFull
	}
	return nil
}

// insertNoticeTx stores a notice about subject as the room's next entry; the room's row must
// be locked by the transaction (lockRoom), which its seq update would take anyway.
func insertNoticeTx(ctx context.Context, tx *sqlx.Tx, room, notice string, subject Identity) (*Message, error) {
	m := &Message{RoomID: room, Kind: vocab.KindNotice, Notice: notice, SubjectID: subject.ID, SubjectName: subject.Nickname, CreatedAt: now()}
	if err := tx.GetContext(ctx, &m.Seq, "UPDATE rooms SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq", room); err != nil {
		return nil, err
	}
	err := tx.GetContext(ctx, &m.ID, `INSERT INTO messages (room_id, seq, kind, body, notice, subject_id, subject_name, created_at)
		VALUES ($1, $2, $3, '', $4, $5, $6, $7) RETURNING id`, room, m.Seq, m.Kind, m.Notice, m.SubjectID, m.SubjectName, m.CreatedAt)
	return m, err
}

// Disconnect removes a socket's connection row. If it was the person's last, on every
// instance, their leave debounce starts; the leave itself is SettleDepartures' decision.
func (s *Store) Disconnect(ctx context.Context, conn int64) error {
	return s.inTx(ctx, "disconnect", func(tx *sqlx.Tx) error {
		var who struct {
			Room     string `db:"room_id"`
			Identity int64  `db:"identity_id"`
		}
		err := tx.GetContext(ctx, &who, "SELECT room_id, identity_id FROM connections WHERE id = $1", conn)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // reaped, kicked or removed with its room already
		}
		if err != nil {
			return err
		}
		// The person's row is locked first, as AdmitConnection updates it: a reconnect on
		// another instance and this leave cannot both believe the other has not happened.
		var locked int
		if err := tx.GetContext(ctx, &locked, "SELECT 1 FROM room_people WHERE room_id = $1 AND identity_id = $2 FOR UPDATE",
			who.Room, who.Identity); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM connections WHERE id = $1", conn); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE room_people SET gone_since = `+dbNowMillis+`
			WHERE room_id = $1 AND identity_id = $2 AND gone_since IS NULL
			AND NOT EXISTS (SELECT 1 FROM connections WHERE room_id = $1 AND identity_id = $2)`, who.Room, who.Identity)
		return err
	})
}

// Departure is what SettleDepartures decided for one room: who left, the notices committed
// for it (leaves, and the hand-over if the owner left), the new owner if any, and whether the
// room is empty now.
type Departure struct {
	Room     string
	Left     []Identity
	Notices  []*Message
	NewOwner *Identity
	Empty    bool
}

// SettleDepartures announces the leaves whose debounce has run out: people gone for longer
// than debounce with no connection on any instance. Each room is one transaction under its
// lock, rooms in id order; any number of instances may run it at once, and each leave is
// announced once.
func (s *Store) SettleDepartures(ctx context.Context, debounce time.Duration) ([]Departure, error) {
	if err := s.clustered(); err != nil {
		return nil, err
	}
	var rooms []string
	if err := s.read.SelectContext(ctx, &rooms, `SELECT DISTINCT room_id FROM room_people
		WHERE gone_since <= `+dbNowMillis+` - $1 ORDER BY room_id`, debounce.Milliseconds()); err != nil {
		return nil, fmt.Errorf("db: departures: %w", err)
	}
	var out []Departure
	for _, room := range rooms {
		d := Departure{Room: room}
		err := s.inTx(ctx, "settle departures", func(tx *sqlx.Tx) error {
			r, err := lockRoom(ctx, tx, room)
			if errors.Is(err, ErrRoomGone) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := tx.SelectContext(ctx, &d.Left, `WITH gone AS (
					DELETE FROM room_people AS p WHERE p.room_id = $1 AND p.gone_since <= `+dbNowMillis+` - $2
					AND NOT EXISTS (SELECT 1 FROM connections AS c WHERE c.room_id = p.room_id AND c.identity_id = p.identity_id)
					RETURNING p.identity_id, p.joined_at)
				SELECT i.id, i.nickname, i.colour, i.created_at FROM gone JOIN identities AS i ON i.id = gone.identity_id
				ORDER BY gone.joined_at`, room, debounce.Milliseconds()); err != nil {
				return err
			}
			ownerLeft := false
			for _, who := range d.Left {
				n, err := insertNoticeTx(ctx, tx, room, vocab.NoticeLeft, who)
				if err != nil {
					return err
				}
				d.Notices = append(d.Notices, n)
				ownerLeft = ownerLeft || who.ID == r.OwnerID
			}
			var next []Identity
			if err := tx.SelectContext(ctx, &next, `SELECT i.id, i.nickname, i.colour, i.created_at FROM room_people AS p
				JOIN identities AS i ON i.id = p.identity_id WHERE p.room_id = $1 ORDER BY p.joined_at, p.identity_id LIMIT 1`, room); err != nil {
				return err
			}
			if len(next) == 0 {
				d.Empty = true
				_, err := tx.ExecContext(ctx, "UPDATE rooms SET empty_since = "+dbNowMillis+" WHERE id = $1", room)
				return err
			}
			if ownerLeft {
				d.NewOwner = &next[0]
				if _, err := tx.ExecContext(ctx, "UPDATE rooms SET owner_id = $2 WHERE id = $1", room, next[0].ID); err != nil {
					return err
				}
				n, err := insertNoticeTx(ctx, tx, room, vocab.NoticeOwner, next[0])
				if err != nil {
					return err
				}
				d.Notices = append(d.Notices, n)
			}
			return nil
		})
		if err != nil {
			return out, err
		}
		if len(d.Left) > 0 {
			out = append(out, d)
		}
	}
	return out, nil
}

// RemovePerson takes someone out of a room at once (a kick or a ban: the bar is written
// first, by the caller), deleting their connections on every instance, and commits the
// notice with it. It reports ErrNotFound if they were not present.
func (s *Store) RemovePerson(ctx context.Context, room string, who Identity, notice string) (*Message, error) {
	if err := s.clustered(); err != nil {
		return nil, err
	}
	var out *Message
	err := s.inTx(ctx, "remove person", func(tx *sqlx.Tx) error {
		if _, err := lockRoom(ctx, tx, room); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM room_people WHERE room_id = $1 AND identity_id = $2", room, who.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		out, err = insertNoticeTx(ctx, tx, room, notice, who)
		return err
	})
	return out, err
}

// PresentPerson is someone holding a place in a room, with when they joined (the hand-over
// order) and whether they have a connection now.
type PresentPerson struct {
	Identity
	JoinedAt  int64 `db:"joined_at"`
	Connected bool  `db:"connected"`
}

// RoomPeople lists who holds a place in a room, in join order, across instances.
func (s *Store) RoomPeople(ctx context.Context, room string) ([]PresentPerson, error) {
	if err := s.clustered(); err != nil {
		return nil, err
	}
	var out []PresentPerson
	if err := s.read.SelectContext(ctx, &out, `SELECT i.id, i.nickname, i.colour, i.created_at, p.joined_at,
			EXISTS (SELECT 1 FROM connections AS c WHERE c.room_id = p.room_id AND c.identity_id = p.identity_id) AS connected
		FROM room_people AS p JOIN identities AS i ON i.id = p.identity_id
		WHERE p.room_id = $1 ORDER BY p.joined_at, p.identity_id`, room); err != nil {
		return nil, fmt.Errorf("db: room people: %w", err)
	}
	return out, nil
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
