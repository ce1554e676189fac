package realtime

import (
	"sort"
	"sync"
	"testing"
	"time"

	"gifchat/db"
)

// fakeClock is a Clock that moves only when a test says so: the leave debounce, the empty
// room's grace and kick bars then happen exactly when the test advances past them, whatever
// the machine's load, instead of after sleeps that are too short on a busy machine and
// wasted on an idle one.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clock *fakeClock
	at    time.Time
	f     func()
	done  bool // fired or stopped
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clock: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	was := !t.done
	t.done = true
	return was
}

// Advance moves the clock on by d and runs, in time order, every timer due by then. A timer
// started by what a fired timer does (on a hub's goroutine, later) waits for the next Advance.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	keep := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.done:
		case !t.at.After(c.now):
			t.done = true
			due = append(due, t)
		default:
			keep = append(keep, t)
		}
	}
	c.timers = keep
	c.mu.Unlock()
	sort.SliceStable(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
	for _, t := range due {
		t.f()
	}
}

// settle waits until a room's hub has done everything queued before now (a fired timer's
// work, a join's effects), so a test can look or advance again; a removed room is settled.
func (e *testEnv) settle(roomID string) {
	if h := e.rooms.Hub(roomID); h != nil {
		h.call(func() {})
	}
}

// waitSockets waits until the hub holds n sockets of a person: a closed socket leaves its
// room when the server's reader notices, which the test cannot otherwise see.
func (e *testEnv) waitSockets(t *testing.T, roomID string, who db.Identity, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := -1
		if h := e.rooms.Hub(roomID); h != nil {
			h.call(func() {
				got = 0
				if p := h.people[who.ID]; p != nil {
					got = len(p.sockets)
				}
			})
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("room %s holds %d sockets of %s, want %d", roomID, got, who.Nickname, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
