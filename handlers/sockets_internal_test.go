package handlers

// The room-socket counter per person and per client address, at the unit level: what
// handleRoomSocket asks before it serves a socket.

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"gifchat/realtime"
)

// socketRequest is a request for a room socket from addr, as the server's middleware sees
// it (withClientAddr: behind a trusted proxy, the address from X-Forwarded-For).
func socketRequest(t *testing.T, addr string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/rooms/abcdefghijklmnop/ws", nil)
	r.Header.Set("X-Forwarded-For", addr)
	var seen *http.Request
	withClientAddr(true, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r })).ServeHTTP(httptest.NewRecorder(), r)
	return seen
}

func TestAcquireSocketPerPersonAndAddress(t *testing.T) {
	d := Deps{Config: Config{MaxSocketsPerPerson: 2, MaxSocketsPerAddress: 3}}
	d.sockets, d.addrSockets = newConnCounter[int64](), newConnCounter[netip.Addr]()
	home, office := "192.0.2.1", "198.51.100.7"

	take := func(person int64, addr string) func() {
		t.Helper()
		release, refusal := acquireSocket(d, socketRequest(t, addr), person)
		if refusal != nil {
			t.Fatalf("person %d from %s refused: %q", person, addr, refusal.Error())
		}
		return release
	}
	refuse := func(person int64, addr, want string) {
		t.Helper()
		release, refusal := acquireSocket(d, socketRequest(t, addr), person)
		if refusal == nil || release != nil {
			t.Fatalf("person %d from %s: admitted; want a refusal", person, addr)
		}
		if refusal.Code != realtime.CloseTooMany || !strings.Contains(refusal.Error(), want) {
			t.Fatalf("refusal %d %q; want %d saying %q", refusal.Code, refusal.Error(), realtime.CloseTooMany, want)
		}
	}

	first := take(1, home)
	take(1, home)
	refuse(1, office, "You have 2 rooms or tabs connected already") // a person's cap, from anywhere
	take(2, home)
	refuse(3, home, "3 rooms or tabs are connected from your network already")
	take(3, office)
	// A refusal for the address gives back the person's place it took first: person 3 holds
	// one socket, not two.
	refuse(3, home, "from your network")
	take(3, office)
	refuse(3, office, "You have 2 rooms")

	first()
	first() // released once only
	take(4, home)
	refuse(5, home, "from your network")
	if n := d.addrSockets.open[mustAddr(t, home)]; n != 3 {
		t.Errorf("%d sockets counted for %s, want 3", n, home)
	}

	// IPv6 addresses count by their /64: a machine cannot step through its block.
	take(10, "2001:db8:1:2::1")
	take(11, "2001:db8:1:2::2")
	take(12, "2001:db8:1:2:ffff::3")
	refuse(13, "2001:db8:1:2::4", "from your network")
	take(13, "2001:db8:1:3::1")
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	return clientAddrFrom(socketRequest(t, s).Context())
}
