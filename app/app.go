// Package app is gifchat's wiring, in one place: it opens the store and the GIF files, starts
// the lobby and the room hubs behind the group-commit writer, hooks up metrics and rate
// limits, and builds the HTTP handler. main.go, the handlers' test server and the browser
// suite all start the app through New, so the tests run the wiring that ships.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"gifchat/cluster"
	"gifchat/db"
	"gifchat/handlers"
	"gifchat/media"
	"gifchat/metrics"
	"gifchat/realtime"
)

// Config is what the app is built from; main fills it from flags, tests from literals.
type Config struct {
	// DataDir holds gifchat.db (SQLite) and gifs/; it is created if missing and must be
	// writable.
	DataDir string
	// SQLiteSynchronous is SQLite's synchronous pragma (db.Options; default FULL).
	SQLiteSynchronous string
	// Postgres, when set, is the PostgreSQL database (a postgres:// URL or key=value DSN) that
	// holds everything, GIF bytes included; DataDir then holds only the GIF cache.
	Postgres string
	// GIFCacheBytes bounds that cache (media.DefaultCacheBytes when 0).
	GIFCacheBytes int64
	// Log receives the app's structured logs (default slog.Default()).
	Log *slog.Logger
	// Realtime tunes the room hubs. Hooks set here are called as well as the metrics'.
	Realtime realtime.Config
	// Handlers tunes the HTTP surface (limits, dev mode).
	Handlers handlers.Config
	// RateLimits, when set, limits requests (the Guard) and socket frames (Hooks.Allow);
	// nil turns rate limits off. OnLimited set here is called as well as the metrics'.
	RateLimits *handlers.RateLimitConfig
	// Guard, when set, is the HTTP guard instead of RateLimits' (tests).
	Guard handlers.Guard
	// LobbyHooks are called as well as the metrics' (tests watch subscribers come and go).
	LobbyHooks realtime.LobbyHooks
	// IdentityTTL: sessions unused this long are deleted, and then identities left without
	// one that nothing in a room refers to (db.Store.DeleteIdle); default 720h.
	IdentityTTL time.Duration
	// IdentitySweepEvery is how often that runs: default hourly, the first a minute after start.
	IdentitySweepEvery time.Duration
	// NATS, when set (with Postgres), makes this app one instance of a cluster: rooms are
	// shared with the other instances on the same database through this NATS server
	// (../shared/CLUSTER.md). Instance is its stable name there (default: host name and pid).
	NATS     string
	Instance string
}

// App is one running gifchat: its parts, for the caller to serve Handler and for tests to
// look inside.
type App struct {
	Store   *db.Store
	GIFs    *media.Store
	Lobby   *realtime.Lobby
	Rooms   *realtime.Rooms
	Metrics *metrics.Metrics
	Limits  *handlers.RateLimits // nil when rate limits are off
	// Handler serves every URL (handlers/routes.go), instrumented for /metrics.
	Handler http.Handler

	broker    *cluster.NATS // nil in one process
	batches   *db.BatchWriter
	log       *slog.Logger
	stopSweep context.CancelFunc
	sweepDone chan struct{}
}

