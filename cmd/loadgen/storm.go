package main

// Storm mode: the chat workload, then a restart of the server the load generator started
// (SIGTERM, or SIGKILL), and every person's socket coming back the way htmx brings it back.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"syscall"
	"time"
)

// StormConfig is the chat workload before (and, with KeepSending, through) the restart, and
// the restart itself.
type StormConfig struct {
	Chat        ChatConfig
	Restart     string // "term" (SIGTERM: a graceful shutdown) or "kill" (SIGKILL)
	KeepSending bool   // the senders go on through the restart, as people do
	// NoticeWait is how long everyone must have been back and caught up before the storm is
	// over: notices the restart causes may come later (a leave is announced gifchat's
	// -leave-debounce after a person's last socket went).
	NoticeWait time.Duration
	Timeout    time.Duration // from the signal to the storm being over, at most
}

// stormRun is storm mode's state next to the chat run's.
type stormRun struct {
	cfg     StormConfig
	signal  atomic.Int64   // unix nanos of the signal, 0 before
	noted   []atomic.Int64 // per room index: the newest seq any member held at the signal
	members []stormMember  // per person index
	// sentAtSignal is how many messages each sender had written at the signal.
	sentAtSignal map[*member]int64
}

// stormMember is what storm mode follows of one member, on its socket's reader goroutine
// (read by others once that has exited).
type stormMember struct {
	got      seqTrack // the seqs of this run's messages received
	caughtAt int64
	notices  []noticeSeen
}

// observe is the chat run's hook: it sees every entry every member receives.
func (st *stormRun) observe(m *member, id int64, kind, text []byte, mine bool) {
	sm := &st.members[m.p.idx]
	if mine {
		sm.got.observe(id)
	}
	if st.signal.Load() == 0 {
		return
	}
	now := time.Now().UnixNano()
	if id <= st.noted[m.room.index].Load() {
		sm.caughtAt = now
	} else if string(kind) == "system" {
		sm.notices = append(sm.notices, noticeSeen{seq: id, kind: noticeKind(text), at: now})
	}
}

