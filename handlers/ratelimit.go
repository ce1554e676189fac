package handlers

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"gifchat/i18n"
	"gifchat/realtime"
	"gifchat/vocab"
)

// Rate-limited actions. The HTTP handlers ask the Guard with these names; socket frames are
// asked through realtime's Hooks.Allow with the frame's action, which AllowFrame maps here.
const (
	ActionSay        = vocab.ActionSay // a text message, over the socket or the no-JS form
	ActionControl    = "control"       // other socket frames: whisper-to, whisper-cancel, kick
	ActionCreateRoom = "create-room"
	ActionUpload     = "upload"
	ActionConnect    = "connect"
	ActionEnter      = "enter" // a password attempt
	// ActionNewSession is a visitor without a session being given one (a row in the database).
	// It has no session to count against: only its address's bucket applies.
	ActionNewSession = "new-session"
)

// Rate is a token bucket: Burst actions at once, then Limit per second on average. The zero
// Rate is "off": the action is not limited.
type Rate struct {
	Limit rate.Limit
	Burst int
}

// Off reports whether the rate limits nothing.
func (r Rate) Off() bool { return r.Burst <= 0 }

// String formats r the way ParseRate reads it ("2/s:10", "6/m:3", "off").
func (r Rate) String() string {
	if r.Off() {
		return "off"
	}
	per, unit := float64(r.Limit), "s"
	if per < 1 {
		per, unit = per*60, "m"
		if per < 1 {
			per, unit = per*60, "h"
		}
	}
	return strconv.FormatFloat(per, 'f', -1, 64) + "/" + unit + ":" + strconv.Itoa(r.Burst)
}

// ParseRate reads "N/UNIT:BURST" (UNIT s, m or h; e.g. "2/s:10" is a burst of 10, then two
// per second) or "off".
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "off" || s == "0" {
		return Rate{}, nil
	}
	perPart, burstPart, ok := strings.Cut(s, ":")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want N/UNIT:BURST (e.g. 2/s:10) or off", s)
	}
	nPart, unit, ok := strings.Cut(perPart, "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want N/UNIT:BURST (e.g. 2/s:10) or off", s)
	}
	n, err := strconv.ParseFloat(nPart, 64)
	if err != nil || n <= 0 || math.IsInf(n, 0) || math.IsNaN(n) {
		return Rate{}, fmt.Errorf("rate %q: %q is not a positive number", s, nPart)
	}
	var per time.Duration
	switch unit {
	case "s":
		per = time.Second
	case "m":
		per = time.Minute
	case "h":
		per = time.Hour
	default:
		return Rate{}, fmt.Errorf("rate %q: unit must be s, m or h", s)
	}
	burst, err := strconv.Atoi(burstPart)
	if err != nil || burst < 1 {
		return Rate{}, fmt.Errorf("rate %q: burst %q must be a whole number of at least 1", s, burstPart)
	}
	return Rate{Limit: rate.Limit(n / per.Seconds()), Burst: burst}, nil
}

func mustRate(s string) Rate {
	r, err := ParseRate(s)
	if err != nil {
		panic(err)
	}
	return r
}

// DefaultRates are the per-session limits production uses; each is a flag in main.go.
var DefaultRates = map[string]Rate{
	ActionSay:        mustRate("2/s:10"),
	ActionCreateRoom: mustRate("6/m:3"),
	ActionUpload:     mustRate("20/m:5"),
	ActionConnect:    mustRate("30/m:20"),
	ActionEnter:      mustRate("10/m:5"),
	ActionNewSession: mustRate("12/m:12"), // per address: times the address factor, 60 at once
	ActionRename:     mustRate("6/m:3"),   // each rename is a notice in every room the person is in
}

// RateLimitConfig tunes RateLimits; zero fields take the defaults noted.
type RateLimitConfig struct {
	// Rates per session, by action; a missing action is not limited. ActionControl follows
	// ActionSay's rate in a bucket of its own when absent.
	Rates map[string]Rate
	// AddressFactor sizes the per-address buckets: the session's rate and burst times this
	// (default 5), because several people may share one address (a NAT, an office).
	AddressFactor float64
	// TrustProxy takes the client address from the last X-Forwarded-For entry, as set by one
	// reverse proxy in front of the server. Without a proxy that header is the client's own
	// claim and is ignored.
	TrustProxy bool
	// IdleAfter is how long an unused bucket is kept (default 5 minutes); a bucket that has
	// refilled is dropped sooner, since it is no different from a new one.
	IdleAfter time.Duration
	// MaxEntries caps the number of buckets held (default 100,000, about 20 MB at most). When
	// full of buckets in use, new keys are refused: a flood of fresh sessions or addresses
	// must not grow memory without bound.
	MaxEntries int
	// OnLimited observes each refusal (metrics): the action and the scope, "session" or "address".
	OnLimited func(action, scope string)
	// Now is the clock (tests); time.Now by default.
	Now func() time.Time
}

