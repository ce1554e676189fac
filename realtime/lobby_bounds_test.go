package realtime_test

// The lobby's bounds: the snapshot is rendered once per change of the list, not once per
// subscriber, and streams are capped per session and per client address.

import (
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"gifchat/realtime"
)

// TestLobbySnapshotRenderedOncePerChange: subscribers that connect while the list stays the
// same share one rendering; a change (a new room, a card that changes, a room gone) makes the
// next subscriber's snapshot fresh, and a card upserted unchanged does not.
func TestLobbySnapshotRenderedOncePerChange(t *testing.T) {
	var renders atomic.Int64
	l := realtime.NewLobby(realtime.LobbyHooks{SnapshotRendered: func() { renders.Add(1) }})
	l.Upsert(card("r1", 0), 1)
	l.Upsert(card("r2", 0), 2)

	expect := func(what string, want int64, cards int) {
		t.Helper()
		for i := range 10 {
			_, _, snap := subscribe(t, l, 4)
			if n := strings.Count(snap, `class="room-card"`); n != cards {
				t.Fatalf("%s: subscriber %d's snapshot has %d cards, want %d", what, i, n, cards)
			}
		}
		if got := renders.Load(); got != want {
			t.Fatalf("%s: the snapshot was rendered %d times in all, want %d", what, got, want)
		}
	}
	expect("ten subscribers, no change", 1, 2)
	l.Upsert(card("r3", 0), 3)
	expect("after a new room", 2, 3)
	l.Upsert(card("r3", 0), 3) // the same card again: nothing changed
	expect("after an unchanged card", 2, 3)
	l.Upsert(card("r3", 1), 3)
	expect("after a member count changed", 3, 3)
	l.Remove("r1")
	expect("after a room was removed", 4, 2)
	_, _, snap := subscribe(t, l, 4)
	if !strings.Contains(snap, "1 / 10") || strings.Contains(snap, `id="room-r1"`) {
		t.Errorf("the cached snapshot is not the current list:\n%s", snap)
	}
}

// TestLobbyReserveCapsPerSessionAndAddress: a session may hold PerSession streams, an address
// PerAddress over all its sessions; each refusal says which, and a released place can be
// taken again.
func TestLobbyReserveCapsPerSessionAndAddress(t *testing.T) {
	l := realtime.NewLobby(realtime.LobbyHooks{})
	l.SetLimits(realtime.LobbyLimits{PerSession: 2, PerAddress: 3})
	home, office := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.7")

	refused := func(session int64, addr netip.Addr, want string) {
		t.Helper()
		release, err := l.Reserve(session, addr)
		var ref *realtime.Refusal
		if !errors.As(err, &ref) || release != nil {
			t.Fatalf("session %d from %v: err %v; want a refusal", session, addr, err)
		}
		if !strings.Contains(ref.Error(), want) {
			t.Fatalf("refusal %q does not say %q", ref.Error(), want)
		}
	}
	taken := func(session int64, addr netip.Addr) func() {
		t.Helper()
		release, err := l.Reserve(session, addr)
		if err != nil {
			t.Fatalf("session %d from %v refused: %v", session, addr, err)
		}
		return release
	}

	first := taken(1, home)
	taken(1, home)
	refused(1, home, "You have the lobby open in 2 tabs already")
	refused(1, office, "You have the lobby open in 2 tabs already") // per session, wherever from
	taken(2, home)
	refused(3, home, "open in 3 tabs from your network already")
	taken(3, office) // another address is counted apart

	first()
	first() // a second release gives nothing back twice
	taken(3, home)
	refused(4, home, "from your network")
	taken(1, office) // the place session 1 gave back
	refused(1, office, "You have the lobby open in 2 tabs already")
}
