// Package db is gifchat's storage: sqlx over SQLite (the embedded default) or PostgreSQL,
// with embedded migrations for each.
//
// All SQL of the product lives here and is written portably (`?` placeholders and sqlx
// Rebind, RETURNING, ON CONFLICT). Where the two dialects must differ (the schema, a
// connection's set-up, GIF bytes kept in PostgreSQL), the difference is in one place, keyed
// on Store.dialect, never an if per call site outside this package.
package db

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// dialect is the database a Store talks to.
type dialect int

const (
	sqlite dialect = iota
	postgres
)

func (d dialect) String() string {
	if d == postgres {
		return "postgres"
	}
	return "sqlite"
}

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("db: not found")

// Store holds one writer connection and a separate pool of readers. SQLite allows one writer
// at a time; funnelling writes through one connection turns lock contention (SQLITE_BUSY)
// into queueing in Go, and lets readers proceed in WAL mode without waiting for it.
//
// On PostgreSQL both are the same pool: the server orders writers itself.
type Store struct {
	write   *sqlx.DB
	read    *sqlx.DB
	dialect dialect
	// The group commit's statements, prepared once on the writer's one connection.
	takeSeq, insertMessage *sqlx.Stmt
	// ckpt checkpoints SQLite's WAL into the database file beside the writer (checkpointer).
	ckpt *checkpointer
}

// Options tunes Open. The zero value is what production uses.
type Options struct {
	// Synchronous is SQLite's synchronous pragma: "FULL" (default) fsyncs the WAL at every
	// commit, so a message acknowledged to its sender survives a power cut as well as kill -9.
	// "NORMAL" survives kill -9 (the WAL is written before commit returns) but not power loss.
	Synchronous string
	// ReadConns caps the read pool (default 8).
	ReadConns int
	// CheckpointEvery is how often the WAL is copied into the database file beside the
	// writer (default 250ms; see checkpointer).
	CheckpointEvery time.Duration
}

