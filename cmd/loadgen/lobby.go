package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// readSSE calls onEvent with the data of every server-sent event on r (the
// "data:" lines joined by newlines) until r ends. Lines can be long (a lobby
// snapshot is one event), hence the large scanner buffer.
func readSSE(r io.Reader, onEvent func(data []byte)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var data []byte
	have := false
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			if have {
				onEvent(data)
			}
			data, have = data[:0], false
			continue
		}
		if v, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			v = bytes.TrimPrefix(v, []byte(" "))
			if have {
				data = append(data, '\n')
			}
			data = append(data, v...)
			have = true
		}
		// event:, id:, retry: and ":" comments carry nothing we measure.
	}
	return sc.Err()
}

// subscriber is one lobby SSE stream.
type subscriber struct {
	p      *person
	cancel context.CancelFunc
	ready  chan struct{} // closed once the snapshot event has arrived
	done   chan struct{} // closed when the stream ends

	mu        sync.Mutex
	snapshot  map[string]bool
	firstSeen map[string]time.Time // rooms that appeared after the snapshot
}

// openSubscribers starts a session and a lobby stream for each of n people
// and waits until each has its snapshot (or failed). The connect histogram
// gets the time from request to snapshot.
func openSubscribers(ctx context.Context, srv *server, n, concurrency int, connect *Histogram, failures tally) ([]*subscriber, error) {
	subs := make([]*subscriber, n)
	var mu sync.Mutex
	err := forEachBounded(ctx, n, concurrency, func(i int) {
		s := &subscriber{
			p:         newPerson(srv.instance(i), i),
			ready:     make(chan struct{}),
			done:      make(chan struct{}),
			snapshot:  make(map[string]bool),
			firstSeen: make(map[string]time.Time),
		}
		fail := func(reason string) {
			mu.Lock()
			failures.add(reason)
			mu.Unlock()
		}
		if err := s.p.startSession(ctx); err != nil {
			fail("session: " + shortErr(err))
			return
		}
		sctx, cancel := context.WithCancel(ctx)
		s.cancel = cancel
		t0 := time.Now()
		resp, err := s.p.openLobby(sctx)
		if err != nil {
			cancel()
			fail("events: " + shortErr(err))
			return
		}
		go s.read(resp.Body)
		select {
		case <-s.ready:
			mu.Lock()
			connect.RecordDuration(time.Since(t0))
			mu.Unlock()
			subs[i] = s
		case <-s.done:
			cancel()
			fail("events: stream ended before the snapshot")
		case <-time.After(10 * time.Second):
			cancel()
			fail("events: no snapshot within 10s")
		}
	})
	var open []*subscriber
	for _, s := range subs {
		if s != nil {
			open = append(open, s)
		}
	}
	return open, err
}

func (s *subscriber) read(body io.ReadCloser) {
	defer close(s.done)
	defer body.Close()
	first := true
	_ = readSSE(body, func(data []byte) {
		now := time.Now()
		s.mu.Lock()
		ScanRoomIDs(data, func(id string) {
			if first {
				s.snapshot[id] = true
			} else if _, ok := s.firstSeen[id]; !ok && !s.snapshot[id] {
				s.firstSeen[id] = now
			}
		})
		s.mu.Unlock()
		if first {
			first = false
			close(s.ready)
		}
	})
}

func (s *subscriber) seen(id string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.firstSeen[id]
	return t, ok
}

func closeSubscribers(subs []*subscriber) {
	for _, s := range subs {
		s.cancel()
	}
	for _, s := range subs {
		<-s.done
	}
}

// LobbyConfig describes the lobby fan-out workload.
type LobbyConfig struct {
	Subscribers        int
	Creates            int           // rooms created one after another
	Gap                time.Duration // pause between creations
	Capacity           int
	ConnectConcurrency int
	Settle             time.Duration
	Drain              time.Duration // max wait for every subscriber to see a room
}

// RunLobby opens cfg.Subscribers lobby streams, then creates rooms one at a
// time and measures, for every subscriber, the time from the start of the
// POST until the new room shows up on its stream.
func RunLobby(ctx context.Context, srv *server, cfg LobbyConfig) *Result {
	defer srv.close()
	res := &Result{Target: srv.name, Addr: srv.addrs(), Mode: "lobby"}
	res.RSS.PID, res.RSS.Source = srv.pid, srv.rssSource
	lr := &LobbyResult{Subscribers: cfg.Subscribers, Creates: cfg.Creates}
	res.Lobby = lr
	res.RSS.Before = sampleRSS(srv, &res.RSS)

	var connect Histogram
	failures := tally{}
	subs, err := openSubscribers(ctx, srv, cfg.Subscribers, cfg.ConnectConcurrency, &connect, failures)
	defer closeSubscribers(subs)
	res.Connect = summarize(&connect)
	res.setFailures(failures)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	if len(subs) == 0 {
		res.Error = "no subscriber connected"
		return res
	}
	sleepCtx(ctx, cfg.Settle)
	res.RSS.Ready = sampleRSS(srv, &res.RSS)

	var lat, create Histogram
	for i := 0; i < cfg.Creates && ctx.Err() == nil; i++ {
		if i > 0 {
			sleepCtx(ctx, cfg.Gap)
		}
		// A fresh person per room, so a per-session limit on room creation
		// cannot distort the figures.
		creator := newPerson(srv, cfg.Subscribers+i)
		if err := creator.startSession(ctx); err != nil {
			res.Error = "creator session: " + err.Error()
			break
		}
		t0 := time.Now()
		id, err := creator.createRoom(ctx, fmt.Sprintf("lg lobby %d", i), cfg.Capacity)
		if err != nil {
			res.Error = err.Error()
			break
		}
		create.RecordDuration(time.Since(t0))
		lr.Expected += len(subs)

		deadline := time.Now().Add(cfg.Drain)
		pending := subs
		for len(pending) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
			next := pending[:0:0]
			for _, s := range pending {
				if at, ok := s.seen(id); ok {
					lat.RecordDuration(at.Sub(t0))
					lr.Seen++
				} else {
					next = append(next, s)
				}
			}
			pending = next
			if len(pending) > 0 {
				time.Sleep(time.Millisecond)
			}
		}
		lr.Missed += len(pending)
	}
	res.RSS.End = sampleRSS(srv, &res.RSS)
	lr.Latency = summarize(&lat)
	lr.CreateTime = summarize(&create)
	return res
}
