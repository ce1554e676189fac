package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ChatConfig describes the chat workload: People spread over Rooms, the
// first Senders members of each room sending.
type ChatConfig struct {
	People   int
	Rooms    int
	Senders  int     // per room
	Rate     float64 // messages/s per sender; 0 = flat out
	Window   int     // max messages per sender not yet echoed back to it
	Duration time.Duration
	Messages int // per sender; 0 = no cap
	Capacity int // capacity field of the create-room form
	// Typers members of each room (after the senders) signal "typing" every TypingEvery
	// while the senders send.
	Typers      int
	TypingEvery time.Duration

	ConnectConcurrency int
	Settle             time.Duration // pause between connecting and sending
	Quiet              time.Duration // then wait for this long without frames (0 = don't)
	Drain              time.Duration // max wait for deliveries after sending
	Reconnects         int           // reconnect attempts allowed per socket; < 0: no limit (as htmx)
	Backoff            *backoff      // how sockets reconnect (nil: htmx's)
	Verbose            bool
	// CPUOf names other processes (by command name, e.g. postgres, nats-server) whose CPU
	// time over the measured window is reported as ServicesCPUSeconds: the database's and the
	// broker's share of a delivery.
	CPUOf []string
}

// chatRoom is one room of the workload.
type chatRoom struct {
	index   int
	id      string
	members []*member
	senders []*member
	typers  []*member
	slotOf  map[int64]int // sender person index -> index into senders
}

// member is one person in a room. The fields below "reader owned" are
// written only by the socket's reader goroutine and read by the main
// goroutine only after that goroutine has exited.
type member struct {
	p     *person
	room  *chatRoom
	sock  *roomSocket // nil if it never connected
	alive bool        // connected when sending began (set before senders start)

	// Sender side; window is nil for non-senders.
	window  chan struct{}
	sent    atomic.Int64
	refused atomic.Int64 // sends the server refused (rate limit etc.)

	// reader owned
	hist      Histogram
	perSender []seqTrack // indexed like room.senders
	dups      int64
	reordered int64
	stray     int64
	lastAt    int64 // unix nanos of the last unique delivery
	refusals  tally
}

// seqTrack follows one sender as seen by one receiver.
type seqTrack struct {
	seen   []uint64 // bitset over seq
	maxSeq int64
	unique int64
}

// observe records seq and reports whether it was new and whether it arrived
// after a higher seq from the same sender.
func (t *seqTrack) observe(seq int64) (isNew, reordered bool) {
	w := int(seq >> 6)
	if w >= len(t.seen) {
		t.seen = append(t.seen, make([]uint64, w-len(t.seen)+1+len(t.seen))...)
	}
	bit := uint64(1) << (seq & 63)
	if t.seen[w]&bit != 0 {
		return false, false
	}
	t.seen[w] |= bit
	t.unique++
	if seq < t.maxSeq {
		return true, true
	}
	t.maxSeq = seq
	return true, false
}

// chatRun holds the state shared by the goroutines of one chat run.
type chatRun struct {
	cfg       ChatConfig
	srv       *server
	runID     int64
	delivered atomic.Int64 // unique deliveries so far, for the drain wait
	wire      wireStats
	typing    typingStats
	// observe, when set, also sees every entry each member's socket receives (storm mode's
	// bookkeeping), after receive; mine says whether it was one of this run's messages.
	observe func(m *member, id int64, kind, text []byte, mine bool)
}

// quietLimit caps the wait for join traffic to die down.
const quietLimit = 60 * time.Second

