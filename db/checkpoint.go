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
//
// Under writes that never pause, though, the writer commits while every such checkpoint
// copies, so the WAL is never all copied and never reused: it grew by everything written
// (about 20 MB/s at 1,000 messages/s, gigabytes in an hour), every commit's fsync was of a
// growing file, and readers searched an ever longer WAL index. Even a checkpoint that copies
// every frame it saw does not help: the WAL is reused only by a transaction that begins after
// the last frame was copied, and by then the writer's next commit is under way. So after each
// checkpoint beside the writer the checkpointer checkpoints again on the writer's own
// connection, between two of its transactions. That one copies only what was committed during
// the first, if anything, with the database file's fsync, which the writer waits for; the
// writer's next transaction then reuses the WAL from its start.
type checkpointer struct {
	db      *sqlx.DB
	writer  *sqlx.DB
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
	c := &checkpointer{db: db, writer: writer, quit: make(chan struct{}), done: make(chan struct{})}
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
			if frames, err := checkpoint(c.db); err == nil && frames > 0 {
				checkpoint(c.writer)
			}
		}
	}
}

// checkpoint copies what it can of the WAL into the database file (PASSIVE) on one of db's
// connections and returns how many frames the WAL holds.
func checkpoint(db *sqlx.DB) (frames int, err error) {
	var busy, copied int
	err = db.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
	return frames, err
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