// New builds and starts the app. A wrong data directory, an unreadable database or a failed
// migration is an error that names the cause; nothing is left open then.
func New(ctx context.Context, cfg Config) (_ *App, err error) {
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	if cfg.NATS != "" && cfg.Postgres == "" {
		return nil, errors.New("-nats needs -postgres: instances share their rooms through PostgreSQL, and a SQLite file cannot be shared")
	}
	if err := checkDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	a := &App{log: log}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if cfg.Postgres != "" {
		a.Store, err = db.OpenPostgres(ctx, cfg.Postgres, db.PostgresOptions{})
	} else {
		a.Store, err = db.Open(ctx, filepath.Join(cfg.DataDir, "gifchat.db"), db.Options{Synchronous: cfg.SQLiteSynchronous})
	}
	if err != nil {
		return nil, err
	}
	// GIF files live next to the database; the sweep clears what a crash left half-done
	// before anything can refer to it.
	maxGIF := cfg.Handlers.MaxGIFBytes
	if maxGIF <= 0 {
		maxGIF = handlers.DefaultMaxGIFBytes
	}
	a.GIFs, err = media.Open(filepath.Join(cfg.DataDir, "gifs"), media.Limits{MaxBytes: maxGIF, CacheBytes: cfg.GIFCacheBytes}, a.Store, log)
	if err != nil {
		return nil, err
	}
	if err := a.GIFs.Sweep(ctx); err != nil {
		return nil, err
	}

	// Metrics and rate limits observe and guard through the hooks each package exposes.
	mx := metrics.New()
	a.Metrics = mx
	guard := cfg.Guard
	rt := cfg.Realtime
	if rt.PasswordCost == 0 {
		rt.PasswordCost = cfg.Handlers.PasswordCost // the owner's new passwords hash as the create form's do
	}
	if cfg.RateLimits != nil {
		rlc := *cfg.RateLimits
		if hook := rlc.OnLimited; hook != nil {
			rlc.OnLimited = func(action, scope string) { hook(action, scope); mx.RateLimited(action, scope) }
		} else {
			rlc.OnLimited = mx.RateLimited
		}
		a.Limits = handlers.NewRateLimits(rlc)
		if guard == nil {
			guard = a.Limits
		}
		rt.Hooks.Allow = a.Limits.AllowFrame
	}
	rt.Hooks.Sockets = both1(rt.Hooks.Sockets, mx.SocketsDelta)
	rt.Hooks.SlowClient = both0(rt.Hooks.SlowClient, mx.SlowClient)
	rt.Hooks.Message = both1(rt.Hooks.Message, mx.Message)
	rt.Hooks.Render = both0(rt.Hooks.Render, mx.Render)
	rt.Hooks.Refused = both1(rt.Hooks.Refused, mx.Refused)
	a.Lobby = realtime.NewLobby(realtime.LobbyHooks{
		Subscribers: both1(cfg.LobbyHooks.Subscribers, mx.LobbySubscribers),
		Dropped:     both0(cfg.LobbyHooks.Dropped, mx.LobbyDropped),
		// Not a metric: the snapshot is rendered once per change of the list at most.
		SnapshotRendered: cfg.LobbyHooks.SnapshotRendered,
	})
	a.Rooms = realtime.NewRooms(a.Store, a.Lobby, rt, log, a.GIFs.OnRoomRemoved)
	mx.RoomsLive(a.Rooms.Count)
	// Every room's messages go through one group-commit writer: one WAL sync per batch.
	a.batches = db.NewBatchWriter(a.Store, 1024, mx.StoreCommitted)
	a.Rooms.SetInserter(func(ctx context.Context, msgs []*db.Message) error {
		start := time.Now()
		err := a.batches.Insert(ctx, msgs)
		if err != nil {
			mx.StoreFailed() // a full disk or failing storage: alert on any
		} else {
			mx.StoreWaited(time.Since(start))
		}
		return err
	})
	var ready func(context.Context) error
	if cfg.NATS != "" {
		name := cfg.Instance
		if name == "" {
			host, _ := os.Hostname()
			name = fmt.Sprintf("%s-%d", host, os.Getpid())
		}
		a.broker, err = cluster.DialNATS(cfg.NATS, name, log, cluster.Hooks{
			Disconnected: mx.NATSDisconnected, Reconnected: mx.NATSReconnected,
		})
		if err != nil {
			return nil, err
		}
		a.Rooms.SetCluster(a.broker, name, realtime.ClusterHooks{
			Published: mx.ClusterPublished, Delivered: mx.ClusterDelivered, Duplicate: mx.ClusterDuplicate,
			GapFilled: mx.ClusterGapFilled, FillFailed: mx.ClusterFillFailed,
		})
		ready = a.broker.Ready
		log.Info("cluster instance", "name", name, "nats", cfg.NATS)
	}
	if err := a.Rooms.Start(ctx); err != nil {
		return nil, err
	}
	a.startIdleSweep(cfg.IdentityTTL, cfg.IdentitySweepEvery)
	a.Handler = mx.Instrument(handlers.NewServer(handlers.Deps{
		Store: a.Store, Lobby: a.Lobby, Rooms: a.Rooms, Log: log, GIFs: a.GIFs,
		Config:  cfg.Handlers,
		Guard:   guard,
		Metrics: mx.Handler(),
		Events:  handlers.Events{GIFPosted: mx.GIFPosted},
		Ready:   ready,
	}))
	return a, nil
}

