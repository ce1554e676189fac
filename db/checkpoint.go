package db

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
)

// SQLite's WAL grows with every commit and is copied back into the database file by a
// checkpoint. By default the commit that takes the WAL past 1,000 pages runs that checkpoint
// itself: it copies the pages and fsyncs the database file before it returns, so every few
// hundred milliseconds under load one group commit (and every message waiting for it) takes
// several times as long. The checkpointer takes that work off the commit path: the writer's
// automatic checkpoints are off, and a connection of its own checkpoints every
// Options.CheckpointEvery in PASSIVE mode, which never blocks the writer or the readers (it copies
// what no reader still needs; the WAL is reused from its start once it has all been copied).
type checkpointer struct {
	db      *sqlx.DB
	quit    chan struct{}
	done    chan struct{}
	stopped sync.Once
}

// startCheckpointer turns off the writer's automatic checkpoints and starts checkpointing on
// a connection of its own to dsn (read-write).
func startCheckpointer(ctx context.Context, dsn string, writer *sqlx.DB, every time.Duration) (*checkpointer, error) {
	// The writer pool holds one connection for good (no lifetime, no idle time), so the
	// pragma stays set. Should the driver ever replace it, SQLite's default comes back:
	// checkpoints in the commit path again, slower but as safe.
	if _, err := writer.ExecContext(ctx, "PRAGMA wal_autocheckpoint = 0"); err != nil {
		return nil, fmt.Errorf("db: writer checkpoints: %w", err)
	}
	db, err := sqlx.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("db: open checkpointer: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	c := &checkpointer{db: db, quit: make(chan struct{}), done: make(chan struct{})}
	go c.run(every)
	return c, nil
}

func (c *checkpointer) run(every time.Duration) {
	defer close(c.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-tick.C:
			// A failure (the disk, a busy lock past the timeout) leaves the pages in the WAL
			// for the next round; nothing is lost, the WAL only grows meanwhile.
			c.db.Exec("PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}

// stop ends the checkpoints (once; a store may be closed twice); the store's last connection
// to close checkpoints the rest.
func (c *checkpointer) stop() {
	c.stopped.Do(func() {
		close(c.quit)
		<-c.done
		c.db.Close()
	})
}