// RunStorm runs the chat workload against srv, restarts proc (one of srv's instances, or
// behind it) and measures how everyone comes back. It stops proc in the end.
func RunStorm(ctx context.Context, srv *server, cfg StormConfig, proc *serverProc) *Result {
	c := cfg.Chat
	res := &Result{Target: srv.name, Addr: srv.addrs(), Mode: "storm"}
	sr := &StormResult{
		People: c.People, Rooms: c.Rooms, SendersPerRoom: c.Senders, RatePerSender: c.Rate,
		Restart: cfg.Restart, Backoff: c.Backoff.name, KeepSending: cfg.KeepSending,
	}
	res.Storm = sr
	defer func() { // the log's last lines come as the server stops
		proc.stop()
		sr.ServerLog, sr.ServerWarnings, sr.DataRaces = proc.log.snapshot()
	}()
	run := &chatRun{cfg: c, srv: srv, runID: rand.Int64N(1 << 40)}
	st := &stormRun{cfg: cfg, noted: make([]atomic.Int64, c.Rooms), members: make([]stormMember, c.People)}
	run.observe = st.observe
	// RSS: the -server process, the restarted one from the signal on.
	res.RSS.PID, res.RSS.Source = proc.pid(), "pid"
	res.RSS.Before, res.RSS.Peak, _ = readRSS(proc.pid())

	rooms, err := run.setup(ctx, res)
	defer run.closeAll(rooms)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.RSS.Ready, _, _ = readRSS(proc.pid())
	var senders, members []*member
	for _, r := range rooms {
		for _, m := range r.members {
			if m.alive {
				members = append(members, m)
			}
		}
		for _, s := range r.senders {
			if s.alive {
				senders = append(senders, s)
			}
		}
	}
	if len(senders) == 0 {
		res.Error = "no sender is connected"
		return res
	}

	// The chat: the rooms get messages in their logs. Without KeepSending it ends, and
	// everything is delivered, before the signal.
	stopSending, sendDone := make(chan struct{}), make(chan struct{})
	chatStart := time.Now()
	go func() {
		defer close(sendDone)
		run.sendUntil(ctx, senders, nil, stopSending)
	}()
	endSending := func() {
		select {
		case <-stopSending:
		default:
			close(stopSending)
		}
		<-sendDone
		run.drain(ctx, rooms)
	}
	defer endSending()
	if c.Duration > 0 {
		sleepCtx(ctx, c.Duration)
	} else {
		select { // until every sender reached -messages
		case <-sendDone:
		case <-ctx.Done():
		}
	}
	if !cfg.KeepSending {
		endSending()
	}
	sr.ChatSeconds = time.Since(chatStart).Seconds()
	if ctx.Err() != nil {
		res.Error = ctx.Err().Error()
		return res
	}

	// The restart. What each room must get back to is the newest entry any of its members
	// holds now.
	for _, m := range members {
		n := &st.noted[m.room.index]
		n.Store(max(n.Load(), m.sock.lastID.Load()))
	}
	sr.Members = len(members)
	sr.PID = proc.pid()
	sr.RSSBefore, sr.PeakRSSBefore, _ = readRSS(sr.PID)
	attempts0 := make([]int64, len(members))
	for i, m := range members {
		attempts0[i] = m.sock.attempts.Load()
	}
	sig, sigName := syscall.SIGTERM, "SIGTERM"
	if cfg.Restart == "kill" {
		sig, sigName = syscall.SIGKILL, "SIGKILL"
	}
	st.sentAtSignal = make(map[*member]int64, len(senders))
	for _, s := range senders {
		st.sentAtSignal[s] = s.sent.Load()
	}
	frames0, bytes0, panels0 := run.wire.frames.Load(), run.wire.bytes.Load(), run.wire.panels.Load()
	t0 := time.Now()
	st.signal.Store(t0.UnixNano())
	if err := proc.signal(sig); err != nil {
		res.Error = "signal: " + err.Error()
		return res
	}
	exitAt, err := proc.waitExit(exitTimeout)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	sr.ExitSeconds = exitAt.Sub(t0).Seconds()
	debugf("storm: %s, server gone after %s; starting it again", sigName, exitAt.Sub(t0))
	up, err := proc.start(ctx)
	if err != nil {
		res.Error = "restart: " + err.Error()
		return res
	}
	healthyAt := up.healthy
	sr.ListeningSeconds = up.listening.Sub(t0).Seconds()
	sr.DownSeconds = healthyAt.Sub(t0).Seconds()
	sr.PID = proc.pid()
	res.RSS.PID = sr.PID
	debugf("storm: new server (pid %d) healthy %s after the signal", sr.PID, healthyAt.Sub(t0))

	settled := st.waitSettled(ctx, members, t0.Add(cfg.Timeout))
	if !settled {
		res.Error = fmt.Sprintf("not everyone was back and caught up %s after the signal", cfg.Timeout)
		if ctx.Err() != nil {
			res.Error = ctx.Err().Error()
		}
	}
	if cfg.KeepSending {
		endSending()
	}

	// Read the sockets before they are closed: when each came back, how hard it tried.
	backAt := make([]int64, len(members))
	for i, m := range members {
		switch up := m.sock.upSince.Load(); {
		case up == 0:
			backAt[i] = -1
		case up > t0.UnixNano():
			backAt[i] = up
		}
		n := m.sock.attempts.Load() - attempts0[i]
		sr.ReconnectAttempts += n
		sr.MaxAttemptsPerSocket = max(sr.MaxAttemptsPerSocket, n)
	}
	if rss, hwm, err := readRSS(sr.PID); err == nil {
		sr.RSSEnd, sr.PeakRSS = rss, hwm
		res.RSS.End, res.RSS.Peak = rss, hwm
	}
	if cpu, err := readCPU(sr.PID); err == nil {
		sr.CPUSeconds = cpu.Seconds()
	}
	sr.Frames, sr.Bytes, sr.Panels = run.wire.frames.Load()-frames0, run.wire.bytes.Load()-bytes0, run.wire.panels.Load()-panels0
	run.closeAll(rooms)
	st.collect(sr, rooms, members, backAt, t0, healthyAt)
	return res
}

// waitSettled waits until every member's socket is up and holds its room's noted seq (or has
// ended for good), and has stayed so for the notice wait; false if deadline comes first.
func (st *stormRun) waitSettled(ctx context.Context, members []*member, deadline time.Time) bool {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var since time.Time
	for {
		now := time.Now()
		if st.settled(members) {
			if since.IsZero() {
				since = now
				debugf("storm: everyone back and caught up %s after the signal", now.Sub(time.Unix(0, st.signal.Load())))
			}
			if now.Sub(since) >= st.cfg.NoticeWait {
				return true
			}
		} else {
			since = time.Time{}
		}
		if now.After(deadline) {
			return false
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return false
		}
	}
}

