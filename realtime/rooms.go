package realtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"gifchat/cluster"
	"gifchat/components"
	"gifchat/db"
	"gifchat/vocab"
)

// Store is what the room hubs need from storage.
type Store interface {
	ListRooms(ctx context.Context) ([]db.Room, error)
	PresentByLog(ctx context.Context) (map[string][]db.Present, error)
	RoomByID(ctx context.Context, id string) (db.Room, error)
	DeleteRoom(ctx context.Context, id string) ([]string, error)
	SetRoomOwner(ctx context.Context, roomID string, ownerID int64) error
	HasRoomEntry(ctx context.Context, roomID string, identityID int64) (bool, error)
	BarFromRoom(ctx context.Context, roomID string, identityID, until int64) error
	BarredUntil(ctx context.Context, roomID string, identityID int64) (int64, error)
	BarAddresses(ctx context.Context, roomID string, identityID int64, addresses []string, until int64) error
	AddressBarredUntil(ctx context.Context, roomID, address string) (int64, error)
	Bans(ctx context.Context, roomID string) ([]db.Identity, error)
	Unban(ctx context.Context, roomID string, identityID int64) error
	SetRoomLocked(ctx context.Context, roomID string, locked bool) error
	SetRoomPassword(ctx context.Context, roomID, hash string) error
	InsertMessages(ctx context.Context, msgs []*db.Message) error
	MessagesAfter(ctx context.Context, roomID string, viewerID, afterSeq int64, limit int) ([]db.Message, error)
	LatestMessages(ctx context.Context, roomID string, viewerID int64, limit int) ([]db.Message, error)
	MessageByID(ctx context.Context, id int64) (db.Message, error)
	MessageBySeq(ctx context.Context, roomID string, seq int64) (db.Message, error)
	ApplyEvent(ctx context.Context, ev *db.Message) (orphanGIF string, err error)
	// In a cluster (cluster.go): filling gaps in what the broker brought.
	EntriesBetween(ctx context.Context, roomID string, after, upto int64) ([]db.Message, error)
	RoomLastSeq(ctx context.Context, roomID string) (int64, error)
	LastSeqs(ctx context.Context) (map[string]int64, error)
	// In a cluster (cluster_presence.go): presence shared through the database.
	StartInstance(ctx context.Context, name string, lease, hold time.Duration) (string, error)
	RenewLease(ctx context.Context, instance string, lease time.Duration) error
	StopInstance(ctx context.Context, instance string, hold time.Duration) error
	ReapInstances(ctx context.Context) ([]string, error)
	AdmitConnection(ctx context.Context, a db.Admission) (db.Admitted, error)
	Disconnect(ctx context.Context, conn int64) error
	SettleDepartures(ctx context.Context, debounce time.Duration) ([]db.Departure, error)
	RemovePerson(ctx context.Context, room string, who db.Identity, notice string) (*db.Message, error)
	RoomPeople(ctx context.Context, room string) ([]db.PresentPerson, error)
	ReapEmptyRooms(ctx context.Context, grace time.Duration) (removed, orphanGIFs []string, err error)
}

// Hooks let the server observe hubs (metrics, rate limits); nil fields are skipped.
type Hooks struct {
	Sockets    func(delta int)
	SlowClient func()
	Message    func(kind string)
	Render     func()
	Refused    func(reason string)
	// Allow is asked before a frame is acted on; an error (a *Refusal, said in the sender's
	// language) refuses it.
	Allow func(identityID int64, action string) error
}