// RunChat runs the chat workload against srv and returns its result. Errors
// in setup that leave nothing to measure are returned in Result.Error.
func RunChat(ctx context.Context, srv *server, cfg ChatConfig) *Result {
	res := &Result{Target: srv.name, Addr: srv.addrs(), Mode: "chat"}
	res.RSS.PID, res.RSS.Source = srv.pid, srv.rssSource
	cr := &ChatResult{
		Rooms: cfg.Rooms, People: cfg.People, SendersPerRoom: cfg.Senders,
		RatePerSender: cfg.Rate, Window: cfg.Window,
	}
	res.Chat = cr
	run := &chatRun{cfg: cfg, srv: srv, runID: rand.Int64N(1 << 40)}
	if cfg.Typers > 0 {
		run.typing.on = true
		run.wire.typing = &run.typing
	}
	res.RSS.Before = sampleRSS(srv, &res.RSS)

	setupStart := time.Now()
	rooms, err := run.setup(ctx, res)
	cr.SetupSeconds = time.Since(setupStart).Seconds()
	defer run.closeAll(rooms)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.RSS.Ready = sampleRSS(srv, &res.RSS)

	var senders, typers []*member
	for _, r := range rooms {
		for _, m := range r.members {
			if m.alive {
				cr.Members++
			}
		}
		for _, s := range r.senders {
			if s.alive {
				senders = append(senders, s)
			}
		}
		for _, ty := range r.typers {
			if ty.alive {
				typers = append(typers, ty)
			}
		}
	}
	cr.Senders = len(senders)
	if len(senders) == 0 {
		res.Error = "no sender is connected"
		return res
	}

	setupFrames, setupBytes := run.wire.frames.Load(), run.wire.bytes.Load()
	typingLines0, typingFrames0 := run.typing.lines.Load(), run.typing.frames.Load()
	cpu0, cpuErr := serverCPU(srv)
	svc0 := commandsCPU(cfg.CPUOf)
	store0 := scrapeStore(srv)
	start := time.Now()
	run.send(ctx, senders, typers)
	sendEnd := time.Now()
	if cfg.Typers > 0 {
		secs := sendEnd.Sub(start).Seconds()
		tf := &TypingFigures{
			TypersPerRoom: cfg.Typers, Typers: len(typers), EverySeconds: cfg.TypingEvery.Seconds(),
			Signals: run.typing.signals.Load(),
			Lines:   run.typing.lines.Load() - typingLines0,
			Frames:  run.typing.frames.Load() - typingFrames0,
		}
		if secs > 0 {
			tf.SignalsPerSec = float64(tf.Signals) / secs
			tf.LinesPerSec = float64(tf.Lines) / secs
			tf.FramesPerSec = float64(tf.Frames) / secs
		}
		cr.Typing = tf
	}
	run.drain(ctx, rooms)
	cr.Store = scrapeStore(srv).since(store0)
	if cpu1, err := serverCPU(srv); err == nil && cpuErr == nil {
		cr.ServerCPUSeconds = (cpu1 - cpu0).Seconds()
	}
	if len(cfg.CPUOf) > 0 {
		cr.ServicesCPUSeconds = (commandsCPU(cfg.CPUOf) - svc0).Seconds()
	}
	res.RSS.End = sampleRSS(srv, &res.RSS)
	cr.Wire = WireFigures{
		SetupFrames: setupFrames, SetupBytes: setupBytes,
		Frames: run.wire.frames.Load() - setupFrames, Bytes: run.wire.bytes.Load() - setupBytes,
	}

	run.closeAll(rooms)
	run.collect(rooms, res, start, sendEnd)
	return res
}

// plan splits People over Rooms as evenly as possible, and each room's people over the
// server's instances in turn.
func (run *chatRun) plan() []*chatRoom {
	cfg := run.cfg
	rooms := make([]*chatRoom, cfg.Rooms)
	idx := 0
	for i := range rooms {
		size := cfg.People / cfg.Rooms
		if i < cfg.People%cfg.Rooms {
			size++
		}
		r := &chatRoom{index: i, slotOf: make(map[int64]int)}
		for j := 0; j < size; j++ {
			m := &member{p: newPerson(run.srv.instance(j), idx), room: r}
			idx++
			r.members = append(r.members, m)
			if j < cfg.Senders {
				m.window = make(chan struct{}, cfg.Window)
				r.slotOf[int64(m.p.idx)] = len(r.senders)
				r.senders = append(r.senders, m)
			} else if j < cfg.Senders+cfg.Typers {
				r.typers = append(r.typers, m)
			}
		}
		rooms[i] = r
	}
	return rooms
}

