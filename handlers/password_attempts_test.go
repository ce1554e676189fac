package handlers

// Unit tests of the per-room password back-off (password_attempts.go), inside the package:
// handleEnter calls checkRoomPassword, and these tests call it the same way.

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"gifchat/components"
	"gifchat/db"
)

// fakeNow is a clock tests move by hand.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeNow) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeNow) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newFakeNow() *fakeNow { return &fakeNow{t: time.Unix(1_700_000_000, 0)} }

// fail makes one wrong attempt, which must be allowed.
func fail(t *testing.T, p *PasswordAttempts, room string) {
	t.Helper()
	if wait, ok := p.Begin(room); !ok {
		t.Fatalf("an attempt was refused (wait %v) where one was due", wait)
	}
	p.Done(room, false)
}

// TestPasswordBackoff: five wrong passwords in a room cost nothing; each one after that makes
// the room wait 1s, 2s, 4s ... (at most the cap) before it checks the next; a right password
// clears the count, and so does a quiet window.
func TestPasswordBackoff(t *testing.T) {
	clock := newFakeNow()
	p := NewPasswordAttempts(PasswordBackoff{Now: clock.Now, Max: 10 * time.Second, Window: time.Minute})
	for range 5 {
		fail(t, p, "vault")
	}
	fail(t, p, "vault") // the sixth is checked at once, and is the first to cost a wait
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		wait, ok := p.Begin("vault")
		if ok || wait != w {
			t.Fatalf("after %d failures: Begin = %v, %v; want a wait of %v", 6+i, wait, ok, w)
		}
		if _, ok := p.Begin("other"); !ok {
			t.Fatal("another room's door is shut too")
		}
		p.Done("other", true)
		clock.Advance(w - time.Millisecond)
		if _, ok := p.Begin("vault"); ok {
			t.Fatalf("checked %v before the wait of %v was over", time.Millisecond, w)
		}
		clock.Advance(time.Millisecond)
		fail(t, p, "vault")
	}
	// The right password, once it may be tried, clears the count: five free again.
	clock.Advance(10 * time.Second)
	if _, ok := p.Begin("vault"); !ok {
		t.Fatal("refused after the wait")
	}
	p.Done("vault", true)
	for range 6 {
		fail(t, p, "vault")
	}
	if wait, ok := p.Begin("vault"); ok || wait != time.Second {
		t.Fatalf("after a right password and six wrong: %v, %v; want a wait of 1s", wait, ok)
	}
	// A window without failures starts the room from zero.
	clock.Advance(time.Minute)
	for range 6 {
		fail(t, p, "vault")
	}
	if p.Len() != 1 {
		t.Errorf("%d rooms tracked, want 1 (rooms with no failures are not kept)", p.Len())
	}
}

// TestPasswordBackoffBurst: attempts sent all at once are counted while bcrypt checks them,
// so a burst gets no more than the free attempts through; past them, one at a time.
func TestPasswordBackoffBurst(t *testing.T) {
	clock := newFakeNow()
	p := NewPasswordAttempts(PasswordBackoff{Now: clock.Now})
	allowed := 0
	for range 50 {
		if _, ok := p.Begin("vault"); ok {
			allowed++
		}
	}
	if allowed != 5 {
		t.Fatalf("%d of a burst of 50 checked at once, want the 5 free ones", allowed)
	}
	for range allowed {
		p.Done("vault", false)
	}
	if _, ok := p.Begin("vault"); !ok { // the sixth: no wait yet
		t.Fatal("the sixth attempt was refused")
	}
	if _, ok := p.Begin("vault"); ok {
		t.Fatal("a second attempt was checked while the sixth was")
	}
	p.Done("vault", false)
	if wait, ok := p.Begin("vault"); ok || wait != time.Second {
		t.Fatalf("after six failures: %v, %v; want a wait of 1s", wait, ok)
	}
}

