package main

import (
	"reflect"
	"testing"
)

// Every notice of the English catalog is told apart, escaped as the server sends it.
func TestNoticeKind(t *testing.T) {
	for text, want := range map[string]string{
		"Ann joined":                                            "joined",
		" Ann left\n":                                           "left",
		"Ann is now the owner":                                  "owner",
		"Ann was removed by the owner":                          "kicked",
		"Ann closed the room":                                   "closed",
		"Ann was banned by the owner":                           "banned",
		"Ann may come back: the owner lifted the ban":           "unbanned",
		"Ann locked the room: nobody new may enter":             "locked",
		"Ann unlocked the room":                                 "unlocked",
		"Ann changed the room&#39;s password":                   "password-changed",
		"Ann removed the room&#39;s password: anyone may enter": "password-removed",
		"Ann is now Bob":                                        "renamed",
		"Tom &amp; Jerry left":                                  "left",
		"앤 님이 들어왔습니다":                                           "other",
		"":                                                      "other",
	} {
		if got := noticeKind([]byte(text)); got != want {
			t.Errorf("noticeKind(%q) = %s, want %s", text, got, want)
		}
	}
}

func bitsOf(seqs ...int64) []uint64 {
	var t seqTrack
	for _, s := range seqs {
		t.observe(s)
	}
	return t.seen
}

func TestAndNotCount(t *testing.T) {
	a := bitsOf(1, 2, 3, 63, 64, 65, 130)
	b := bitsOf(2, 64)
	for upTo, want := range map[int64]int64{-1: 0, 0: 0, 1: 1, 3: 2, 62: 2, 63: 3, 64: 3, 65: 4, 129: 4, 130: 5, 1000: 5} {
		if got := andNotCount(a, b, upTo); got != want {
			t.Errorf("up to %d: %d, want %d", upTo, got, want)
		}
	}
	if got := andNotCount(a, nil, 1000); got != 7 {
		t.Errorf("against nothing: %d, want 7", got)
	}
}

// A room whose noted seq is 10: the members that came back and got what they lacked are
// caught up when the last of it arrived (or when they were back, if later); one lacking a
// message another has is not, nor is one still down; the restart's notices count once per
// room and seq, each member's copy as a reception.
func TestAccountCatchUp(t *testing.T) {
	const s = int64(1e9) // one second, in ns
	t0 := 100 * s
	rooms := []roomOutcome{
		{noted: 10, members: []memberOutcome{
			// on another instance: never went down, had everything
			{newest: 10, got: bitsOf(3, 5, 10)},
			// back at +2 s, its replay ended at +2.5 s
			{newest: 12, got: bitsOf(3, 5, 10, 12), backAt: t0 + 2*s, caughtAt: t0 + 5*s/2,
				notices: []noticeSeen{{11, "left", t0 + 6*s}, {13, "joined", t0 + 4*s}}},
			// back at +3 s, nothing to replay: caught up when back
			{newest: 10, got: bitsOf(3, 5, 10), backAt: t0 + 3*s,
				notices: []noticeSeen{{11, "left", t0 + 3*s}}},
		}},
		{noted: 7, members: []memberOutcome{
			// back at +1 s but lacks 5, which the other has: not caught up
			{newest: 7, got: bitsOf(3, 7), backAt: t0 + s},
			// still down at the end
			{newest: 7, got: bitsOf(3, 5, 7), backAt: -1},
			// back at +4 s, holds everything
			{newest: 9, got: bitsOf(3, 5, 7, 9), backAt: t0 + 4*s, caughtAt: t0 + 4*s,
				notices: []noticeSeen{{8, "owner", t0 + 5*s}}},
		}},
	}
	c := accountCatchUp(t0, rooms)
	want := catchUp{
		Members: 6, Reconnected: 4, NotBack: 1, AllBack: 4 * s,
		BackTimes: []int64{2 * s, 3 * s, s, 4 * s},
		CaughtUp:  4, AllCaughtUp: 4 * s, Missing: 1,
		Notices: 3, ByKind: map[string]int{"left": 1, "joined": 1, "owner": 1}, Receptions: 4,
		NoticeTimes: []int64{3 * s, 4 * s, 5 * s},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("accountCatchUp:\n got %+v\nwant %+v", c, want)
	}
	// In the first room alone, the last to catch up is the one back at +3 s with nothing to
	// replay, not the one whose replay ended at +2.5 s.
	c = accountCatchUp(t0, rooms[:1])
	if c.CaughtUp != 3 || c.AllCaughtUp != 3*s || c.AllBack != 3*s || c.Missing != 0 {
		t.Errorf("first room alone: %+v", c)
	}
	// A member whose newest entry is below the noted seq has not caught up, even if it
	// lacks no message of this run (the entry it lacks was a notice).
	c = accountCatchUp(t0, []roomOutcome{{noted: 10, members: []memberOutcome{{newest: 9, got: bitsOf(3), backAt: t0 + s}}}})
	if c.CaughtUp != 0 {
		t.Errorf("behind the noted seq, yet caught up: %+v", c)
	}
}

// Losses as chat mode counts them, plus which messages nobody got (and whether they had
// been sent before the signal) and which only some got.
func TestAccountLosses(t *testing.T) {
	track := func(seqs ...int64) *seqTrack {
		var t seqTrack
		for _, s := range seqs {
			t.observe(s)
		}
		return &t
	}
	l := accountLosses([]senderOutcome{
		// 5 sent, 4 before the signal; 3 reached nobody (sent before the signal), 5 nobody
		// either (after it); 4 reached one of the two members.
		{sent: 5, sentAtSignal: 4, got: []*seqTrack{track(1, 2, 4), track(1, 2)}},
		// all delivered
		{sent: 3, sentAtSignal: 3, got: []*seqTrack{track(1, 2, 3), track(1, 2, 3)}},
		// one refused (the server said so), the rest delivered
		{sent: 2, refused: 1, sentAtSignal: 2, got: []*seqTrack{track(1), track(1)}},
	})
	want := messageLosses{Expected: 10 + 6 + 2, Deliveries: 5 + 6 + 2, Lost: 5, Partial: 1, Unconfirmed: 2, UnconfirmedBeforeSignal: 1}
	if l != want {
		t.Errorf("accountLosses:\n got %+v\nwant %+v", l, want)
	}
}
