package handlers

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"gifchat/components"
	"gifchat/db"
	"gifchat/i18n"
)

// Room passwords are limited per session and per address by the rate limits (ActionEnter),
// but many sessions from many addresses can still guess one room's password together. So
// each room also counts its wrong passwords, from everyone at once: the first few cost
// nothing (people mistype), and after that each one makes the room wait before it checks
// the next, doubling up to a cap. A right password clears the count.
//
// The price is that someone guessing a room's password also keeps that room's guests
// waiting at its door; people already in the room are not affected.

// PasswordBackoff tunes PasswordAttempts; zero fields take the defaults noted.
type PasswordBackoff struct {
	Free   int           // 5 wrong passwords in a Window before any wait
	First  time.Duration // 1s: the wait after the first failure past Free, doubling after each
	Max    time.Duration // 5m: the longest wait
	Window time.Duration // 15m, at least 2*Max: a room with no failure for this long starts from zero
	Rooms  int           // 10,000 rooms tracked at most; the stalest is forgotten first
	Now    func() time.Time
}

func (c *PasswordBackoff) defaults() {
	if c.Free <= 0 {
		c.Free = 5
	}
	if c.First <= 0 {
		c.First = time.Second
	}
	if c.Max <= 0 {
		c.Max = 5 * time.Minute
	}
	if c.Window <= 0 {
		c.Window = 15 * time.Minute
	}
	if c.Window < 2*c.Max {
		c.Window = 2 * c.Max // or a guesser who waits out the cap would clear the count too
	}
	if c.Rooms <= 0 {
		c.Rooms = 10_000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// PasswordAttempts counts wrong room passwords per room, in memory, for at most
// PasswordBackoff.Rooms rooms (live rooms are far fewer: -max-rooms). Safe for concurrent use.
type PasswordAttempts struct {
	cfg   PasswordBackoff
	mu    sync.Mutex
	rooms map[string]*roomAttempts
}

type roomAttempts struct {
	failures int       // wrong passwords in the current window
	pending  int       // attempts being checked now (bcrypt takes a while)
	last     time.Time // the latest failure, or when the entry was made
	until    time.Time // no attempt is checked before this
}

// NewPasswordAttempts returns an empty counter.
func NewPasswordAttempts(cfg PasswordBackoff) *PasswordAttempts {
	cfg.defaults()
	return &PasswordAttempts{cfg: cfg, rooms: map[string]*roomAttempts{}}
}

// Begin asks whether a password attempt on the room may be checked now. If not, wait is how
// long until one may. An allowed attempt must be followed by exactly one Done.
//
// Attempts being checked count as failures-to-be, so a burst sent at once cannot get more
// than the free attempts through while the first are still being hashed; past the free ones,
// one attempt at a time is checked.
func (p *PasswordAttempts) Begin(room string) (wait time.Duration, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.cfg.Now()
	a := p.rooms[room]
	if a == nil {
		if len(p.rooms) >= p.cfg.Rooms {
			p.evictLocked(now)
		}
		a = &roomAttempts{last: now}
		p.rooms[room] = a
	}
	if now.Sub(a.last) >= p.cfg.Window {
		a.failures, a.until = 0, time.Time{}
	}
	if now.Before(a.until) {
		return a.until.Sub(now), false
	}
	if a.pending > 0 && a.failures+a.pending >= p.cfg.Free {
		return p.delay(a.failures + a.pending), false
	}
	a.pending++
	return 0, true
}

// Done records how an attempt that Begin allowed ended: a right password clears the room's
// count; a wrong one adds to it and, past the free ones, sets the wait before the next.
func (p *PasswordAttempts) Done(room string, correct bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.rooms[room]
	if a == nil {
		return // evicted meanwhile
	}
	now := p.cfg.Now()
	if a.pending > 0 {
		a.pending--
	}
	if correct {
		a.failures, a.until = 0, time.Time{}
	} else {
		a.failures++
		a.last = now
		if a.failures > p.cfg.Free {
			a.until = now.Add(p.delay(a.failures))
		}
	}
	if a.failures == 0 && a.pending == 0 {
		delete(p.rooms, room)
	}
}

// delay is the wait after the nth failure in a window: First after Free+1, doubling, at most Max.
func (p *PasswordAttempts) delay(failures int) time.Duration {
	n := failures - p.cfg.Free - 1
	if n < 0 {
		n = 0
	}
	if n > 30 {
		return p.cfg.Max
	}
	return min(p.cfg.First<<n, p.cfg.Max)
}

// evictLocked makes room for one more entry: entries whose window has passed go; if none
// has, the one with the oldest failure (never one being checked, if avoidable).
func (p *PasswordAttempts) evictLocked(now time.Time) {
	var oldest string
	var oldestAt time.Time
	for room, a := range p.rooms {
		if a.pending == 0 && now.Sub(a.last) >= p.cfg.Window && !now.Before(a.until) {
			delete(p.rooms, room)
			continue
		}
		if a.pending == 0 && (oldest == "" || a.last.Before(oldestAt)) {
			oldest, oldestAt = room, a.last
		}
	}
	if len(p.rooms) < p.cfg.Rooms {
		return
	}
	if oldest == "" {
		for room := range p.rooms {
			oldest = room
			break
		}
	}
	delete(p.rooms, oldest)
}

// Len reports how many rooms are tracked (tests).
func (p *PasswordAttempts) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.rooms)
}

// checkRoomPassword checks the password in the enter form against the room's, under the
// room's back-off, and reports whether it is right. When it is not, it has answered: 429
// and the password form with how long to wait while the room is backing off, or 401 and
// the form with "wrong password". handleEnter calls it after the per-session rate limit.
func checkRoomPassword(w http.ResponseWriter, r *http.Request, d Deps, room db.Room, page components.PasswordPage) bool {
	wait, ok := d.passwords.Begin(room.ID)
	if !ok {
		secs := int(math.Ceil(wait.Seconds()))
		if secs < 1 {
			secs = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		page.Error = tr(r, "errors.password.backoff", "Wait", i18n.From(r.Context()).Duration(waitToSay(time.Duration(secs)*time.Second)))
		render(w, r, http.StatusTooManyRequests, components.PasswordForm(page))
		return false
	}
	pw := r.PostForm.Get("password")
	correct := len(pw) <= MaxPassword && bcrypt.CompareHashAndPassword([]byte(room.PasswordHash), []byte(pw)) == nil
	d.passwords.Done(room.ID, correct)
	if !correct {
		page.Error = tr(r, "errors.password.wrong")
		render(w, r, http.StatusUnauthorized, components.PasswordForm(page))
	}
	return correct
}