// Config tunes the hubs; zero fields take the defaults noted.
type Config struct {
	LeaveDebounce   time.Duration // 3s: a refresh or a dropped connection inside it is no leave
	RejoinGrace     time.Duration // 30s: after a start, whom the log shows present keeps their place unannounced this long
	EmptyRoomGrace  time.Duration // 60s: an empty room is removed after it
	KickBar         time.Duration // 10m: how long a kicked person stays out
	SendQueue       int           // 256 fragments per socket before it is dropped as slow
	SendQueueBytes  int           // 4 MiB queued (or being written) per socket before it is dropped as slow
	MaxBatch        int           // 256 messages per group commit
	MaxFrameBytes   int64         // 16 KiB per client frame (larger: close 1009)
	MaxMessageRunes int           // 2000 characters per message
	MaxTabsPerRoom  int           // 8 sockets (tabs) per person in one room
	EditWindow      time.Duration // 15m: how long after sending a message may be edited
	TypingFor       time.Duration // 5s: "… is typing" is gone this long after the last sign of it
	FormPresence    time.Duration // 5m: someone posting without a socket (no JS) stays present this long
	ReplayLimit     int           // 1000 messages replayed after a reconnect; beyond, the log reloads
	ReplayBytes     int           // 1 MiB of rendered replay; beyond, the log reloads (keep under SendQueueBytes)
	HistoryPage     int           // 50 messages per page of history
	PingInterval    time.Duration // 25s
	PongWait        time.Duration // 60s
	WriteWait       time.Duration // 10s
	Clock           Clock         // real time; tests move a fake one on
	PasswordCost    int           // bcrypt.DefaultCost for a password the owner sets; tests lower it
	Lease           time.Duration // 10s: in a cluster, an instance not heard of this long is dead
	Hooks           Hooks
}

func (c *Config) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	seti := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	set(&c.LeaveDebounce, 3*time.Second)
	set(&c.RejoinGrace, 30*time.Second)
	set(&c.EmptyRoomGrace, time.Minute)
	set(&c.KickBar, 10*time.Minute)
	set(&c.PingInterval, 25*time.Second)
	set(&c.PongWait, 60*time.Second)
	set(&c.WriteWait, 10*time.Second)
	set(&c.EditWindow, 15*time.Minute)
	set(&c.TypingFor, 5*time.Second)
	set(&c.FormPresence, 5*time.Minute)
	set(&c.Lease, 10*time.Second)
	seti(&c.SendQueue, 256)
	seti(&c.MaxBatch, 256)
	seti(&c.MaxMessageRunes, 2000)
	seti(&c.MaxTabsPerRoom, 8)
	seti(&c.ReplayLimit, 1000)
	seti(&c.SendQueueBytes, 4<<20)
	seti(&c.ReplayBytes, min(1<<20, c.SendQueueBytes/2))
	seti(&c.HistoryPage, 50)
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = 16 << 10
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	if c.PasswordCost == 0 {
		c.PasswordCost = bcrypt.DefaultCost
	}
}

// Rooms is the registry of live room hubs. Every stored room has a hub from creation (or
// server start) until removal, so "empty for the grace period" is counted for rooms nobody
// ever entered and for rooms left over from before a restart alike.
type Rooms struct {
	store Store
	lobby *Lobby
	cfg   *Config
	log   *slog.Logger
	// OnRemoved is called after a room's rows are deleted, with the GIFs no message uses any
	// more, for the caller to delete their files.
	onRemoved func(ctx context.Context, orphanGIFs []string)
	// inserter persists message batches; by default the store directly.
	inserter func(ctx context.Context, msgs []*db.Message) error

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	hubs map[string]*Hub

	names renameBook // renames one at a time, and the names they gave: rename.go

	// broker reaches the other instances of a cluster; cluster.Local in one process.
	broker       cluster.Broker
	clusterHooks ClusterHooks
	instanceName string // this instance's stable name in the cluster
	instance     string // this incarnation's id (db instances row), set by Start
}

// NewRooms builds the registry; Start loads the stored rooms.
func NewRooms(store Store, lobby *Lobby, cfg Config, log *slog.Logger, onRemoved func(context.Context, []string)) *Rooms {
	cfg.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Rooms{store: store, lobby: lobby, cfg: &cfg, log: log, onRemoved: onRemoved,
		inserter: store.InsertMessages, ctx: ctx, cancel: cancel, hubs: map[string]*Hub{}, broker: cluster.Local{}}
}

