package handlers_test

// A room's capacity counts people, not tabs, and a burst of joins never overfills it.

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"gifchat/realtime"
)

// Original: capacity was the socket count of the room, read and written without a lock, so
// a burst of joins overfilled it and a second tab took a second place. Here 12 people join a
// room of 3 at once: exactly 3 get in, the rest are told it is full; extra tabs of one who got
// in take no place.
func TestRegressionCapacityCountsPeopleAtomically(t *testing.T) {
	ts := newTestServer(t)
	owner := ts.newPerson(t)
	room := ts.createRoom(t, owner, "Three seats", 3, "")
	people := make([]*http.Client, 12)
	for i := range people {
		people[i] = ts.newPerson(t)
	}
	peers := make([]*roomPeer, len(people))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, p := range people {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			peers[i] = watch(ts.dialRoom(t, p, room, 0))
		}()
	}
	close(start)
	wg.Wait()
	admitted, full := 0, 0
	var in []int
	for i, p := range peers {
		got := p.waitUntil(t, "admission or refusal", func(s string) bool {
			return strings.Contains(s, memberPanel) || strings.Contains(s, "This room is full")
		})
		if strings.Contains(got, memberPanel) {
			admitted++
			in = append(in, i)
		} else {
			if code, _ := p.waitClose(t); code != realtime.CloseFull {
				t.Errorf("a refused join closed with %d, want 4003", code)
			}
			full++
		}
	}
	if admitted != 3 || full != 9 {
		t.Fatalf("%d admitted and %d refused as full; want 3 and 9", admitted, full)
	}
	// Two more tabs of someone inside: admitted, and still 3 people.
	for range 2 {
		ts.joined(t, people[in[0]], room)
	}
	if n, _ := ts.Rooms.Hub(room).Occupancy(0); n != 3 {
		t.Fatalf("%d people hold a place, want 3", n)
	}
	if card, _ := ts.Lobby.Room(room); !strings.Contains(fmt.Sprintf("%+v", card), "3") {
		t.Errorf("lobby card: %+v", card)
	}
}