// RateLimits is the Guard of production: a token bucket per (action, session) and per
// (action, client address), both of which must allow an action. It implements Guard for HTTP
// requests, and AllowFrame is realtime's Hooks.Allow for socket frames.
type RateLimits struct {
	cfg RateLimitConfig

	mu        sync.Mutex
	buckets   map[bucketKey]*bucket
	addrOf    map[int64]addrSeen // a session's address, learnt at its socket connect
	lastSweep time.Time
}

type bucketKey struct {
	action  string
	session int64      // 0 for an address bucket
	addr    netip.Addr // the zero Addr for a session bucket
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

type addrSeen struct {
	addr netip.Addr
	seen time.Time
}

// NewRateLimits builds the limiter set.
func NewRateLimits(cfg RateLimitConfig) *RateLimits {
	if cfg.Rates == nil {
		cfg.Rates = DefaultRates
	}
	if _, ok := cfg.Rates[ActionControl]; !ok {
		rates := make(map[string]Rate, len(cfg.Rates)+1)
		for k, v := range cfg.Rates {
			rates[k] = v
		}
		rates[ActionControl] = cfg.Rates[ActionSay]
		cfg.Rates = rates
	}
	if cfg.AddressFactor <= 0 {
		cfg.AddressFactor = 5
	}
	if cfg.IdleAfter <= 0 {
		cfg.IdleAfter = 5 * time.Minute
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 100_000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &RateLimits{cfg: cfg, buckets: map[bucketKey]*bucket{}, addrOf: map[int64]addrSeen{}}
}

// Allow is the Guard for HTTP requests: both the session's and the address's bucket for the
// action must have a token. A socket connect also records the session's address, so that
// its frames count against the address too.
//
// The refusal is said in the request's language.
func (rl *RateLimits) Allow(r *http.Request, identityID int64, action string) string {
	addr := rl.clientAddr(r)
	rl.mu.Lock()
	defer rl.mu.Unlock()
	now := rl.cfg.Now()
	refusal := rl.allowLocked(now, action, identityID, addr)
	if refusal != nil {
		return refusal.Text(i18n.From(r.Context()))
	}
	if action == ActionConnect && identityID != 0 && addr.IsValid() {
		if _, known := rl.addrOf[identityID]; !known && len(rl.addrOf) >= rl.cfg.MaxEntries {
			rl.sweepLocked(now)
		}
		// Still full: this session's frames count against its own bucket only, rather than
		// memory growing without bound.
		if _, known := rl.addrOf[identityID]; known || len(rl.addrOf) < rl.cfg.MaxEntries {
			rl.addrOf[identityID] = addrSeen{addr: addr, seen: now}
		}
	}
	return ""
}

// AllowFrame is realtime's Hooks.Allow: a text message counts as ActionSay, any other frame
// as ActionControl, against the session and the address it connected from. A refusal is a
// *realtime.Refusal, which the room says in the socket's language.
func (rl *RateLimits) AllowFrame(identityID int64, frameAction string) error {
	action := ActionControl
	if frameAction == vocab.ActionSay {
		action = ActionSay
	}
	rl.mu.Lock()
	defer rl.mu.Unlock()
	now := rl.cfg.Now()
	seen, ok := rl.addrOf[identityID]
	if ok {
		seen.seen = now
		rl.addrOf[identityID] = seen
	}
	if refusal := rl.allowLocked(now, action, identityID, seen.addr); refusal != nil {
		return refusal
	}
	return nil
}

// allowLocked takes a token from each bucket that applies, or none: a refusal by the address
// must not also spend the session's token, or a shared address would punish its sessions twice.
func (rl *RateLimits) allowLocked(now time.Time, action string, session int64, addr netip.Addr) *realtime.Refusal {
	r, ok := rl.cfg.Rates[action]
	if !ok || r.Off() {
		return nil
	}
	rl.maybeSweepLocked(now)
	var keys [2]bucketKey
	var scopes [2]string
	n := 0
	if session != 0 {
		keys[n], scopes[n] = bucketKey{action: action, session: session}, "session"
		n++
	}
	if addr.IsValid() {
		keys[n], scopes[n] = bucketKey{action: action, addr: addr}, "address"
		n++
	}
	var bs [2]*bucket
	for i := range n {
		b, err := rl.bucketLocked(now, keys[i], r)
		if err != nil {
			rl.limited(action, "full")
			return errBusy
		}
		bs[i] = b
	}
	for i := range n {
		if bs[i].lim.TokensAt(now) < 1 {
			rl.limited(action, scopes[i])
			return refusalFor(action, bs[i].lim, now)
		}
	}
	for i := range n {
		bs[i].lim.AllowN(now, 1)
		bs[i].used = now
	}
	return nil
}

var errTooManyBuckets = errors.New("rate limits: too many buckets")

func (rl *RateLimits) bucketLocked(now time.Time, k bucketKey, r Rate) (*bucket, error) {
	if b, ok := rl.buckets[k]; ok {
		return b, nil
	}
	if len(rl.buckets) >= rl.cfg.MaxEntries {
		rl.sweepLocked(now)
		if len(rl.buckets) >= rl.cfg.MaxEntries {
			return nil, errTooManyBuckets
		}
	}
	if k.session == 0 {
		r = Rate{Limit: r.Limit * rate.Limit(rl.cfg.AddressFactor), Burst: int(math.Ceil(float64(r.Burst) * rl.cfg.AddressFactor))}
	}
	b := &bucket{lim: rate.NewLimiter(r.Limit, r.Burst), used: now}
	rl.buckets[k] = b
	return b, nil
}

func (rl *RateLimits) limited(action, scope string) {
	if rl.cfg.OnLimited != nil {
		rl.cfg.OnLimited(action, scope)
	}
}

// maybeSweepLocked sweeps at most once a minute, so the cost is spread thin.
func (rl *RateLimits) maybeSweepLocked(now time.Time) {
	if now.Sub(rl.lastSweep) >= time.Minute {
		rl.sweepLocked(now)
	}
}

// sweepLocked drops buckets that are idle or have refilled (a full bucket is the same as a
// new one, so dropping it forgets nothing) and addresses of sessions not seen for a while.
func (rl *RateLimits) sweepLocked(now time.Time) {
	rl.lastSweep = now
	for k, b := range rl.buckets {
		if now.Sub(b.used) > rl.cfg.IdleAfter || b.lim.TokensAt(now) >= float64(b.lim.Burst()) {
			delete(rl.buckets, k)
		}
	}
	for id, s := range rl.addrOf {
		if now.Sub(s.seen) > rl.cfg.IdleAfter {
			delete(rl.addrOf, id)
		}
	}
}

// Len reports how many buckets are held (tests, metrics).
func (rl *RateLimits) Len() int {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	return len(rl.buckets)
}

// errBusy refuses anything when the limiter can track no more buckets.
var errBusy = &realtime.Refusal{Key: "errors.rate.busy"}

// rateReasons are the refusals' catalog messages by action; each takes the wait as "Wait".
var rateReasons = map[string]string{
	ActionSay:        "errors.rate.say",
	ActionControl:    "errors.rate.control",
	ActionCreateRoom: "errors.rate.create_room",
	ActionUpload:     "errors.rate.upload",
	ActionConnect:    "errors.rate.connect",
	ActionEnter:      "errors.rate.enter",
	ActionNewSession: "errors.rate.new_session",
}

// refusalFor is the reason the sender sees: what was refused and when to try again.
func refusalFor(action string, lim *rate.Limiter, now time.Time) *realtime.Refusal {
	wait := time.Duration(math.Ceil((1-lim.TokensAt(now))/float64(lim.Limit()))) * time.Second
	key, ok := rateReasons[action]
	if !ok {
		key = "errors.rate.other"
	}
	return &realtime.Refusal{Key: key, Args: []any{"Wait", waitToSay(wait)}}
}

// waitToSay is a wait as it is told: whole seconds (at least one) under a minute, else
// minutes rounded up, so that "try again in 2 minutes" is never too soon.
func waitToSay(d time.Duration) time.Duration {
	if d < time.Second {
		return time.Second
	}
	if d < time.Minute {
		return d.Truncate(time.Second)
	}
	return time.Duration(math.Ceil(d.Minutes())) * time.Minute
}

// clientAddr is the address the limits count against: the TCP peer, or with TrustProxy the
// last X-Forwarded-For entry. IPv6 addresses count by their /64, the block one subscriber
// usually holds, or a single machine could step through addresses to escape its limit.
func (rl *RateLimits) clientAddr(r *http.Request) netip.Addr {
	return requestAddr(r, rl.cfg.TrustProxy)
}

func addrKey(addr netip.Addr) netip.Addr {
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		if p, err := addr.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return addr
}
