// Package handlers is gifchat's HTTP surface: pages, forms, the lobby stream (SSE) and the
// room sockets (WebSocket). routes.go lists every URL.
package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"

	"golang.org/x/crypto/bcrypt"

	"gifchat/db"
	"gifchat/realtime"
)

// Store is what the handlers need from storage.
type Store interface {
	sessionStore
	Ping(ctx context.Context) error
	CreateRoom(ctx context.Context, r db.Room) (db.Room, error)
	RoomByID(ctx context.Context, id string) (db.Room, error)
	CountRoomsOwnedBy(ctx context.Context, ownerID int64) (int, error)
	AddRoomEntry(ctx context.Context, roomID string, identityID int64) error
	HasRoomEntry(ctx context.Context, roomID string, identityID int64) (bool, error)
	BarredUntil(ctx context.Context, roomID string, identityID int64) (int64, error)
	LatestMessages(ctx context.Context, roomID string, viewerID int64, limit int) ([]db.Message, error)
	MessagesBefore(ctx context.Context, roomID string, viewerID, beforeSeq int64, limit int) ([]db.Message, error)
	MessageBySeq(ctx context.Context, roomID string, seq int64) (db.Message, error)
	GIFUsage(ctx context.Context, roomID, sha string) (db.GIFUsage, error)
	RenameIdentity(ctx context.Context, id int64, nickname, colour string) error
}

// DefaultMaxGIFBytes is the largest GIF upload unless configured: 5 MiB.
const DefaultMaxGIFBytes = 5 << 20

// DefaultMaxRooms is how many rooms the server holds at once unless configured.
const DefaultMaxRooms = 1000

// DefaultMaxSocketsPerAddress and DefaultMaxLobbyStreamsPerAddress cap the connections one
// client address may hold open unless configured: room sockets and lobby streams.
const (
	DefaultMaxSocketsPerAddress      = 256
	DefaultMaxLobbyStreamsPerAddress = 64
)

// DefaultMaxGIFBytesPerRoom and DefaultMaxGIFStoreBytes bound the disk GIFs take, per room
// and in all, unless configured: 50 MiB and 1 GiB.
const (
	DefaultMaxGIFBytesPerRoom = 50 << 20
	DefaultMaxGIFStoreBytes   = 1 << 30
)

// Config holds the handlers' limits; zero fields take the defaults noted.
type Config struct {
	MaxFormBytes        int64 // 64 KiB for any non-upload request body
	MaxGIFBytes         int64 // 5 MiB per GIF
	MaxGIFBytesPerRoom  int64 // 50 MiB of GIFs per room (each GIF counted once)
	MaxGIFStoreBytes    int64 // 1 GiB of GIFs stored in all
	MaxRoomsPerPerson   int   // 5 rooms owned at once
	MaxRooms            int   // 1000 rooms on the server at once
	MaxSocketsPerPerson int   // 8 room sockets open at once per person, over all rooms
	// MaxSocketsPerAddress: 256 room sockets open at once per client address (people share
	// addresses, so far more than one person's).
	MaxSocketsPerAddress      int
	MaxLobbyStreamsPerPerson  int // 8 lobby streams (GET /rooms/events) open at once per person
	MaxLobbyStreamsPerAddress int // 64 lobby streams open at once per client address
	MaxCapacity               int // 100 places per room; load tests raise it
	// TrustProxy honours X-Forwarded-Proto: https from the one reverse proxy in front (as
	// RateLimitConfig.TrustProxy does X-Forwarded-For): the session cookie is then Secure
	// and __Host-, and answers carry HSTS, as over TLS.
	TrustProxy  bool
	HistoryPage int  // 50 messages per page
	Dev         bool // the component gallery and pprof
	// PasswordCost is the bcrypt cost for room passwords (default bcrypt.DefaultCost); tests
	// lower it, production never should.
	PasswordCost int
}

