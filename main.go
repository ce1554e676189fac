// Command gifchat is a real-time GIF chat: templ renders, htmx swaps, rooms are WebSockets
// and the lobby is a Server-Sent Events stream.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"gifchat/db"
	"gifchat/handlers"
	"gifchat/media"
	"gifchat/realtime"
	"gifchat/static"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "gifchat:", err)
		os.Exit(1)
	}
}

// config is every setting; each flag falls back to an environment variable.
type config struct {
	addr           string
	dataDir        string
	emptyRoomGrace time.Duration
	leaveDebounce  time.Duration
	maxGIFBytes    int64
	maxMessage     int
	maxCapacity    int
	logLevel       slog.Level
	sqliteSync     string
	dev            bool
	shutdownWait   time.Duration
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("gifchat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	envDur := func(name string, def time.Duration) time.Duration {
		if d, err := time.ParseDuration(getenv(name)); err == nil {
			return d
		}
		return def
	}
	envInt := func(name string, def int64) int64 {
		if n, err := strconv.ParseInt(getenv(name), 10, 64); err == nil {
			return n
		}
		return def
	}
	var level string
	fs.StringVar(&c.addr, "addr", env("GIFCHAT_ADDR", ":8005"), "listen address (env GIFCHAT_ADDR)")
	fs.StringVar(&c.dataDir, "data", env("GIFCHAT_DATA", "./data"), "directory for the SQLite database and GIF files (env GIFCHAT_DATA)")
	fs.DurationVar(&c.emptyRoomGrace, "empty-room-grace", envDur("GIFCHAT_EMPTY_ROOM_GRACE", time.Minute), "remove a room after it has been empty this long (env GIFCHAT_EMPTY_ROOM_GRACE)")
	fs.DurationVar(&c.leaveDebounce, "leave-debounce", envDur("GIFCHAT_LEAVE_DEBOUNCE", 3*time.Second), "announce a leave only after the person's last socket has been gone this long (env GIFCHAT_LEAVE_DEBOUNCE)")
	fs.Int64Var(&c.maxGIFBytes, "max-gif-bytes", envInt("GIFCHAT_MAX_GIF_BYTES", 5<<20), "largest GIF upload in bytes (env GIFCHAT_MAX_GIF_BYTES)")
	maxMsg := fs.Int("max-message-chars", int(envInt("GIFCHAT_MAX_MESSAGE_CHARS", 2000)), "longest text message in characters (env GIFCHAT_MAX_MESSAGE_CHARS)")
	maxCap := fs.Int("max-capacity", int(envInt("GIFCHAT_MAX_CAPACITY", 100)), "largest room capacity a form may ask for (env GIFCHAT_MAX_CAPACITY; load tests raise it)")
	fs.StringVar(&level, "log-level", env("GIFCHAT_LOG_LEVEL", "info"), "debug, info, warn or error (env GIFCHAT_LOG_LEVEL)")
	fs.StringVar(&c.sqliteSync, "sqlite-synchronous", env("GIFCHAT_SQLITE_SYNCHRONOUS", "FULL"), "SQLite synchronous pragma: FULL survives power loss, NORMAL only process crashes (env GIFCHAT_SQLITE_SYNCHRONOUS)")
	fs.BoolVar(&c.dev, "dev", env("GIFCHAT_DEV", "") == "true", "development mode: component gallery at /dev/components and pprof (env GIFCHAT_DEV=true)")
	fs.DurationVar(&c.shutdownWait, "shutdown-timeout", envDur("GIFCHAT_SHUTDOWN_TIMEOUT", 10*time.Second), "how long a graceful shutdown may take (env GIFCHAT_SHUTDOWN_TIMEOUT)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if err := c.logLevel.UnmarshalText([]byte(level)); err != nil {
		return c, fmt.Errorf("-log-level: %w", err)
	}
	c.maxMessage, c.maxCapacity = *maxMsg, *maxCap
	if c.maxGIFBytes < 1024 {
		return c, errors.New("-max-gif-bytes must be at least 1024")
	}
	return c, nil
}

// run wires the server and serves until ctx ends; ready, if set, receives the listen address.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready chan<- string) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	slog.SetDefault(log)
	if err := static.Check(); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.dataDir, 0o750); err != nil {
		return fmt.Errorf("data directory %s: %w", cfg.dataDir, err)
	}
	store, err := db.Open(ctx, filepath.Join(cfg.dataDir, "gifchat.db"), db.Options{Synchronous: cfg.sqliteSync})
	if err != nil {
		return err
	}
	defer store.Close()
	// GIF files live next to the database; the sweep clears what a crash left half-done
	// before anything can refer to it. Wait is deferred after Close, so it runs first.
	gifs, err := media.Open(filepath.Join(cfg.dataDir, "gifs"), media.Limits{MaxBytes: cfg.maxGIFBytes}, store, log)
	if err != nil {
		return err
	}
	if err := gifs.Sweep(ctx); err != nil {
		return err
	}
	defer gifs.Wait()

	lobby := realtime.NewLobby(realtime.LobbyHooks{})
	rooms := realtime.NewRooms(store, lobby, realtime.Config{
		EmptyRoomGrace:  cfg.emptyRoomGrace,
		LeaveDebounce:   cfg.leaveDebounce,
		MaxMessageRunes: cfg.maxMessage,
	}, log, gifs.OnRoomRemoved)
	// Every room's messages go through one group-commit writer: one WAL sync per batch.
	batches := db.NewBatchWriter(store, 1024)
	defer batches.Close() // deferred after store.Close, so it runs before it
	rooms.SetInserter(batches.Insert)
	if err := rooms.Start(ctx); err != nil {
		return err
	}
	handler := handlers.NewServer(handlers.Deps{
		Store: store, Lobby: lobby, Rooms: rooms, Log: log, GIFs: gifs,
		Config: handlers.Config{MaxGIFBytes: cfg.maxGIFBytes, MaxCapacity: cfg.maxCapacity, Dev: cfg.dev},
	})

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.addr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute, // GIF uploads on slow links
		WriteTimeout:      time.Minute,     // the SSE stream and sockets manage their own deadlines
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("gifchat listening", "addr", ln.Addr().String(), "data", cfg.dataDir, "dev", cfg.dev)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}

	// Shut down in order: stop accepting, close sockets with 1012 after persisting what
	// was accepted, wait for handlers, close the database (deferred).
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownWait)
	defer cancel()
	ln.Close()
	if err := rooms.Shutdown(sctx); err != nil {
		log.Warn("rooms shutdown", "err", err)
	}
	lobby.Close()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	return nil
}
