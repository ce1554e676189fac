package main

// Storm mode's bookkeeping: what every member held when the server was signalled, what came
// back afterwards and when, and which notices the restart caused. The figures are worked out
// once the sockets are closed, from plain values, so they can be tested without a server.

import (
	"bytes"
	"math/bits"
	"strings"
)

// noticeSeen is a notice (data-kind="system") a member received after the signal, above its
// room's noted seq: something the restart made the server say.
type noticeSeen struct {
	seq  int64
	kind string // see noticeKind
	at   int64  // when it arrived (unix nanos)
}

// noticeKinds tells a notice's kind from its English text (gifchat's default language, which
// the load generator gets as it sends no Accept-Language): i18n/catalog/live.en.toml and
// people.en.toml, "notice.*". The first match wins, so a text that contains another's pattern
// comes first ("unlocked the room" holds "locked the room", "is now the owner" "is now").
var noticeKinds = []struct {
	kind, pattern string
	suffix        bool // the pattern ends the text; otherwise it is anywhere in it
}{
	{"joined", " joined", true},
	{"left", " left", true},
	{"owner", " is now the owner", true},
	{"kicked", " was removed by the owner", true},
	{"closed", " closed the room", true},
	{"banned", " was banned by the owner", true},
	{"unbanned", " may come back: the owner lifted the ban", true},
	{"unlocked", " unlocked the room", true},
	{"locked", " locked the room: nobody new may enter", true},
	{"password-changed", " changed the room's password", true},
	{"password-removed", " removed the room's password: anyone may enter", true},
	{"renamed", " is now ", false},
}

// noticeKind names the kind of notice text (escaped, as ScanEntries gives it): joined, left,
// owner, kicked, closed, banned, unbanned, locked, unlocked, password-changed,
// password-removed, renamed, or "other" for a text it does not know (another language).
func noticeKind(text []byte) string {
	s := UnescapeText(bytes.TrimSpace(text))
	for _, k := range noticeKinds {
		if k.suffix && strings.HasSuffix(s, k.pattern) || !k.suffix && strings.Contains(s, k.pattern) {
			return k.kind
		}
	}
	return "other"
}

// memberOutcome is what one member (one person's socket in a room) ended with. Times are unix
// nanoseconds.
type memberOutcome struct {
	newest int64    // the newest entry of the room's log it holds (its ?after=)
	got    []uint64 // bitset over the room's seqs: this run's messages it received
	// caughtAt is the last time an entry at or below the room's noted seq reached it after
	// the signal (replayed after its reconnect, or still on its way when the server
	// stopped); 0 if none did.
	caughtAt int64
	// backAt is when its socket last opened after the signal; 0 if it never went down,
	// -1 if it was down at the end.
	backAt  int64
	notices []noticeSeen
}

// roomOutcome is one room's members and the seq they all had to reach: the newest entry any
// of them held at the signal.
type roomOutcome struct {
	noted   int64
	members []memberOutcome
}

// catchUp is how the people came back after a restart signalled at t0.
type catchUp struct {
	Members     int
	Reconnected int   // sockets that went down and came back
	NotBack     int   // sockets down at the end
	AllBack     int64 // ns from t0 to the last socket back (0 if none went down)
	BackTimes   []int64

	CaughtUp    int   // members holding everything up to the noted seq at the end
	AllCaughtUp int64 // ns from t0 until the last of them had (and was back)
	// Missing counts, over all members, this run's messages at or below the noted seq that
	// another member of the room has and they lack.
	Missing int64

	Notices     int            // distinct notices (room, seq) above the noted seq after t0
	ByKind      map[string]int // the same by kind
	Receptions  int            // times members received one
	NoticeTimes []int64        // ns from t0 to each distinct notice's first arrival
}