func (c *Config) defaults() {
	if c.PasswordCost == 0 {
		c.PasswordCost = bcrypt.DefaultCost
	}
	if c.MaxFormBytes <= 0 {
		c.MaxFormBytes = 64 << 10
	}
	if c.MaxGIFBytes <= 0 {
		c.MaxGIFBytes = DefaultMaxGIFBytes
	}
	if c.MaxGIFBytesPerRoom <= 0 {
		c.MaxGIFBytesPerRoom = DefaultMaxGIFBytesPerRoom
	}
	if c.MaxGIFStoreBytes <= 0 {
		c.MaxGIFStoreBytes = DefaultMaxGIFStoreBytes
	}
	if c.MaxRoomsPerPerson <= 0 {
		c.MaxRoomsPerPerson = 5
	}
	if c.MaxRooms <= 0 {
		c.MaxRooms = DefaultMaxRooms
	}
	if c.MaxSocketsPerPerson <= 0 {
		c.MaxSocketsPerPerson = 8
	}
	if c.MaxSocketsPerAddress <= 0 {
		c.MaxSocketsPerAddress = DefaultMaxSocketsPerAddress
	}
	if c.MaxLobbyStreamsPerPerson <= 0 {
		c.MaxLobbyStreamsPerPerson = 8
	}
	if c.MaxLobbyStreamsPerAddress <= 0 {
		c.MaxLobbyStreamsPerAddress = DefaultMaxLobbyStreamsPerAddress
	}
	if c.MaxCapacity < MaxCapacity {
		c.MaxCapacity = MaxCapacity
	}
	if c.HistoryPage <= 0 {
		c.HistoryPage = 50
	}
}

// Deps are the server's collaborators.
type Deps struct {
	Store  Store
	Lobby  *realtime.Lobby
	Rooms  *realtime.Rooms
	Log    *slog.Logger
	Config Config
	// Extra routes mounted by main (e.g. /metrics); may be nil.
	Metrics http.Handler
	// Hook points for later guards; nil means allow.
	Guard Guard
	// GIFs stores uploaded GIFs and serves them; nil answers uploads with 503.
	GIFs GIFStore
	// Events observe what the handlers do (metrics); nil fields are skipped.
	Events Events
	// Ready, when set, is asked by /healthz besides the database: in a cluster, whether NATS
	// answers.
	Ready func(context.Context) error

	sockets     *socketCounter           // set by NewServer: open room sockets per person
	addrSockets *connCounter[netip.Addr] // set by NewServer: open room sockets per client address
	passwords   *PasswordAttempts        // set by NewServer: wrong room passwords per room
}

// Events are the handlers' observation points; nil fields are skipped.
type Events struct {
	// GIFPosted is told the size of every GIF posted to a room.
	GIFPosted func(bytes int64)
}

// Guard decides rate limits; a non-empty answer refuses the request with that reason.
type Guard interface {
	Allow(r *http.Request, identityID int64, action string) string
}

type allowAll struct{}

func (allowAll) Allow(*http.Request, int64, string) string { return "" }

// NewServer builds the whole HTTP handler.
func NewServer(d Deps) http.Handler {
	d.Config.defaults()
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Guard == nil {
		d.Guard = allowAll{}
	}
	d.sockets = newConnCounter[int64]()
	d.addrSockets = newConnCounter[netip.Addr]()
	// The lobby counts its own streams (it knows when each ends); the caps are the handlers'.
	d.Lobby.SetLimits(realtime.LobbyLimits{PerSession: d.Config.MaxLobbyStreamsPerPerson, PerAddress: d.Config.MaxLobbyStreamsPerAddress})
	d.passwords = NewPasswordAttempts(PasswordBackoff{})
	mux := http.NewServeMux()
	addRoutes(mux, d)
	var h http.Handler = mux
	h = limitBodies(d.Config.MaxFormBytes, d.Config.MaxGIFBytes, h)
	h = crossOrigin(h)
	h = withLang(h)
	h = securityHeaders(d.Config.TrustProxy, h)
	h = withClientAddr(d.Config.TrustProxy, h)
	h = recoverPanics(d.Log, h)
	return h
}