func (st *stormRun) settled(members []*member) bool {
	for _, m := range members {
		select {
		case <-m.sock.exited:
			continue // ended for good: it will not come back, the report says why
		default:
		}
		if !m.sock.isUp() || m.sock.lastID.Load() < st.noted[m.room.index].Load() {
			return false
		}
	}
	return true
}

// collect turns the members' bookkeeping into the storm's figures; the sockets are closed.
func (st *stormRun) collect(sr *StormResult, rooms []*chatRoom, members []*member, backAt []int64, t0, healthyAt time.Time) {
	var outcomes []roomOutcome
	var senders []senderOutcome
	refusals, closes, ended := tally{}, tally{}, tally{}
	i := 0
	for _, r := range rooms {
		ro := roomOutcome{noted: st.noted[r.index].Load()}
		var alive []*member
		for _, m := range r.members {
			if !m.alive {
				continue
			}
			alive = append(alive, m)
			sm := &st.members[m.p.idx]
			ro.members = append(ro.members, memberOutcome{
				newest: m.sock.lastID.Load(), got: sm.got.seen, caughtAt: sm.caughtAt,
				backAt: backAt[i], notices: sm.notices,
			})
			i++
			sr.Duplicated += m.dups
			sr.Reordered += m.reordered
			sr.Stray += m.stray
			for reason, n := range m.sock.dialFailures {
				refusals[reason] += n
			}
			for reason, n := range m.sock.reconnects {
				closes[reason] += n
			}
			if m.sock.endReason != "" {
				ended.add(m.sock.endReason)
			}
		}
		outcomes = append(outcomes, ro)
		for slot, s := range r.senders {
			if !s.alive {
				continue
			}
			so := senderOutcome{sent: s.sent.Load(), refused: s.refused.Load(), sentAtSignal: st.sentAtSignal[s]}
			for _, m := range alive {
				so.got = append(so.got, &m.perSender[slot])
			}
			sr.Sent += so.sent
			sr.Refused += so.refused
			senders = append(senders, so)
		}
	}
	cu := accountCatchUp(t0.UnixNano(), outcomes)
	sr.Reconnected, sr.NotBack = cu.Reconnected, cu.NotBack
	sr.CaughtUp, sr.NotCaughtUp, sr.Missing = cu.CaughtUp, cu.Members-cu.CaughtUp, cu.Missing
	sr.AllBackSeconds = time.Duration(cu.AllBack).Seconds()
	sr.AllCaughtUpSeconds = time.Duration(cu.AllCaughtUp).Seconds()
	var h Histogram
	for _, d := range cu.BackTimes {
		h.Record(d)
	}
	sr.Back = summarize(&h)
	if cu.AllBack > 0 {
		sr.JoinsPerSec = float64(cu.Reconnected) / sr.AllBackSeconds
		if fromHealthy := t0.Add(time.Duration(cu.AllBack)).Sub(healthyAt); fromHealthy > 0 {
			sr.JoinsPerSecFromHealthy = float64(cu.Reconnected) / fromHealthy.Seconds()
		}
	}
	sr.Notices, sr.NoticeReceptions = cu.Notices, cu.Receptions
	if len(cu.NoticeTimes) > 0 {
		sr.NoticeFirstMs = float64(slices.Min(cu.NoticeTimes)) / 1e6
		sr.NoticeLastMs = float64(slices.Max(cu.NoticeTimes)) / 1e6
	}
	if len(cu.ByKind) > 0 {
		sr.NoticeKinds = cu.ByKind
	}
	ml := accountLosses(senders)
	sr.Expected, sr.Deliveries, sr.Lost = ml.Expected, ml.Deliveries, ml.Lost
	sr.Partial, sr.Unconfirmed, sr.UnconfirmedBeforeSignal = ml.Partial, ml.Unconfirmed, ml.UnconfirmedBeforeSignal
	if len(refusals) > 0 {
		sr.Refusals = refusals
	}
	if len(closes) > 0 {
		sr.CloseReasons = closes
	}
	if len(ended) > 0 {
		sr.Ended = ended
	}
}