// Open opens (creating if needed) the SQLite file at path and applies the migrations.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.Synchronous == "" {
		opts.Synchronous = "FULL"
	}
	switch opts.Synchronous {
	case "FULL", "NORMAL", "EXTRA":
	default:
		return nil, fmt.Errorf("db: synchronous must be FULL, NORMAL or EXTRA, not %q", opts.Synchronous)
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = 8
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("db: resolve path: %w", err)
	}
	// Pragmas go in the DSN so that every pooled connection gets them, not just the first.
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_foreign_keys", "on")
	q.Set("_busy_timeout", "5000")
	q.Set("_synchronous", opts.Synchronous)
	writeQ := url.Values{}
	for k, v := range q {
		writeQ[k] = v
	}
	// BEGIN IMMEDIATE takes the write lock up front, so a transaction never fails half-way
	// when it upgrades from read to write.
	writeQ.Set("_txlock", "immediate")

	// The path is URI-escaped: a '?', '#' or '%' in a directory name would otherwise be read
	// as URI syntax and the database opened somewhere else, without its pragmas.
	file := "file:" + (&url.URL{Path: abs}).EscapedPath()
	w, err := sqlx.Open("sqlite3", file+"?"+writeQ.Encode())
	if err != nil {
		return nil, fmt.Errorf("db: open writer: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("db: open %s: %w", abs, err)
	}
	checkpointDSN := file + "?" + q.Encode() // read-write, transactions deferred
	q.Set("mode", "ro")
	r, err := sqlx.Open("sqlite3", file+"?"+q.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("db: open readers: %w", err)
	}
	r.SetMaxOpenConns(opts.ReadConns)
	r.SetMaxIdleConns(opts.ReadConns)
	s, err := ready(ctx, &Store{write: w, read: r, dialect: sqlite})
	if err != nil {
		return nil, err
	}
	if s.ckpt, err = startCheckpointer(ctx, checkpointDSN, w, cmp.Or(opts.CheckpointEvery, 250*time.Millisecond)); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// ready migrates a freshly opened store and prepares its statements, or closes it.
func ready(ctx context.Context, s *Store) (*Store, error) {
	err := s.migrate(ctx)
	if err == nil {
		err = s.prepare(ctx)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// prepare readies the statements every group commit runs, once, after the migrations: on
// SQLite the seq update and the insert, run per room and per message (calls into the library);
// on PostgreSQL the one statement that stores a whole batch (postgres.go), since every
// statement there is a round trip.
func (s *Store) prepare(ctx context.Context) (err error) {
	if s.dialect == postgres {
		if s.insertMessage, err = s.write.PreparexContext(ctx, insertBatchPostgres); err != nil {
			return fmt.Errorf("db: prepare: %w", err)
		}
		return nil
	}
	if s.takeSeq, err = s.write.PreparexContext(ctx, s.write.Rebind(
		"UPDATE rooms SET last_seq = last_seq + ? WHERE id = ? RETURNING last_seq")); err != nil {
		return fmt.Errorf("db: prepare: %w", err)
	}
	if s.insertMessage, err = s.write.PreparexContext(ctx, s.write.Rebind(insertMessageSQLite)); err != nil {
		return fmt.Errorf("db: prepare: %w", err)
	}
	return nil
}

// Close closes both pools, the readers first: the last connection to close checkpoints the
// WAL into the database file and removes it, which only the writer can do. A cleanly stopped
// server so leaves one self-contained file (a plain copy is a backup) and the next start has
// no WAL to replay.
func (s *Store) Close() error {
	if s.ckpt != nil {
		s.ckpt.stop()
	}
	for _, st := range []*sqlx.Stmt{s.takeSeq, s.insertMessage} {
		if st != nil {
			st.Close()
		}
	}
	if s.read == s.write {
		return s.write.Close()
	}
	return errors.Join(s.read.Close(), s.write.Close())
}

// Ping checks that the database answers; /healthz uses it.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.read.GetContext(ctx, &one, "SELECT 1")
}

// migrationLock is the PostgreSQL advisory lock key held while migrating, so instances
// starting together against one database migrate one after the other ("gifchat" in ASCII).
const migrationLock = 0x67696663686174

// migrate applies every embedded migration of the store's dialect not yet recorded in
// schema_migrations, each in its own transaction together with its record, so a crash never
// leaves one half-applied. On PostgreSQL it holds an advisory lock meanwhile.
func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.write.Connx(ctx)
	if err != nil {
		return fmt.Errorf("db: migrations: connect: %w", err)
	}
	defer conn.Close()
	if s.dialect == postgres {
		// A session lock on this connection, released by the unlock or by closing it.
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", int64(migrationLock)); err != nil {
			return fmt.Errorf("db: migrations: lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(migrationLock))
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    TEXT   PRIMARY KEY,
		applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("db: create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrationFiles, "migrations/"+s.dialect.String()+"/*.sql")
	if err != nil {
		return fmt.Errorf("db: list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		version := strings.TrimSuffix(filepath.Base(name), ".sql")
		if err := s.applyMigration(ctx, conn, name, version); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) applyMigration(ctx context.Context, conn *sqlx.Conn, name, version string) error {
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: migration %s: begin: %w", version, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.GetContext(ctx, &n, s.write.Rebind("SELECT COUNT(*) FROM schema_migrations WHERE version = ?"), version); err != nil {
		return fmt.Errorf("db: migration %s: check: %w", version, err)
	}
	if n > 0 {
		return nil
	}
	body, err := migrationFiles.ReadFile(name)
	if err != nil {
		return fmt.Errorf("db: migration %s: read: %w", version, err)
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("db: migration %s: apply: %w", version, err)
	}
	if _, err := tx.ExecContext(ctx, s.write.Rebind("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)"), version, now()); err != nil {
		return fmt.Errorf("db: migration %s: record: %w", version, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("db: migration %s: commit: %w", version, err)
	}
	return nil
}

// now is the store's clock: Unix milliseconds, an integer that every database stores the same way.
func now() int64 { return time.Now().UnixMilli() }
