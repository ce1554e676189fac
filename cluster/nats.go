package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Subjects: one per room, carrying its entries and control events in the order each
// instance published them, and one for the lobby.
const (
	roomSubjectPrefix = "gifchat.room."
	lobbySubject      = "gifchat.lobby"
)

func roomSubject(room string) string { return roomSubjectPrefix + room }

// NATS is the broker of a cluster: core NATS (no JetStream; PostgreSQL is the history).
type NATS struct {
	nc       *nats.Conn
	instance string
	log      *slog.Logger
	hooks    Hooks

	mu        sync.Mutex
	reconnect []func()
}

// Hooks observe the broker for metrics; nil fields are skipped.
type Hooks struct {
	Published    func()
	Received     func()
	Reconnected  func()
	Disconnected func()
	Malformed    func()
}

var _ Broker = (*NATS)(nil)

// DialNATS connects to the NATS server at url as instance. It keeps reconnecting for as long
// as the process runs; a first connection that fails is an error (the operator named a server
// that is not there).
func DialNATS(url, instance string, log *slog.Logger, hooks Hooks) (*NATS, error) {
	b := &NATS{instance: instance, log: log, hooks: hooks}
	nc, err := nats.Connect(url,
		nats.Name("gifchat "+instance),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.PingInterval(5*time.Second),
		nats.MaxPingsOutstanding(2),
		nats.ReconnectBufSize(8<<20),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil {
				// Our own Close (a graceful stop): nothing went wrong, nothing to count.
				b.log.Info("nats connection closed")
				return
			}
			b.log.Warn("nats disconnected", "err", err)
			if b.hooks.Disconnected != nil {
				b.hooks.Disconnected()
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.log.Info("nats reconnected", "server", nc.ConnectedUrlRedacted())
			if b.hooks.Reconnected != nil {
				b.hooks.Reconnected()
			}
			b.mu.Lock()
			fns := append([]func(){}, b.reconnect...)
			b.mu.Unlock()
			for _, fn := range fns {
				fn()
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			// A slow consumer loses messages: the hubs' gap filling recovers them.
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			b.log.Warn("nats", "err", err, "subject", subject)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("cluster: connect to NATS at %s: %w", url, err)
	}
	b.nc = nc
	return b, nil
}

func (b *NATS) Instance() string { return b.instance }

func (b *NATS) publish(subject string, data []byte) error {
	if err := b.nc.Publish(subject, data); err != nil {
		return fmt.Errorf("cluster: publish: %w", err)
	}
	if b.hooks.Published != nil {
		b.hooks.Published()
	}
	return nil
}

func (b *NATS) PublishEntry(e Entry) error { return b.publish(roomSubject(e.Room), encodeEntry(e)) }

func (b *NATS) PublishControl(c Control) error {
	c.From = b.instance
	return b.publish(roomSubject(c.Room), encodeControl(c))
}

func (b *NATS) PublishLobby(ev LobbyEvent) error {
	ev.From = b.instance
	return b.publish(lobbySubject, encodeLobby(ev))
}

func (b *NATS) SubscribeRoom(room string, h RoomHandlers) (func(), error) {
	sub, err := b.nc.Subscribe(roomSubject(room), func(m *nats.Msg) {
		e, c, err := decode(m.Data)
		if err != nil {
			b.malformed(m.Subject, err)
			return
		}
		if b.hooks.Received != nil {
			b.hooks.Received()
		}
		switch {
		case e != nil && h.Entry != nil:
			h.Entry(*e)
		case c != nil && h.Control != nil:
			h.Control(*c)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: subscribe to room %s: %w", room, err)
	}
	noLimits(sub)
	return func() { sub.Unsubscribe() }, nil
}

func (b *NATS) SubscribeLobby(fn func(LobbyEvent)) (func(), error) {
	sub, err := b.nc.Subscribe(lobbySubject, func(m *nats.Msg) {
		ev, err := decodeLobby(m.Data)
		if err != nil {
			b.malformed(m.Subject, err)
			return
		}
		fn(ev)
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: subscribe to the lobby: %w", err)
	}
	noLimits(sub)
	return func() { sub.Unsubscribe() }, nil
}

// noLimits lets a subscription queue what the hub has not taken yet, bounded by memory
// rather than by NATS's default 65,536 messages, which a busy room passes in a second.
func noLimits(sub *nats.Subscription) { sub.SetPendingLimits(1<<20, 256<<20) }

func (b *NATS) malformed(subject string, err error) {
	b.log.Warn("nats: malformed message dropped", "subject", subject, "err", err)
	if b.hooks.Malformed != nil {
		b.hooks.Malformed()
	}
}

func (b *NATS) OnReconnect(fn func()) {
	b.mu.Lock()
	b.reconnect = append(b.reconnect, fn)
	b.mu.Unlock()
}

// Ready reports whether NATS answers now: a round trip to the server within ctx (2 s if
// ctx has no deadline).
func (b *NATS) Ready(ctx context.Context) error {
	if !b.nc.IsConnected() {
		return ErrNotConnected
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
	}
	if err := b.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("%w: %v", ErrNotConnected, err)
	}
	return nil
}

// Close sends what is buffered (for a second at most) and disconnects.
func (b *NATS) Close() {
	b.nc.FlushTimeout(time.Second)
	b.nc.Close()
}