// Config returns the effective configuration (defaults filled in).
func (rs *Rooms) Config() Config { return *rs.cfg }

// SetInserter routes message persistence through a batching writer shared by all rooms.
func (rs *Rooms) SetInserter(fn func(ctx context.Context, msgs []*db.Message) error) {
	rs.inserter = fn
}

// insert persists a batch. It deliberately ignores the hubs' context: a message accepted just
// before shutdown must still be stored (the writer drains on close), not fail with "canceled".
func (rs *Rooms) insert(_ context.Context, msgs []*db.Message) error {
	return rs.inserter(context.Background(), msgs)
}

// Start loads every stored room into the lobby with nobody in it, each on its grace timer.
func (rs *Rooms) Start(ctx context.Context) error {
	rooms, err := rs.store.ListRooms(ctx)
	if err != nil {
		return fmt.Errorf("realtime: load rooms: %w", err)
	}
	if rs.clustered() {
		for _, r := range rooms {
			rs.Add(r)
		}
		return rs.startInstance(ctx) // who is where is the connection rows' (cluster_presence.go)
	}
	// Who was in each room when the server stopped keeps their place for a while, so that a
	// restart is no storm of leave and join notices (see Hub.restore).
	present, err := rs.store.PresentByLog(ctx)
	if err != nil {
		return fmt.Errorf("realtime: read who was present: %w", err)
	}
	for _, r := range rooms {
		rs.start(r, present[r.ID])
	}
	return nil
}

// Add starts the hub of a newly stored room and shows it in every lobby.
func (rs *Rooms) Add(r db.Room) *Hub { return rs.start(r, nil) }

// start starts a room's hub with the people the log shows present in it before this start.
func (rs *Rooms) start(r db.Room, present []db.Present) *Hub {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if h, ok := rs.hubs[r.ID]; ok {
		return h
	}
	h := newHub(rs, r)
	if rs.clustered() {
		h.joinCluster(rs.ctx)
	}
	h.restore(present)
	rs.hubs[r.ID] = h
	rs.lobby.Upsert(RoomCardView(r, len(h.people)), r.CreatedAt)
	rs.wg.Add(1)
	go func() {
		defer rs.wg.Done()
		h.run(rs.ctx)
	}()
	return h
}

// Hub returns a live room's hub, or nil.
func (rs *Rooms) Hub(id string) *Hub {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.hubs[id]
}

// Count returns how many rooms are live.
func (rs *Rooms) Count() int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return len(rs.hubs)
}

func (rs *Rooms) forget(h *Hub) {
	rs.mu.Lock()
	if rs.hubs[h.id] == h {
		delete(rs.hubs, h.id)
	}
	rs.mu.Unlock()
	rs.lobby.Remove(h.id)
}

func (rs *Rooms) deleteRoom(ctx context.Context, id string) error {
	orphans, err := rs.store.DeleteRoom(ctx, id)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return err
	}
	if rs.onRemoved != nil && len(orphans) > 0 {
		rs.onRemoved(ctx, orphans)
	}
	return nil
}