// setup creates the rooms, then has every person start a session, enter
// their room and open its socket, a bounded number at a time so that the
// connect figures measure the server rather than a SYN flood.
func (run *chatRun) setup(ctx context.Context, res *Result) ([]*chatRoom, error) {
	rooms := run.plan()
	failures := tally{}
	var mu sync.Mutex
	fail := func(reason string) {
		mu.Lock()
		failures.add(reason)
		mu.Unlock()
	}
	var connect Histogram

	// Rooms first: the first member of each room creates it.
	err := forEachBounded(ctx, len(rooms), run.cfg.ConnectConcurrency, func(i int) {
		r := rooms[i]
		creator := r.members[0].p
		if err := creator.startSession(ctx); err != nil {
			fail("session: " + shortErr(err))
			return
		}
		title := fmt.Sprintf("lg %d room %d", run.runID, i)
		id, err := creator.createRoom(ctx, title, run.cfg.Capacity)
		if err != nil {
			fail("create room: " + shortErr(err))
			return
		}
		r.id = id
	})
	if err != nil {
		return rooms, err
	}
	for _, r := range rooms {
		if r.id == "" {
			res.setFailures(failures)
			return rooms, fmt.Errorf("could not create room %d: %s", r.index, topReasons(failures))
		}
	}

	// Senders connect first, so that when a room turns people away (it is
	// full) the ones refused are receivers and the run still has senders.
	var first, rest []*member
	for _, r := range rooms {
		first = append(first, r.senders...)
		rest = append(rest, r.members[len(r.senders):]...)
	}
	join := func(m *member) {
		if m != m.room.members[0] { // creators already have a session
			if err := m.p.startSession(ctx); err != nil {
				fail("session: " + shortErr(err))
				return
			}
		}
		sock, took, err := openRoomSocket(ctx, m.p, m.room.id, run.cfg.Reconnects, run.cfg.Backoff, &run.wire)
		if err != nil {
			fail(failureReason(err))
			return
		}
		mu.Lock()
		connect.RecordDuration(took)
		mu.Unlock()
		m.perSender = make([]seqTrack, len(m.room.senders))
		m.sock = sock
		var onRefusal func([]byte)
		if m.window != nil {
			m.refusals = tally{}
			onRefusal = func(text []byte) { run.refusal(m, text) }
		}
		go sock.run(ctx, func(id int64, kind, text []byte) {
			mine := run.receive(m, text)
			if run.observe != nil {
				run.observe(m, id, kind, text, mine)
			}
		}, onRefusal)
	}
	for _, wave := range [][]*member{first, rest} {
		err = forEachBounded(ctx, len(wave), run.cfg.ConnectConcurrency, func(i int) { join(wave[i]) })
		if err != nil {
			return rooms, err
		}
	}

	// A server refusing a socket (room full, too many connects) accepts
	// the handshake and then closes with a 4xxx code; the settle pause lets
	// those closes arrive before membership is fixed. Every join also sends
	// traffic to everyone already there (member lists, notices), which in a
	// big room takes a while to drain; measuring before it has would charge
	// the join storm to the chat figures.
	sleepCtx(ctx, run.cfg.Settle)
	if run.cfg.Quiet > 0 && !run.wire.waitQuiet(ctx, run.cfg.Quiet, quietLimit) {
		fmt.Fprintf(os.Stderr, "loadgen: %s: join traffic still flowing after %s; measuring anyway\n", run.srv.name, quietLimit)
	}
	connected := 0
	for _, r := range rooms {
		for _, m := range r.members {
			if m.sock == nil {
				continue
			}
			select {
			case <-m.sock.exited:
				fail("ws closed: " + m.sock.endReason)
			default:
				m.alive = true
				connected++
			}
		}
	}
	res.Connect = summarize(&connect)
	res.setFailures(failures)
	if run.cfg.Verbose {
		fmt.Fprintf(os.Stderr, "loadgen: %s: %d/%d connected\n", run.srv.name, connected, run.cfg.People)
	}
	if connected == 0 {
		return rooms, errors.New("no member connected: " + topReasons(failures))
	}
	return rooms, ctx.Err()
}

// receive handles one entry's text arriving at m (on m's reader goroutine;
// nil for an entry without text) and keeps the per-sender bookkeeping. It
// reports whether the text was one of this run's messages.
func (run *chatRun) receive(m *member, text []byte) bool {
	lt, ok := parseLoadText(text)
	if !ok || lt.run != run.runID {
		return false // notices, GIFs, other people's chat, earlier runs
	}
	now := time.Now().UnixNano()
	slot, ok := m.room.slotOf[lt.sender]
	if !ok {
		m.stray++
		return true
	}
	isNew, reordered := m.perSender[slot].observe(lt.seq)
	if !isNew {
		m.dups++
		return true
	}
	if reordered {
		m.reordered++
	}
	m.hist.Record(now - lt.sentAt)
	m.lastAt = now
	run.delivered.Add(1)
	// The echo of our own message frees a slot in the send window.
	if m.window != nil && lt.sender == int64(m.p.idx) {
		select {
		case <-m.window:
		default:
		}
	}
	return true
}

// refusal handles a refusal notice arriving at sender m. The refused
// message will never come back, so it frees its window slot, and it is
// not expected at any member.
func (run *chatRun) refusal(m *member, text []byte) {
	m.refused.Add(1)
	m.refusals.add(refusalReason(text))
	select {
	case <-m.window:
	default:
	}
}

// drain waits for outstanding deliveries, up to cfg.Drain.
func (run *chatRun) drain(ctx context.Context, rooms []*chatRoom) {
	var expected int64
	for _, r := range rooms {
		n := int64(0)
		for _, m := range r.members {
			if m.alive {
				n++
			}
		}
		for _, s := range r.senders {
			expected += max(0, s.sent.Load()-s.refused.Load()) * n
		}
	}
	deadline := time.Now().Add(run.cfg.Drain)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for run.delivered.Load() < expected && time.Now().Before(deadline) {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// closeAll closes every socket (politely, in parallel) and waits for the
// readers; calling it again is harmless.
func (run *chatRun) closeAll(rooms []*chatRoom) {
	var socks []*roomSocket
	for _, r := range rooms {
		for _, m := range r.members {
			if m.sock != nil {
				socks = append(socks, m.sock)
			}
		}
	}
	shutdownAll(socks)
	run.srv.close()
}