// TestPasswordBackoffBounded: memory stays bounded by the number of rooms tracked; rooms
// whose window has passed go first, then the one with the oldest failure, so a room being
// guessed at now keeps its count however many other rooms see a wrong password meanwhile.
func TestPasswordBackoffBounded(t *testing.T) {
	clock := newFakeNow()
	p := NewPasswordAttempts(PasswordBackoff{Now: clock.Now, Rooms: 3, Window: time.Minute, Max: 30 * time.Second})
	// guess waits out the room's back-off, then makes a wrong attempt.
	guess := func(room string) {
		t.Helper()
		for {
			wait, ok := p.Begin(room)
			if ok {
				p.Done(room, false)
				return
			}
			clock.Advance(wait)
		}
	}
	failures := func(room string) int {
		p.mu.Lock()
		defer p.mu.Unlock()
		if a := p.rooms[room]; a != nil {
			return a.failures
		}
		return 0
	}
	for range 8 {
		guess("stale")
	}
	clock.Advance(time.Minute) // its window passes
	for i := range 20 {
		guess("guessed")
		clock.Advance(time.Second)
		guess(fmt.Sprint("room", i))
		if n := p.Len(); n > 3 {
			t.Fatalf("%d rooms tracked, at most 3", n)
		}
		if n := failures("guessed"); n != i+1 {
			t.Fatalf("the room being guessed counts %d failures after %d", n, i+1)
		}
	}
	if failures("stale") != 0 {
		t.Error("a room whose window had passed was kept over rooms in use")
	}
}

// TestPasswordBackoffConcurrent: many goroutines at once, under -race.
func TestPasswordBackoffConcurrent(t *testing.T) {
	p := NewPasswordAttempts(PasswordBackoff{Rooms: 4})
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				room := fmt.Sprint("room", (g+i)%7)
				if _, ok := p.Begin(room); ok {
					p.Done(room, i%9 == 0)
				}
			}
		})
	}
	wg.Wait()
	if p.Len() > 4 {
		t.Fatalf("%d rooms tracked, at most 4", p.Len())
	}
}

// TestCheckRoomPassword is handleEnter's step: wrong passwords from many addresses are
// answered "wrong password" (401) until the room backs off; then even the right password
// gets 429, the form again with the reason and Retry-After, until the wait is over.
func TestCheckRoomPassword(t *testing.T) {
	clock := newFakeNow()
	d := Deps{passwords: NewPasswordAttempts(PasswordBackoff{Now: clock.Now})}
	hash, err := bcrypt.GenerateFromPassword([]byte("open sesame"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	room := db.Room{ID: "abcdefghijklmnop", Title: "Vault", Capacity: 10, PasswordHash: string(hash)}
	page := components.PasswordPage{Room: components.RoomCard{ID: room.ID, Title: room.Title, Private: true}}
	try := func(i int, password string) (*httptest.ResponseRecorder, bool) {
		form := url.Values{"password": {password}}
		r := httptest.NewRequest(http.MethodPost, "/rooms/"+room.ID+"/enter", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.RemoteAddr = fmt.Sprintf("198.51.100.%d:4000", i) // every guess from another address
		if err := r.ParseForm(); err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		return w, checkRoomPassword(w, r, d, room, page)
	}
	for i := range 6 {
		w, ok := try(i, fmt.Sprint("guess", i))
		if ok || w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "wrong password") {
			t.Fatalf("guess %d: %v, %d\n%s", i, ok, w.Code, w.Body)
		}
	}
	w, ok := try(7, "open sesame")
	body := w.Body.String()
	if ok || w.Code != http.StatusTooManyRequests {
		t.Fatalf("during the back-off: %v, %d; want 429", ok, w.Code)
	}
	if !strings.Contains(body, "Too many wrong passwords have been tried for this room") || !strings.Contains(body, "1 second") ||
		!strings.Contains(body, `id="room-password-enter"`) || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("the refusal does not show the form with its reason and Retry-After (%q):\n%s", w.Header().Get("Retry-After"), body)
	}
	clock.Advance(time.Second)
	if w, ok := try(8, "open sesame"); !ok || w.Body.Len() != 0 {
		t.Fatalf("the right password after the wait: %v, %d\n%s", ok, w.Code, w.Body)
	}
	// A password longer than bcrypt reads is wrong, not cut short and compared.
	if w, ok := try(9, "open sesame"+strings.Repeat("x", 80)); ok || w.Code != http.StatusUnauthorized {
		t.Fatalf("an over-long password: %v, %d", ok, w.Code)
	}
}
