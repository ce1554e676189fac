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
	"strconv"
	"syscall"
	"time"

	"gifchat/app"
	"gifchat/gcfloor"
	"gifchat/handlers"
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
	rejoinGrace    time.Duration
	gcHeapFloor    int64
	editWindow     time.Duration
	maxGIFBytes    int64
	maxMessage     int
	maxCapacity    int
	logLevel       slog.Level
	sqliteSync     string
	postgres       string
	nats           string
	instance       string
	clusterLease   time.Duration
	gifCacheBytes  int64
	dev            bool
	shutdownWait   time.Duration

	// Limits (docs/OPERATIONS.md): each refusal gives the person a visible reason.
	maxBodyBytes   int64
	maxFrameBytes  int64
	maxRoomsPer    int
	maxRoomsAll    int
	maxSocketsPer  int
	maxSocketsAddr int
	maxLobbyAddr   int
	maxLobbyPer    int
	replayBytes    int64
	sendQueueBytes int64
	maxGIFStore    int64
	maxGIFPerRoom  int64
	identityTTL    time.Duration
	rateLimits     bool
	rates          map[string]handlers.Rate
	rateAddrFactor float64
	trustProxy     bool
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
	// A set but unreadable environment value is an error, not a silent default.
	var envErrs []error
	envDur := func(name string, def time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			envErrs = append(envErrs, fmt.Errorf("%s=%q is not a duration like 90s or 5m", name, v))
			return def
		}
		return d
	}
	envInt := func(name string, def int64) int64 {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			envErrs = append(envErrs, fmt.Errorf("%s=%q is not a whole number", name, v))
			return def
		}
		return n
	}
	var level string
	fs.StringVar(&c.addr, "addr", env("GIFCHAT_ADDR", ":8005"), "listen address (env GIFCHAT_ADDR)")
	fs.StringVar(&c.dataDir, "data", env("GIFCHAT_DATA", "./data"), "directory for the SQLite database and GIF files (env GIFCHAT_DATA)")
	fs.DurationVar(&c.emptyRoomGrace, "empty-room-grace", envDur("GIFCHAT_EMPTY_ROOM_GRACE", time.Minute), "remove a room after it has been empty this long (env GIFCHAT_EMPTY_ROOM_GRACE)")
	fs.DurationVar(&c.leaveDebounce, "leave-debounce", envDur("GIFCHAT_LEAVE_DEBOUNCE", 3*time.Second), "announce a leave only after the person's last socket has been gone this long (env GIFCHAT_LEAVE_DEBOUNCE)")
	fs.DurationVar(&c.rejoinGrace, "rejoin-grace", envDur("GIFCHAT_REJOIN_GRACE", 30*time.Second), "after a start, how long the people who were in a room before it keep their places unannounced while their browsers reconnect (env GIFCHAT_REJOIN_GRACE)")
	fs.DurationVar(&c.editWindow, "edit-window", envDur("GIFCHAT_EDIT_WINDOW", 15*time.Minute), "how long after sending a person may edit their message (env GIFCHAT_EDIT_WINDOW)")
	fs.Int64Var(&c.maxGIFBytes, "max-gif-bytes", envInt("GIFCHAT_MAX_GIF_BYTES", 5<<20), "largest GIF upload in bytes (env GIFCHAT_MAX_GIF_BYTES)")
	maxMsg := fs.Int("max-message-chars", int(envInt("GIFCHAT_MAX_MESSAGE_CHARS", 2000)), "longest text message in characters (env GIFCHAT_MAX_MESSAGE_CHARS)")
	maxCap := fs.Int("max-capacity", int(envInt("GIFCHAT_MAX_CAPACITY", 100)), "largest room capacity a form may ask for (env GIFCHAT_MAX_CAPACITY; load tests raise it)")
	fs.StringVar(&level, "log-level", env("GIFCHAT_LOG_LEVEL", "info"), "debug, info, warn or error (env GIFCHAT_LOG_LEVEL)")
	fs.StringVar(&c.postgres, "postgres", env("GIFCHAT_POSTGRES", ""), "store everything in this PostgreSQL database (a postgres:// URL or key=value DSN) instead of SQLite under -data; -data then holds only the GIF cache (env GIFCHAT_POSTGRES)")
	fs.StringVar(&c.nats, "nats", env("GIFCHAT_NATS", ""), "with -postgres: join the cluster of instances sharing that database through this NATS server, e.g. nats://127.0.0.1:4222 (env GIFCHAT_NATS)")
	fs.StringVar(&c.instance, "instance", env("GIFCHAT_INSTANCE", ""), "with -nats: this instance's name, stable across restarts (a restart drops the previous run's connections at once); default host name and pid (env GIFCHAT_INSTANCE)")
	fs.DurationVar(&c.clusterLease, "cluster-lease", envDur("GIFCHAT_CLUSTER_LEASE", 10*time.Second), "with -nats: an instance not heard of this long is taken for dead, and its people leave (after -leave-debounce) unless they reconnect elsewhere; renewed every third of it, so a pause longer than that costs the instance its sockets (env GIFCHAT_CLUSTER_LEASE)")
	fs.Int64Var(&c.gifCacheBytes, "gif-cache-bytes", envInt("GIFCHAT_GIF_CACHE_BYTES", 256<<20), "with -postgres: the most GIF bytes kept in -data as a local cache of the database's (env GIFCHAT_GIF_CACHE_BYTES)")
	fs.StringVar(&c.sqliteSync, "sqlite-synchronous", env("GIFCHAT_SQLITE_SYNCHRONOUS", "FULL"), "SQLite synchronous pragma: FULL survives power loss, NORMAL only process crashes (env GIFCHAT_SQLITE_SYNCHRONOUS)")
	fs.Int64Var(&c.gcHeapFloor, "gc-heap-floor", envInt("GIFCHAT_GC_HEAP_FLOOR", 32<<20), "bytes of heap before the garbage collector runs at all: fewer collections (and shorter waits for messages) while few people are connected, at most this much more memory; 0 for Go's default; ignored when GOGC or GOMEMLIMIT is set (env GIFCHAT_GC_HEAP_FLOOR)")
	fs.BoolVar(&c.dev, "dev", env("GIFCHAT_DEV", "") == "true", "development mode: component gallery at /dev/components and pprof (env GIFCHAT_DEV=true)")
	fs.DurationVar(&c.shutdownWait, "shutdown-timeout", envDur("GIFCHAT_SHUTDOWN_TIMEOUT", 10*time.Second), "how long a graceful shutdown may take (env GIFCHAT_SHUTDOWN_TIMEOUT)")
	fs.Int64Var(&c.maxBodyBytes, "max-body-bytes", envInt("GIFCHAT_MAX_BODY_BYTES", 64<<10), "largest request body other than a GIF upload, in bytes; larger is refused with 413 (env GIFCHAT_MAX_BODY_BYTES)")
	fs.Int64Var(&c.maxFrameBytes, "max-frame-bytes", envInt("GIFCHAT_MAX_FRAME_BYTES", 16<<10), "largest WebSocket frame a browser may send, in bytes; larger closes the socket with 1009 (env GIFCHAT_MAX_FRAME_BYTES)")
	maxRooms := fs.Int("max-rooms-per-person", int(envInt("GIFCHAT_MAX_ROOMS_PER_PERSON", 5)), "rooms one person may own at once (env GIFCHAT_MAX_ROOMS_PER_PERSON)")
	fs.IntVar(&c.maxRoomsAll, "max-rooms", int(envInt("GIFCHAT_MAX_ROOMS", handlers.DefaultMaxRooms)), "rooms the server holds at once; one more is refused with 503 until one closes (env GIFCHAT_MAX_ROOMS)")
	fs.Int64Var(&c.maxGIFStore, "max-gif-store-bytes", envInt("GIFCHAT_MAX_GIF_STORE_BYTES", handlers.DefaultMaxGIFStoreBytes), "GIF bytes kept in all; an upload past it is refused with 507 (env GIFCHAT_MAX_GIF_STORE_BYTES)")
	fs.Int64Var(&c.maxGIFPerRoom, "max-gif-bytes-per-room", envInt("GIFCHAT_MAX_GIF_BYTES_PER_ROOM", handlers.DefaultMaxGIFBytesPerRoom), "GIF bytes one room's messages may use; an upload past it is refused with 413 (env GIFCHAT_MAX_GIF_BYTES_PER_ROOM)")
	fs.DurationVar(&c.identityTTL, "identity-ttl", envDur("GIFCHAT_IDENTITY_TTL", app.DefaultIdentityTTL), "delete sessions unused this long, and their identities once nothing in a room refers to them (env GIFCHAT_IDENTITY_TTL)")
	maxSockets := fs.Int("max-sockets-per-person", int(envInt("GIFCHAT_MAX_SOCKETS_PER_PERSON", 8)), "room connections (tabs) one person may have open at once (env GIFCHAT_MAX_SOCKETS_PER_PERSON)")
	fs.IntVar(&c.maxSocketsAddr, "max-sockets-per-address", int(envInt("GIFCHAT_MAX_SOCKETS_PER_ADDRESS", handlers.DefaultMaxSocketsPerAddress)), "room connections open at once from one client address (IPv6: one /64), for everyone behind it together (env GIFCHAT_MAX_SOCKETS_PER_ADDRESS)")
	fs.IntVar(&c.maxLobbyPer, "max-lobby-streams-per-person", int(envInt("GIFCHAT_MAX_LOBBY_STREAMS_PER_PERSON", 8)), "lobby streams (open lobby tabs) at once for one person; one more is refused with 429 (env GIFCHAT_MAX_LOBBY_STREAMS_PER_PERSON)")
	fs.IntVar(&c.maxLobbyAddr, "max-lobby-streams-per-address", int(envInt("GIFCHAT_MAX_LOBBY_STREAMS_PER_ADDRESS", handlers.DefaultMaxLobbyStreamsPerAddress)), "lobby streams (open lobby tabs) at once from one client address; one more is refused with 429 (env GIFCHAT_MAX_LOBBY_STREAMS_PER_ADDRESS)")
	fs.Int64Var(&c.replayBytes, "replay-bytes", envInt("GIFCHAT_REPLAY_BYTES", 1<<20), "most bytes of missed messages sent to a reconnecting socket; beyond, its log is replaced by the latest page (env GIFCHAT_REPLAY_BYTES)")
	fs.Int64Var(&c.sendQueueBytes, "send-queue-bytes", envInt("GIFCHAT_SEND_QUEUE_BYTES", 4<<20), "bytes waiting for one room socket before it is dropped as too slow (1013) and catches up on reconnect; more than -replay-bytes (env GIFCHAT_SEND_QUEUE_BYTES)")
	fs.BoolVar(&c.rateLimits, "rate-limits", env("GIFCHAT_RATE_LIMITS", "true") != "false", "apply the -rate-* limits; false turns them all off, e.g. for load tests (env GIFCHAT_RATE_LIMITS)")
	c.rates = map[string]handlers.Rate{}
	var rateErr error
	rateFlag := func(name, envName, action, what string) {
		def := handlers.DefaultRates[action]
		if v := getenv(envName); v != "" {
			r, err := handlers.ParseRate(v)
			if err != nil {
				rateErr = errors.Join(rateErr, fmt.Errorf("%s: %w", envName, err))
			}
			def = r
		}
		c.rates[action] = def
		fs.Func(name, fmt.Sprintf("%s: N/UNIT:BURST (UNIT s, m or h; a burst, then N per UNIT) or off (default %s; env %s)", what, def, envName), func(v string) error {
			r, err := handlers.ParseRate(v)
			if err != nil {
				return err
			}
			c.rates[action] = r
			return nil
		})
	}
	rateFlag("rate-messages", "GIFCHAT_RATE_MESSAGES", handlers.ActionSay, "text messages per session; other socket actions get a bucket of the same size")
	rateFlag("rate-rooms", "GIFCHAT_RATE_ROOMS", handlers.ActionCreateRoom, "room creations per session")
	rateFlag("rate-uploads", "GIFCHAT_RATE_UPLOADS", handlers.ActionUpload, "GIF uploads per session")
	rateFlag("rate-connects", "GIFCHAT_RATE_CONNECTS", handlers.ActionConnect, "room socket connects per session")
	rateFlag("rate-passwords", "GIFCHAT_RATE_PASSWORDS", handlers.ActionEnter, "password attempts per session")
	rateFlag("rate-renames", "GIFCHAT_RATE_RENAMES", handlers.ActionRename, "saved changes of nickname or colour per session (each is a notice in every room the person is in)")
	rateFlag("rate-sessions", "GIFCHAT_RATE_SESSIONS", handlers.ActionNewSession, "new sessions (cookie-less visits) per client address, times -rate-address-factor")
	fs.Float64Var(&c.rateAddrFactor, "rate-address-factor", envFloat(getenv, "GIFCHAT_RATE_ADDRESS_FACTOR", 5), "each client address may do this many times what one session may, as people share addresses (env GIFCHAT_RATE_ADDRESS_FACTOR)")
	fs.BoolVar(&c.trustProxy, "trust-proxy", env("GIFCHAT_TRUST_PROXY", "") == "true", "take the client address from X-Forwarded-For and HTTPS from X-Forwarded-Proto (set only behind one reverse proxy that sets both) (env GIFCHAT_TRUST_PROXY)")
	if err := errors.Join(envErrs...); err != nil {
		return c, err
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if rateErr != nil {
		return c, rateErr
	}
	c.maxRoomsPer, c.maxSocketsPer = *maxRooms, *maxSockets
	switch {
	case c.maxBodyBytes < 1024:
		return c, errors.New("-max-body-bytes must be at least 1024")
	case c.maxFrameBytes < 1024:
		return c, errors.New("-max-frame-bytes must be at least 1024")
	case *maxRooms < 1:
		return c, errors.New("-max-rooms-per-person must be at least 1")
	case c.maxRoomsAll < 1:
		return c, errors.New("-max-rooms must be at least 1")
	case *maxSockets < 1:
		return c, errors.New("-max-sockets-per-person must be at least 1")
	case c.maxSocketsAddr < 1 || c.maxLobbyAddr < 1 || c.maxLobbyPer < 1:
		return c, errors.New("-max-sockets-per-address, -max-lobby-streams-per-address and -max-lobby-streams-per-person must be at least 1")
	case c.replayBytes < 64<<10:
		return c, errors.New("-replay-bytes must be at least 65536 (a page of long messages)")
	case c.sendQueueBytes <= c.replayBytes || c.sendQueueBytes > 1<<30:
		return c, errors.New("-send-queue-bytes must be more than -replay-bytes (a replay is queued whole) and at most 1 GiB")
	case c.rateAddrFactor < 1:
		return c, errors.New("-rate-address-factor must be at least 1")
	case c.maxGIFPerRoom < c.maxGIFBytes || c.maxGIFStore < c.maxGIFPerRoom:
		return c, errors.New("-max-gif-bytes-per-room must be at least -max-gif-bytes, and -max-gif-store-bytes at least -max-gif-bytes-per-room")
	case c.clusterLease < 3*time.Second:
		return c, errors.New("-cluster-lease must be at least 3s (it is renewed every third of it, by chores that run every 500ms)")
	case c.nats != "" && c.postgres == "":
		return c, errors.New("-nats needs -postgres: instances share their rooms through PostgreSQL, and a SQLite file cannot be shared")
	case c.identityTTL < 2*time.Hour:
		return c, errors.New("-identity-ttl must be at least 2h (a session records its use once an hour)")
	case c.gcHeapFloor < 0:
		return c, errors.New("-gc-heap-floor cannot be negative (0 turns it off)")
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

func envFloat(getenv func(string) string, name string, def float64) float64 {
	if f, err := strconv.ParseFloat(getenv(name), 64); err == nil {
		return f
	}
	return def
}

// heapFloor is the collector's floor to keep: none when the operator set the collector up
// themselves (GOGC, GOMEMLIMIT), since theirs wins.
func heapFloor(cfg config, getenv func(string) string) uint64 {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return 0
	}
	return uint64(cfg.gcHeapFloor)
}

// run wires the server and serves until ctx ends; ready, if set, receives the listen address.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready chan<- string) (err error) {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	slog.SetDefault(log)
	defer func() {
		if err != nil {
			log.Error("gifchat stopped", "err", err)
		}
	}()
	if err := static.Check(); err != nil {
		return err
	}
	defer gcfloor.Start(heapFloor(cfg, getenv), time.Second)()
	var limits *handlers.RateLimitConfig
	if cfg.rateLimits {
		limits = &handlers.RateLimitConfig{Rates: cfg.rates, AddressFactor: cfg.rateAddrFactor, TrustProxy: cfg.trustProxy}
	}
	a, err := app.New(ctx, app.Config{
		DataDir:           cfg.dataDir,
		SQLiteSynchronous: cfg.sqliteSync,
		Postgres:          cfg.postgres,
		NATS:              cfg.nats,
		Instance:          cfg.instance,
		GIFCacheBytes:     cfg.gifCacheBytes,
		Log:               log,
		Realtime: realtime.Config{
			EmptyRoomGrace:  cfg.emptyRoomGrace,
			LeaveDebounce:   cfg.leaveDebounce,
			RejoinGrace:     cfg.rejoinGrace,
			EditWindow:      cfg.editWindow,
			MaxMessageRunes: cfg.maxMessage,
			MaxFrameBytes:   cfg.maxFrameBytes,
			MaxTabsPerRoom:  cfg.maxSocketsPer,
			ReplayBytes:     int(cfg.replayBytes),
			SendQueueBytes:  int(cfg.sendQueueBytes),
			Lease:           cfg.clusterLease,
		},
		Handlers: handlers.Config{MaxGIFBytes: cfg.maxGIFBytes, MaxCapacity: cfg.maxCapacity, Dev: cfg.dev,
			MaxFormBytes: cfg.maxBodyBytes, MaxRoomsPerPerson: cfg.maxRoomsPer, MaxSocketsPerPerson: cfg.maxSocketsPer,
			MaxSocketsPerAddress: cfg.maxSocketsAddr, MaxLobbyStreamsPerAddress: cfg.maxLobbyAddr, MaxLobbyStreamsPerPerson: cfg.maxLobbyPer,
			MaxRooms: cfg.maxRoomsAll, TrustProxy: cfg.trustProxy, MaxGIFStoreBytes: cfg.maxGIFStore, MaxGIFBytesPerRoom: cfg.maxGIFPerRoom},
		RateLimits:  limits,
		IdentityTTL: cfg.identityTTL,
	})
	if err != nil {
		return err
	}
	defer a.Close() // after the HTTP server has shut down: GIF clean-ups, pending writes, database

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.addr, err)
	}
	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute, // GIF uploads on slow links
		WriteTimeout:      time.Minute,     // the SSE stream and sockets manage their own deadlines
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	storage := "sqlite"
	if cfg.postgres != "" {
		storage = "postgres"
	}
	if cfg.nats != "" {
		storage = "postgres+nats"
	}
	log.Info("gifchat listening", "addr", ln.Addr().String(), "data", cfg.dataDir, "storage", storage, "dev", cfg.dev)
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
	if err := a.Drain(sctx); err != nil {
		log.Warn("drain", "err", err)
	}
	// The listener was closed first on purpose (stop accepting before the sockets go), so
	// Shutdown closing it again is expected, not a fault.
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, net.ErrClosed) {
		log.Warn("http shutdown", "err", err)
	}
	return nil
}
