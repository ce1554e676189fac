package db

import (
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
	s := &Store{write: pool, read: pool, dialect: postgres}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
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
