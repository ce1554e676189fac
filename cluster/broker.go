// Package cluster moves a room's rendered entries and control events between gifchat
// instances (../shared/CLUSTER.md is the design). PostgreSQL holds every durable fact; the
// broker only carries bytes that make the other instances' deliveries quick, and may lose or
// reorder them: each room hub delivers by the room's sequence numbers and fills gaps from the
// database.
//
// One process without a cluster uses Local, which carries nothing: the hub's own delivery is
// all there is. The same hub code runs in both modes behind Broker.
package cluster

import (
	"context"
	"errors"

	"gifchat/i18n"
)

// Entry is one entry of a room's log, committed by the instance that publishes it: its place
// in the log, its fragment rendered in each language, and who may see it (nil: everyone in the
// room; a whisper: its two people).
type Entry struct {
	Room     string
	Seq      int64
	Frags    [i18n.Count][]byte
	Audience []int64
}

// Control kinds: what a hub tells the others' hubs of the same room.
const (
	// ControlClose closes Identity's sockets in the room, with Code and Reason's catalog key in
	// Data (a kick or a ban; the bar is already in the database).
	ControlClose = "close"
	// ControlMembers says the room's presence changed: instances re-read the members panel.
	ControlMembers = "members"
	// ControlTyping carries the typing line's state (Data: the hub's own encoding).
	ControlTyping = "typing"
	// ControlRoom says the room's row changed (locked, password, bans): instances read it again.
	ControlRoom = "room"
	// ControlRenamed says Identity took another name and colour (Data: nickname, NUL,
	// colour); the notice travels as an entry.
	ControlRenamed = "renamed"
)

// Control is an event about a room that is not an entry of its log.
type Control struct {
	Room     string
	Kind     string
	Identity int64
	Data     []byte
	// From is the publishing instance, so it can skip its own events.
	From string
}

// LobbyEvent is a change of the lobby's list, published after commit: a room created or
// updated (Card, the components.RoomCard as JSON) or removed.
type LobbyEvent struct {
	Room    string
	Removed bool
	Card    []byte
	Created int64
	From    string
}

// RoomHandlers receive one room's traffic, each on the broker's goroutine for that
// subscription: they must hand the event to the room's hub and return.
type RoomHandlers struct {
	Entry   func(Entry)
	Control func(Control)
}

// Broker publishes a room's traffic to the other instances and receives theirs.
type Broker interface {
	// Instance is this instance's id in the cluster ("" for Local).
	Instance() string
	// PublishEntry sends a committed entry to the other instances with members of its room.
	PublishEntry(Entry) error
	// PublishControl sends a control event to the room's other instances.
	PublishControl(Control) error
	// SubscribeRoom receives the room's entries and control events until the returned stop
	// is called. Entries this instance published come back too; the hub drops them by seq.
	SubscribeRoom(room string, h RoomHandlers) (stop func(), err error)
	// PublishLobby and SubscribeLobby carry the lobby's list changes.
	PublishLobby(LobbyEvent) error
	SubscribeLobby(func(LobbyEvent)) (stop func(), err error)
	// OnReconnect registers fn to run after the broker reconnects: hubs check their room's
	// tail, as anything published meanwhile was lost to them.
	OnReconnect(fn func())
	// Ready reports whether the broker is connected (for /healthz).
	Ready(ctx context.Context) error
	Close()
}

// ErrNotConnected is Ready's answer while the broker is away.
var ErrNotConnected = errors.New("cluster: broker not connected")

// Local is the broker of a single process: there is no one else to tell, and nothing to
// hear from.
type Local struct{}

var _ Broker = Local{}

func (Local) Instance() string                                   { return "" }
func (Local) PublishEntry(Entry) error                           { return nil }
func (Local) PublishControl(Control) error                       { return nil }
func (Local) PublishLobby(LobbyEvent) error                      { return nil }
func (Local) SubscribeRoom(string, RoomHandlers) (func(), error) { return func() {}, nil }
func (Local) SubscribeLobby(func(LobbyEvent)) (func(), error)    { return func() {}, nil }
func (Local) OnReconnect(func())                                 {}
func (Local) Ready(context.Context) error                        { return nil }
func (Local) Close()                                             {}
