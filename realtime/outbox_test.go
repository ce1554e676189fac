package realtime

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// recordingSink records batches; send blocks while gate is held, so a test can let work pile up.
type recordingSink struct {
	gate    sync.Mutex
	mu      sync.Mutex
	batches [][]string
	fail    error
	ends    []bool
	ended   chan struct{}
}

func newRecordingSink() *recordingSink { return &recordingSink{ended: make(chan struct{}, 8)} }

func (s *recordingSink) send(frags [][]byte) error {
	s.gate.Lock()
	defer s.gate.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	var b []string
	for _, f := range frags {
		b = append(b, string(f))
	}
	s.batches = append(s.batches, b)
	return s.fail
}

// keepalive is recorded as a batch of its own, "♥".
func (s *recordingSink) keepalive() error { return s.send([][]byte{[]byte("♥")}) }

func (s *recordingSink) end(goodbye bool) {
	s.mu.Lock()
	s.ends = append(s.ends, goodbye)
	s.mu.Unlock()
	s.ended <- struct{}{}
}

func (s *recordingSink) sent() (all []string, batches int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.batches {
		all = append(all, b...)
	}
	return all, len(s.batches)
}

// writerIdle waits until the outbox's writer has left, the queue's memory with it.
func writerIdle(t *testing.T, o *outbox) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		o.mu.Lock()
		idle := !o.running && o.queue == nil && o.spare == nil
		o.mu.Unlock()
		if idle {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the writer did not leave an idle outbox, or kept its queue")
}

