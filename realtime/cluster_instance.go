package realtime

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"gifchat/cluster"
	"gifchat/db"
)

// One instance of a cluster (../shared/CLUSTER.md), as the registry runs it: its lease and the
// cluster's shared chores (upkeep), and the rooms other instances create and remove. What a
// room's hub does with presence across instances is in cluster_presence.go; its log's
// fan-out in cluster.go.

// Maintenance is how often an instance runs the cluster's chores: it renews its lease (every
// third of Config.Lease), reaps dead instances, announces settled leaves and removes rooms
// empty past the grace.
const Maintenance = 500 * time.Millisecond

// SetCluster makes the registry one instance of a cluster, named name (stable across
// restarts: a restarted instance drops its previous incarnation's connections at once). Call
// it before Start; without it the registry is a single process (cluster.Local).
func (rs *Rooms) SetCluster(b cluster.Broker, name string, hooks ClusterHooks) {
	rs.broker, rs.clusterHooks, rs.instanceName = b, hooks, name
	b.OnReconnect(rs.checkTails)
}

// startInstance registers this instance (a lease row) and runs its upkeep until Shutdown.
func (rs *Rooms) startInstance(ctx context.Context) error {
	id, err := rs.store.StartInstance(ctx, rs.instanceName, rs.cfg.Lease, rs.rejoinHold())
	if err != nil {
		return err
	}
	rs.instance = id
	stop, err := rs.broker.SubscribeLobby(rs.lobbyEvent)
	if err != nil {
		return err
	}
	rs.wg.Add(2)
	go func() {
		defer rs.wg.Done()
		defer stop()
		rs.watchTails()
	}()
	go func() {
		defer rs.wg.Done()
		rs.upkeep()
	}()
	return nil
}

// upkeep renews the lease and runs the cluster's shared chores; any instance may run them at
// once, the database's locks make each happen once.
func (rs *Rooms) upkeep() {
	t := time.NewTicker(Maintenance)
	defer t.Stop()
	renewed := time.Now()
	for {
		select {
		case <-rs.ctx.Done():
			return
		case <-t.C:
		}
		ctx := rs.ctx
		if time.Since(renewed) >= rs.cfg.Lease/3 {
			switch err := rs.store.RenewLease(ctx, rs.instance, rs.cfg.Lease); {
			case errors.Is(err, db.ErrLeaseLost):
				// Taken for dead (a long pause): our connections are gone from the database.
				// Register again and have every socket come back, re-admitted.
				rs.log.Error("cluster: lease lost; re-registering, sockets reconnect")
				if id, err := rs.store.StartInstance(ctx, rs.instanceName, rs.cfg.Lease, rs.rejoinHold()); err == nil {
					rs.instance = id
				}
				for _, h := range rs.allHubs() {
					h.do(func() { h.eachSocket(func(c *Client) { c.close(CloseRestart, closeRestarting) }) })
				}
			case err != nil:
				warnUnlessStopping(ctx, rs.log, "cluster: renew lease", err)
				continue
			}
			renewed = time.Now()
		}
		rs.maintain(ctx)
	}
}

// maintain is one round of upkeep's shared chores: dead instances reaped, departures settled,
// empty rooms removed.
func (rs *Rooms) maintain(ctx context.Context) {
	if _, err := rs.store.ReapInstances(ctx); err != nil {
		warnUnlessStopping(ctx, rs.log, "cluster: reap instances", err)
	}
	departures, err := rs.store.SettleDepartures(ctx, rs.cfg.LeaveDebounce)
	if err != nil {
		warnUnlessStopping(ctx, rs.log, "cluster: settle departures", err)
	}
	for _, d := range departures {
		if h := rs.Hub(d.Room); h != nil {
			h.do(func() { h.departed(d) })
		}
	}
	removed, orphans, err := rs.store.ReapEmptyRooms(ctx, rs.cfg.EmptyRoomGrace)
	if err != nil {
		warnUnlessStopping(ctx, rs.log, "cluster: reap empty rooms", err)
	}
	for _, id := range removed {
		rs.dropRoom(id)
		rs.announceRemoval(id)
	}
	if len(orphans) > 0 && rs.onRemoved != nil {
		rs.onRemoved(ctx, orphans)
	}
}

// warnUnlessStopping logs a failed background step as a warning, or at debug level when ctx
// has ended: the instance is stopping and cut its own queries short, which is no fault. (A
// stopping instance behind a 10,000-person storm logged 39 such warnings.)
func warnUnlessStopping(ctx context.Context, log *slog.Logger, msg string, err error) {
	if ctx.Err() != nil {
		log.Debug(msg, "err", err)
		return
	}
	log.Warn(msg, "err", err)
}

// rejoinHold is how much longer than a leave's debounce the people of an instance that went
// away keep their places: together RejoinGrace, as for everyone after a single server's
// restart (Hub.restore).
func (rs *Rooms) rejoinHold() time.Duration {
	return max(0, rs.cfg.RejoinGrace-rs.cfg.LeaveDebounce)
}

// stopInstance removes this instance's rows at shutdown: its people leave after RejoinGrace
// unless they reconnect to another instance (their sockets are told to, with 1012).
func (rs *Rooms) stopInstance(ctx context.Context) {
	if rs.instance == "" {
		return
	}
	if err := rs.store.StopInstance(context.WithoutCancel(ctx), rs.instance, rs.rejoinHold()); err != nil {
		rs.log.Warn("cluster: stop instance", "err", err)
	}
}

// announceRoom tells the other instances a room was created here, so they run its hub and
// list it.
func (rs *Rooms) announceRoom(r db.Room) {
	if !rs.clustered() {
		return
	}
	if err := rs.broker.PublishLobby(cluster.LobbyEvent{Room: r.ID, Created: r.CreatedAt}); err != nil {
		rs.log.Warn("cluster: publish new room", "err", err)
	}
}

// announceRemoval tells the other instances a room was removed here (its owner closed it), so
// they close its sockets and take it off their lobbies.
func (rs *Rooms) announceRemoval(id string) {
	if !rs.clustered() {
		return
	}
	if err := rs.broker.PublishLobby(cluster.LobbyEvent{Room: id, Removed: true}); err != nil {
		rs.log.Warn("cluster: publish room removal", "err", err)
	}
}

// lobbyEvent is another instance's room created or removed.
func (rs *Rooms) lobbyEvent(ev cluster.LobbyEvent) {
	if ev.From == rs.broker.Instance() {
		return
	}
	if ev.Removed {
		rs.dropRoom(ev.Room)
		return
	}
	if rs.Hub(ev.Room) != nil {
		return
	}
	r, err := rs.store.RoomByID(rs.ctx, ev.Room)
	if err != nil {
		return // removed meanwhile
	}
	rs.Add(r)
}

// dropRoom ends a room's hub here after its rows were removed (by this instance's reaper or
// another's): its sockets are told the room is gone.
func (rs *Rooms) dropRoom(id string) {
	h := rs.Hub(id)
	if h == nil {
		return
	}
	h.do(func() {
		h.stop()
		h.eachSocket(func(c *Client) { c.close(CloseRoomGone, closeRoomClosed) })
		h.people = map[int64]*presence{}
		h.rooms.forget(h)
	})
}