// Serve admits or refuses one room socket. A refusal is an accepted upgrade closed with a
// 4xxx code and a visible reason, because a refused handshake makes htmx retry forever; ended
// then runs before Serve returns. An admitted socket is read by a fresh goroutine until it
// ends, and ended (if not nil) runs after that.
//
// The reader is a fresh goroutine, not the caller's, because a goroutine's stack only shrinks
// back while it uses under a quarter of it: the admission's waits would leave every idle
// socket's reader holding 4 KiB of stack instead of 2.
//
// addr is the client's address as bars key it (an IPv4 address, an IPv6 /64; "" if unknown):
// a kick or ban bars it too, and a barred one is refused whatever cookie it brings.
func (rs *Rooms) Serve(sock Socket, roomID string, who db.Identity, addr string, afterSeq int64, ended func()) {
	if ended == nil {
		ended = func() {}
	}
	conn := sock.Conn
	c := newClient(conn, who, rs.cfg)
	c.addr = addr
	c.idle = sock.idle
	c.lang = sock.Lang
	c.panel = sock.Panel
	h := rs.Hub(roomID)
	var err error
	if h == nil {
		err = ErrRoomGone
	} else {
		err = h.Join(rs.ctx, c, afterSeq)
	}
	if err != nil {
		if errors.Is(err, ErrRoomGone) && rs.Stopping() {
			// The server is stopping, not the room: 1012 brings the browser back to the next
			// server, where the room still is. 4004 would tell it the room is gone, for good.
			conn.SetWriteDeadline(time.Now().Add(rs.cfg.WriteWait))
			conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(CloseRestart, closeText(c.lang, closeRestarting)))
			conn.Close()
			ended()
			return
		}
		var ref *Refusal
		if !errors.As(err, &ref) {
			ref = errJoinFailed
		}
		rs.Refuse(sock, ref)
		ended()
		return
	}
	c.prepareRead()
	go c.serve(ended)
}

func refusalLabel(code int) string {
	switch code {
	case CloseFull:
		return "full"
	case CloseNeedsPassword:
		return "password"
	case CloseRoomGone:
		return "gone"
	case CloseKicked:
		return "barred"
	case CloseLocked:
		return "locked"
	case CloseNameTaken:
		return "name_taken"
	case CloseTooMany:
		return "too_many"
	case CloseTryAgain:
		return "try_later"
	}
	return "error"
}

// refuse writes the visible reason and the close frame on a socket that was never admitted.
// A refusal for now (1013: the browser comes back with its back-off) shows as an error
// status; any other takes the composer away.
func refuse(sock Socket, cfg *Config, ref *Refusal) {
	conn := sock.Conn
	defer conn.Close()
	// A refused socket is read only for the browser's close reply: a small limit first.
	conn.SetReadLimit(cfg.MaxFrameBytes)
	reason := ref.Text(sock.Lang)
	view := components.RoomClosedOOB(reason)
	if ref.Code == CloseTryAgain {
		view = components.RoomStatusOOB(vocab.StatusError, reason)
	}
	conn.SetWriteDeadline(time.Now().Add(cfg.WriteWait))
	if frag, err := renderIn(sock.Lang, view); err == nil {
		conn.WriteMessage(websocket.TextMessage, frag)
	}
	conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(ref.Code, fitClose(reason)))
	// Wait briefly for the browser's close reply so the code is delivered cleanly.
	conn.SetReadDeadline(time.Now().Add(time.Second))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			return
		}
	}
}

// Stopping reports whether Shutdown has begun: a room that answers "gone" now may well be
// there again after the restart.
func (rs *Rooms) Stopping() bool { return rs.ctx.Err() != nil }

// Shutdown closes every socket with 1012 so browsers reconnect to the next server, and waits
// for the hubs to stop.
//
// In a cluster the instance's rows go too: its people leave after the debounce unless they
// reconnect to another instance.
func (rs *Rooms) Shutdown(ctx context.Context) error {
	rs.cancel()
	done := make(chan struct{})
	go func() { rs.wg.Wait(); close(done) }()
	defer rs.stopInstance(ctx)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Created starts the hub of a room just created here and, in a cluster, has the other
// instances start theirs.
func (rs *Rooms) Created(r db.Room) *Hub {
	h := rs.Add(r)
	rs.announceRoom(r)
	return h
}

// Refuse closes a socket that may not join, with a code and visible reason; CloseTryAgain
// (a rate limit) makes the browser retry with its back-off.
func (rs *Rooms) Refuse(sock Socket, ref *Refusal) {
	if rs.cfg.Hooks.Refused != nil {
		rs.cfg.Hooks.Refused(refusalLabel(ref.Code))
	}
	refuse(sock, rs.cfg, ref)
}