// waitTaken waits until the writer has taken what was queued (and is sending it).
func waitTaken(o *outbox) {
	for {
		o.mu.Lock()
		n := len(o.queue)
		o.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func TestOutboxSendsInOrderAndBatchesWhatPiledUp(t *testing.T) {
	s := newRecordingSink()
	o := newOutbox(s, 100, 0)
	s.gate.Lock() // the first send blocks: the rest pile up behind it
	o.push([]byte("a"))
	waitTaken(o)
	for _, f := range []string{"b", "c", "d"} {
		if !o.push([]byte(f)) {
			t.Fatalf("push %s refused", f)
		}
	}
	s.gate.Unlock()
	writerIdle(t, o)
	all, batches := s.sent()
	if strings.Join(all, "") != "abcd" {
		t.Fatalf("sent %q, want abcd in order", all)
	}
	if batches != 2 { // "a" alone, then b, c, d together
		t.Errorf("sent %d batches, want 2 (what piled up behind a send goes as one)", batches)
	}
	// Idle again: a later fragment starts a new writer.
	o.push([]byte("e"))
	writerIdle(t, o)
	if all, _ := s.sent(); strings.Join(all, "") != "abcde" {
		t.Fatalf("after idling, sent %q", all)
	}
}

// TestWarmWriterHandedTheNextOutbox: a writer that has emptied its outbox waits, warm, to be
// handed the next one, rather than every delivery starting a goroutine whose stack then grows
// on the way to the socket; once nothing comes for warmFor it leaves.
func TestWarmWriterHandedTheNextOutbox(t *testing.T) {
	goroutines := map[string]bool{}
	var mu sync.Mutex
	s := &goroutineSink{recordingSink: newRecordingSink(), seen: func(id string) {
		mu.Lock()
		goroutines[id] = true
		mu.Unlock()
	}}
	const sends = 100
	for range sends {
		o := newOutbox(s, 100, 0) // a fresh outbox each time: a writer is handed another's
		o.push([]byte("x"))
		writerIdle(t, o)
	}
	if all, _ := s.sent(); len(all) != sends {
		t.Fatalf("sent %d fragments, want %d", len(all), sends)
	}
	mu.Lock()
	n := len(goroutines)
	mu.Unlock()
	// Nearly always one; a push that comes while the last writer is between its outbox and
	// the wait starts another.
	if n > sends/2 {
		t.Errorf("%d sends, one after another, ran on %d goroutines: writers were not kept warm", sends, n)
	}
	// Then they leave: nothing more comes.
	deadline := time.Now().Add(warmFor + 5*time.Second)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		var left []string
		mu.Lock()
		for id := range goroutines {
			if strings.Contains(stacks, "goroutine "+id+" [") {
				left = append(left, id)
			}
		}
		mu.Unlock()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("writer goroutines %v still there %v after the last send", left, warmFor+5*time.Second)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// goroutineSink tells, for each send, which goroutine runs it.
type goroutineSink struct {
	*recordingSink
	seen func(id string)
}

func (s *goroutineSink) send(frags [][]byte) error {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)] // "goroutine 123 [running]:..."
	id, _, _ := strings.Cut(strings.TrimPrefix(string(buf), "goroutine "), " ")
	s.seen(id)
	return s.recordingSink.send(frags)
}

func TestOutboxKeepaliveAfterQueued(t *testing.T) {
	s := newRecordingSink()
	o := newOutbox(s, 10, 0)
	o.keepalive() // on an idle outbox: the writer starts, sends it, and leaves
	writerIdle(t, o)
	s.gate.Lock()
	o.push([]byte("a"))
	waitTaken(o)
	o.push([]byte("b"))
	o.keepalive()
	o.keepalive() // one is due, however often asked
	s.gate.Unlock()
	writerIdle(t, o)
	if all, _ := s.sent(); strings.Join(all, "") != "♥ab♥" {
		t.Errorf("sent %q, want ♥ a b ♥", all)
	}
	o.close(false)
	<-s.ended
	o.keepalive() // after the end: nothing
	time.Sleep(10 * time.Millisecond)
	if all, _ := s.sent(); len(all) != 4 {
		t.Errorf("a keepalive after the end was sent: %q", all)
	}
}

func TestOutboxFullQueueRefuses(t *testing.T) {
	s := newRecordingSink()
	o := newOutbox(s, 3, 0)
	s.gate.Lock()
	o.push([]byte("in flight"))
	waitTaken(o)
	for i := range 3 {
		if !o.push([]byte{'x'}) {
			t.Fatalf("push %d of 3 refused", i+1)
		}
	}
	if o.push([]byte("one too many")) {
		t.Fatal("a full queue accepted another fragment")
	}
	o.close(true) // dropped as slow: what is queued is not sent
	s.gate.Unlock()
	<-s.ended
	if all, _ := s.sent(); len(all) != 1 {
		t.Errorf("after a dropping close, sent %q; want only the fragment in flight", all)
	}
	if s.ends[0] != true {
		t.Error("end after close should be a goodbye")
	}
}

func TestOutboxCloseSendsQueueThenEndsOnce(t *testing.T) {
	s := newRecordingSink()
	o := newOutbox(s, 10, 0)
	o.push([]byte("reason"))
	o.close(false)
	o.close(true) // later calls change nothing
	o.push([]byte("after close"))
	<-s.ended
	time.Sleep(10 * time.Millisecond)
	if all, _ := s.sent(); strings.Join(all, "|") != "reason" {
		t.Errorf("sent %q, want only what was queued before the close", all)
	}
	if len(s.ends) != 1 || !s.ends[0] {
		t.Errorf("end ran %v, want once with goodbye", s.ends)
	}

	// Closing an outbox that never sent anything still ends it.
	s2 := newRecordingSink()
	newOutbox(s2, 10, 0).close(false)
	select {
	case <-s2.ended:
	case <-time.After(5 * time.Second):
		t.Fatal("closing an idle outbox never ended it")
	}
}

func TestOutboxFailedSendEnds(t *testing.T) {
	s := newRecordingSink()
	s.fail = errors.New("broken pipe")
	o := newOutbox(s, 10, 0)
	o.push([]byte("a"))
	<-s.ended
	o.push([]byte("b"))
	o.close(false)
	time.Sleep(10 * time.Millisecond)
	if len(s.ends) != 1 || s.ends[0] {
		t.Errorf("end ran %v, want once without goodbye", s.ends)
	}
	if _, batches := s.sent(); batches != 1 {
		t.Errorf("%d sends after a failure, want none", batches-1)
	}
}

// TestIdleSocketHasNoWriter: a room socket with nothing to send holds no writer goroutine,
// and it stays open because pings and pongs still flow.
func TestIdleSocketHasNoWriter(t *testing.T) {
	e := newEnv(t, Config{PingInterval: 50 * time.Millisecond, PongWait: 300 * time.Millisecond})
	alice, bob := e.person("alice"), e.person("bob")
	room := e.room(alice, 10, "")
	a := e.dial(alice, room.ID, 0)
	b := e.dial(bob, room.ID, 0)
	a.waitText(bob.Nickname + " joined")
	b.say("hello")
	a.waitText("hello")

	waitNoWriters(t)
	time.Sleep(time.Second) // many ping intervals, more than the pong wait
	select {
	case <-a.closed:
		t.Fatalf("an idle socket was closed (%d %q): pings stopped", a.code, a.reason)
	default:
	}
	b.say("still here")
	a.waitText("still here")
}

// TestSilentSocketClosed: a socket whose browser stops answering pings is closed after
// PongWait, though nothing is written to it (there is no read deadline to expire).
func TestSilentSocketClosed(t *testing.T) {
	e := newEnv(t, Config{PingInterval: 50 * time.Millisecond, PongWait: 300 * time.Millisecond})
	alice := e.person("alice")
	room := e.room(alice, 10, "")
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + fmt.Sprintf("/ws?room=%s&who=%d", room.ID, alice.ID)
	conn, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	time.Sleep(time.Second) // not reading: pings go unanswered
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the server kept a socket open that had not answered pings for three times its PongWait")
			}
			return // closed by the server
		}
	}
}
