package handlers_test

// The limiter on its own: how it reads client addresses, keeps its memory bounded, and
// parses rates. rate_limits_test.go checks the limits as people meet them.

// Rate limits against a real server with real sockets. The limiter's clock is a test clock,
// so nothing here depends on how fast the machine is: tokens come back only when the test
// moves the clock.

import (
	. "gifchat/handlers"

	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"gifchat/vocab"
)

func requestFrom(remote string, xff ...string) *http.Request {
	r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/rooms", nil)
	r.RemoteAddr = remote
	for _, v := range xff {
		r.Header.Add("X-Forwarded-For", v)
	}
	return r
}

// X-Forwarded-For is the client's own claim unless a proxy we trust sets it: without
// -trust-proxy, varying it does not escape the address limit.
func TestRateLimitClientAddress(t *testing.T) {
	cfg := RateLimitConfig{Rates: only(map[string]string{ActionCreateRoom: "1/h:1"}), AddressFactor: 2}
	rl := NewRateLimits(cfg)
	for i := range 3 {
		reason := rl.Allow(requestFrom("10.0.0.1:5000", fmt.Sprintf("192.0.2.%d", i)), int64(100+i), ActionCreateRoom)
		if (reason == "") != (i < 2) {
			t.Errorf("untrusted XFF, session %d: %q", i, reason)
		}
	}
	cfg.TrustProxy = true
	rl = NewRateLimits(cfg)
	for i := range 3 {
		// The proxy appends the address it saw; what the client sent before it is ignored.
		if reason := rl.Allow(requestFrom("10.0.0.1:5000", "203.0.113.9, "+fmt.Sprintf("192.0.2.%d", i)), int64(100+i), ActionCreateRoom); reason != "" {
			t.Errorf("trusted XFF, distinct clients, session %d: %q", i, reason)
		}
	}
	for i := range 3 {
		reason := rl.Allow(requestFrom("10.0.0.1:5000", "192.0.2.200"), int64(200+i), ActionCreateRoom)
		if (reason == "") != (i < 2) {
			t.Errorf("trusted XFF, same client, session %d: %q", i, reason)
		}
	}
	// IPv6 counts by /64: stepping through one's own block does not escape.
	rl = NewRateLimits(RateLimitConfig{Rates: only(map[string]string{ActionCreateRoom: "1/h:1"}), AddressFactor: 2})
	for i := range 3 {
		reason := rl.Allow(requestFrom(fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1)), int64(300+i), ActionCreateRoom)
		if (reason == "") != (i < 2) {
			t.Errorf("IPv6 in one /64, session %d: %q", i, reason)
		}
	}
}

// Memory stays bounded: buckets that refilled or sat idle are dropped, and when the table is
// full of buckets in use, new keys are refused rather than added.
func TestRateLimitsMemoryBounded(t *testing.T) {
	clock, hits := newTestClock(), &limitHits{}
	rl := NewRateLimits(RateLimitConfig{Rates: only(map[string]string{ActionSay: "1/s:2"}), AddressFactor: 1,
		MaxEntries: 100, IdleAfter: time.Minute, Now: clock.Now, OnLimited: hits.add})
	for i := range 100 {
		if reason := rl.AllowFrame(int64(i+1), vocab.ActionSay); reason != nil {
			t.Fatalf("session %d refused: %v", i, reason)
		}
	}
	if rl.Len() != 100 {
		t.Fatalf("%d buckets, want 100", rl.Len())
	}
	if reason := rl.AllowFrame(1000, vocab.ActionSay); reason == nil || !strings.Contains(reason.Error(), "busy") {
		t.Fatalf("new key with a full table: %v", reason)
	}
	if hits.get("say/full") != 1 {
		t.Error("the full table was not counted")
	}
	// A second later every bucket has refilled and is worth nothing: the next new key sweeps.
	clock.Advance(time.Second)
	if reason := rl.AllowFrame(1000, vocab.ActionSay); reason != nil {
		t.Fatalf("after refill: %v", reason)
	}
	if n := rl.Len(); n != 1 {
		t.Errorf("%d buckets after the sweep, want 1", n)
	}
	// The session-to-address table is bounded the same way.
	// Buckets that refill at once are swept and make room; the addresses learnt must not pile up.
	rl = NewRateLimits(RateLimitConfig{Rates: only(map[string]string{ActionConnect: "100/s:1"}), AddressFactor: 1,
		MaxEntries: 50, IdleAfter: time.Minute, Now: clock.Now})
	for i := range 200 {
		clock.Advance(100 * time.Millisecond)
		if reason := rl.Allow(requestFrom(fmt.Sprintf("10.1.%d.%d:1", i/250, i%250)), int64(i+1), ActionConnect); reason != "" {
			t.Fatalf("connect %d: %q", i, reason)
		}
	}
	if n := rl.SessionAddresses(); n > 50 {
		t.Errorf("%d session addresses held, cap 50", n)
	}
	// Idle buckets go at the next periodic sweep even if not refilled (a slow rate).
	rl = NewRateLimits(RateLimitConfig{Rates: only(map[string]string{ActionSay: "1/h:2"}), AddressFactor: 1,
		IdleAfter: time.Minute, Now: clock.Now})
	for i := range 50 {
		rl.AllowFrame(int64(i+1), vocab.ActionSay)
	}
	clock.Advance(2 * time.Minute)
	rl.AllowFrame(999, vocab.ActionSay)
	if n := rl.Len(); n != 1 {
		t.Errorf("%d buckets after idling past IdleAfter, want 1", n)
	}
}

func TestParseRate(t *testing.T) {
	for _, c := range []struct {
		in    string
		per   float64
		burst int
		ok    bool
	}{
		{"2/s:10", 2, 10, true},
		{"6/m:3", 0.1, 3, true},
		{"30/h:1", 30.0 / 3600, 1, true},
		{"0.5/s:1", 0.5, 1, true},
		{"off", 0, 0, true},
		{"2/s", 0, 0, false},
		{"2:10", 0, 0, false},
		{"-1/s:10", 0, 0, false},
		{"2/d:10", 0, 0, false},
		{"2/s:0", 0, 0, false},
		{"NaN/s:1", 0, 0, false},
		{"", 0, 0, false},
	} {
		r, err := ParseRate(c.in)
		if (err == nil) != c.ok {
			t.Errorf("ParseRate(%q): err %v", c.in, err)
			continue
		}
		if c.ok && (float64(r.Limit)-c.per > 1e-9 || c.per-float64(r.Limit) > 1e-9 || r.Burst != c.burst) {
			t.Errorf("ParseRate(%q) = %+v", c.in, r)
		}
		if c.ok {
			if back, err := ParseRate(r.String()); err != nil || back.Burst != r.Burst {
				t.Errorf("ParseRate(%q).String() = %q does not read back", c.in, r.String())
			}
		}
	}
}
