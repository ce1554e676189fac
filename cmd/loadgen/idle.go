package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// IdleConfig describes the idle-connections workload.
type IdleConfig struct {
	Conns              int
	Kind               string // "ws" (room sockets) or "sse" (lobby streams)
	Capacity           int    // people per room for "ws"
	Reconnects         int    // reconnect attempts allowed per socket; < 0: no limit
	Backoff            *backoff
	Quiet              time.Duration
	ConnectConcurrency int
	Settle             time.Duration
}

// RunIdle opens cfg.Conns connections that then do nothing, and reports how
// much the server's RSS grew per connection. The "before" sample is taken
// before any session exists, so the figure covers the session as well.
func RunIdle(ctx context.Context, srv *server, cfg IdleConfig) *Result {
	defer srv.close()
	res := &Result{Target: srv.name, Addr: srv.addrs(), Mode: "idle"}
	res.RSS.PID, res.RSS.Source = srv.pid, srv.rssSource
	ir := &IdleResult{Kind: cfg.Kind, Requested: cfg.Conns}
	res.Idle = ir
	res.RSS.Before = sampleRSS(srv, &res.RSS)

	var connect Histogram
	failures := tally{}
	var err error
	switch cfg.Kind {
	case "sse":
		var subs []*subscriber
		subs, err = openSubscribers(ctx, srv, cfg.Conns, cfg.ConnectConcurrency, &connect, failures)
		defer closeSubscribers(subs)
		sleepCtx(ctx, cfg.Settle)
		for _, s := range subs {
			select {
			case <-s.done:
			default:
				ir.Open++
			}
		}
	case "ws":
		var socks []*roomSocket
		var wire wireStats
		socks, ir.Rooms, err = openIdleSockets(ctx, srv, cfg, &wire, &connect, failures)
		defer shutdownAll(socks)
		sleepCtx(ctx, cfg.Settle)
		if cfg.Quiet > 0 {
			wire.waitQuiet(ctx, cfg.Quiet, quietLimit)
		}
		for _, s := range socks {
			select {
			case <-s.exited:
				failures.add("ws closed: " + s.endReason)
			default:
				ir.Open++
			}
		}
	default:
		err = fmt.Errorf("unknown idle kind %q", cfg.Kind)
	}
	res.RSS.Ready = sampleRSS(srv, &res.RSS)
	res.RSS.End = res.RSS.Ready
	res.Connect = summarize(&connect)
	res.setFailures(failures)
	if err != nil {
		res.Error = err.Error()
	}
	if res.RSS.Before > 0 && res.RSS.Ready > 0 {
		ir.RSSDeltaBytes = res.RSS.Ready - res.RSS.Before
		if ir.Open > 0 {
			ir.RSSPerConnBytes = float64(ir.RSSDeltaBytes) / float64(ir.Open)
		}
	}
	return res
}

// openIdleSockets fills rooms of cfg.Capacity people each with sockets that
// only read (so pings and closes are still handled, and reconnects happen as
// in a browser).
func openIdleSockets(ctx context.Context, srv *server, cfg IdleConfig, wire *wireStats, connect *Histogram, failures tally) ([]*roomSocket, int, error) {
	perRoom := max(1, min(cfg.Capacity, cfg.Conns))
	nRooms := (cfg.Conns + perRoom - 1) / perRoom
	people := make([]*person, cfg.Conns)
	for i := range people {
		people[i] = newPerson(srv.instance(i%perRoom), i)
	}
	roomIDs := make([]string, nRooms)
	var mu sync.Mutex
	fail := func(reason string) {
		mu.Lock()
		failures.add(reason)
		mu.Unlock()
	}
	err := forEachBounded(ctx, nRooms, cfg.ConnectConcurrency, func(r int) {
		creator := people[r*perRoom]
		if err := creator.startSession(ctx); err != nil {
			fail("session: " + shortErr(err))
			return
		}
		id, err := creator.createRoom(ctx, fmt.Sprintf("lg idle %d", r), cfg.Capacity)
		if err != nil {
			fail("create room: " + shortErr(err))
			return
		}
		roomIDs[r] = id
	})
	if err != nil {
		return nil, nRooms, err
	}
	if len(failures) > 0 {
		return nil, nRooms, errors.New("could not create rooms: " + topReasons(failures))
	}

	socks := make([]*roomSocket, cfg.Conns)
	err = forEachBounded(ctx, cfg.Conns, cfg.ConnectConcurrency, func(i int) {
		p, room := people[i], roomIDs[i/perRoom]
		if i%perRoom != 0 { // creators already have a session
			if err := p.startSession(ctx); err != nil {
				fail("session: " + shortErr(err))
				return
			}
		}
		sock, took, err := openRoomSocket(ctx, p, room, cfg.Reconnects, cfg.Backoff, wire)
		if err != nil {
			fail(failureReason(err))
			return
		}
		mu.Lock()
		connect.RecordDuration(took)
		mu.Unlock()
		go sock.run(ctx, nil, nil)
		socks[i] = sock
	})
	var open []*roomSocket
	for _, s := range socks {
		if s != nil {
			open = append(open, s)
		}
	}
	return open, nRooms, err
}