// accountCatchUp works out who came back and caught up, when, and what the restart said.
func accountCatchUp(t0 int64, rooms []roomOutcome) catchUp {
	c := catchUp{ByKind: map[string]int{}}
	for _, r := range rooms {
		// What the room's members received between them: the messages that exist.
		var exist []uint64
		for _, m := range r.members {
			exist = orBits(exist, m.got)
		}
		first := map[int64]int{} // seq -> index in NoticeTimes
		for _, m := range r.members {
			c.Members++
			back := t0
			switch {
			case m.backAt < 0:
				c.NotBack++
			case m.backAt > 0:
				c.Reconnected++
				c.BackTimes = append(c.BackTimes, m.backAt-t0)
				c.AllBack = max(c.AllBack, m.backAt-t0)
				back = m.backAt
			}
			missing := andNotCount(exist, m.got, r.noted)
			if m.backAt >= 0 && m.newest >= r.noted && missing == 0 {
				c.CaughtUp++
				c.AllCaughtUp = max(c.AllCaughtUp, max(back, m.caughtAt)-t0)
			}
			c.Missing += missing
			for _, n := range m.notices {
				c.Receptions++
				i, ok := first[n.seq]
				if !ok {
					first[n.seq] = len(c.NoticeTimes)
					c.NoticeTimes = append(c.NoticeTimes, n.at-t0)
					c.Notices++
					c.ByKind[n.kind]++
				} else {
					c.NoticeTimes[i] = min(c.NoticeTimes[i], n.at-t0)
				}
			}
		}
	}
	return c
}

// orBits returns a | b, reusing a.
func orBits(a, b []uint64) []uint64 {
	if len(b) > len(a) {
		a = append(a, make([]uint64, len(b)-len(a))...)
	}
	for i, w := range b {
		a[i] |= w
	}
	return a
}

// andNotCount counts the bits set in a and not in b, among bits 0..upTo.
func andNotCount(a, b []uint64, upTo int64) int64 {
	var n int
	for i, w := range a {
		lo := int64(i) << 6
		if lo > upTo {
			break
		}
		if i < len(b) {
			w &^= b[i]
		}
		if upTo-lo < 63 {
			w &= 1<<(upTo-lo+1) - 1
		}
		n += bits.OnesCount64(w)
	}
	return int64(n)
}

// messageLosses is the fate of this run's messages, counted per sender as chat mode does.
type messageLosses struct {
	Expected    int64 // (sent − refused) × members, summed over senders
	Deliveries  int64 // distinct deliveries
	Lost        int64 // Expected − Deliveries: deliveries that never happened
	Partial     int64 // messages some member got and another did not
	Unconfirmed int64 // messages sent (not refused) that no member got, the sender included
	// UnconfirmedBeforeSignal are those of them the sender had written before the signal:
	// in the server's hands (its socket buffers at least) when it was told to stop.
	UnconfirmedBeforeSignal int64
}

// senderOutcome is one sender's count and what each member of its room received from it.
type senderOutcome struct {
	sent, refused int64
	sentAtSignal  int64       // how many it had written when the server was signalled
	got           []*seqTrack // one per member of the room
}

// accountLosses counts what became of the senders' messages.
func accountLosses(senders []senderOutcome) messageLosses {
	var l messageLosses
	for _, s := range senders {
		sent := max(0, s.sent-s.refused)
		var exist []uint64
		for _, g := range s.got {
			l.Expected += sent
			l.Deliveries += g.unique
			l.Lost += max(0, sent-g.unique)
			exist = orBits(exist, g.seen)
		}
		var existing int64
		for _, w := range exist {
			existing += int64(bits.OnesCount64(w))
		}
		unconfirmed := max(0, sent-existing)
		l.Unconfirmed += unconfirmed
		// Which seqs were refused is not known, only how many: a seq nobody got is
		// taken for a refused one before it counts as unconfirmed.
		var before int64
		for seq := int64(1); seq <= min(s.sent, s.sentAtSignal); seq++ {
			if w := int(seq >> 6); w >= len(exist) || exist[w]&(1<<(seq&63)) == 0 {
				before++
			}
		}
		l.UnconfirmedBeforeSignal += min(before, unconfirmed)
		// A message that exists but is missing somewhere: a set bit of exist that some
		// member lacks.
		for wi, w := range exist {
			var everywhere = w
			for _, g := range s.got {
				if wi < len(g.seen) {
					everywhere &= g.seen[wi]
				} else {
					everywhere = 0
				}
			}
			l.Partial += int64(bits.OnesCount64(w &^ everywhere))
		}
	}
	return l
}
