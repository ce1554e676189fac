package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"gifchat/vocab"
)

// Who is in a room, shared by the instances of a cluster (see cluster.go): admission, the
// end of a socket, the leaves settled after the debounce, removal by the owner, and the
// list. Each decision is one transaction under the room's row lock.

// Admission refusals, decided under the room's lock.
var (
	ErrFull          = errors.New("db: room full")
	ErrLocked        = errors.New("db: room locked")
	ErrNeedsPassword = errors.New("db: room needs its password")
)

// BarredError refuses someone barred from the room until Until (Unix ms; BanUntil for a ban).
type BarredError struct{ Until int64 }

func (e *BarredError) Error() string { return "db: barred from the room" }

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