// Drain is the first half of a graceful stop, after the listener stops accepting: what the
// rooms accepted is stored, their sockets are closed with 1012 so browsers come back, and
// lobby streams end.
func (a *App) Drain(ctx context.Context) error {
	err := a.Rooms.Shutdown(ctx)
	a.Lobby.Close()
	if err != nil {
		return fmt.Errorf("rooms shutdown: %w", err)
	}
	return nil
}

// Close is the second half, after the HTTP server has shut down: the idle sweep stops, GIF
// clean-ups finish, pending writes are committed, and the database is closed. It is safe on a
// half-built app.
func (a *App) Close() error {
	if a.stopSweep != nil {
		a.stopSweep()
		<-a.sweepDone
	}
	if a.GIFs != nil {
		a.GIFs.Wait()
	}
	if a.batches != nil {
		a.batches.Close()
	}
	if a.broker != nil {
		a.broker.Close()
	}
	if a.Store == nil {
		return nil
	}
	if err := a.Store.Close(); err != nil {
		a.log.Error("close database", "err", err)
		return err
	}
	a.log.Info("database closed")
	return nil
}

// DefaultIdentityTTL is how long an unused session lives unless configured: 30 days.
const DefaultIdentityTTL = 720 * time.Hour

// startIdleSweep deletes idle sessions and identities every so often until Close, so that
// the identities every cookie-less visit makes do not fill the disk.
func (a *App) startIdleSweep(ttl, every time.Duration) {
	if ttl <= 0 {
		ttl = DefaultIdentityTTL
	}
	if every <= 0 {
		every = time.Hour
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.stopSweep, a.sweepDone = cancel, make(chan struct{})
	go func() {
		defer close(a.sweepDone)
		// The first soon after start, or a server restarted more often than every would never sweep.
		next := time.NewTimer(min(every, time.Minute))
		defer next.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-next.C:
			}
			got, err := a.Store.DeleteIdle(ctx, time.Now().Add(-ttl).UnixMilli())
			if err != nil && ctx.Err() == nil {
				a.log.Error("idle sweep", "err", err)
			}
			if got.Sessions > 0 || got.Identities > 0 {
				a.log.Info("idle sessions deleted", "sessions", got.Sessions, "identities", got.Identities)
			}
			next.Reset(every)
		}
	}()
}

// checkDataDir makes sure the data directory exists and can be written, so that a wrong
// path, a read-only mount or a full disk stops the start with a plain reason instead of
// failing later on a person's first message.
func checkDataDir(dir string) error {
	if dir == "" {
		return errors.New("no data directory given")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("data directory %s cannot be created: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("data directory %s is not writable: %w", dir, err)
	}
	name := f.Name()
	_, werr := f.Write([]byte("ok"))
	if werr == nil {
		werr = f.Sync()
	}
	f.Close()
	os.Remove(name)
	if werr != nil {
		return fmt.Errorf("data directory %s is not writable: %w", dir, werr)
	}
	return nil
}

// both0 and both1 call an optional hook and then the metrics' one.
func both0(hook, metric func()) func() {
	if hook == nil {
		return metric
	}
	return func() { hook(); metric() }
}

func both1[T any](hook, metric func(T)) func(T) {
	if hook == nil {
		return metric
	}
	return func(v T) { hook(v); metric(v) }
}
