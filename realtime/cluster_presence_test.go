package realtime

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gifchat/cluster/natstest"
	"gifchat/db"
	"gifchat/db/dbtest"
	"gifchat/logtest"
	"gifchat/vocab"
)

// crash stops an instance the way kill -9 does as far as the others can tell: its sockets
// drop, its upkeep stops renewing the lease, and its rows stay behind.
func (e *testEnv) crash() {
	e.srv.CloseClientConnections()
	e.rooms.cancel()
	e.rooms.wg.Wait()
	e.rooms.instance = "" // so the test's cleanup does not remove the rows a crash leaves
}

// A whisper reaches exactly its two people, on whatever instances their sockets are, and the
// members panel on every instance lists everyone on every instance.
func TestClusterWhisperAndMembersAcrossInstances(t *testing.T) {
	nodes := clusterNodes(t, natstest.URL(t), 3)
	var people []db.Identity
	for i := range 3 {
		people = append(people, nodes[0].person(fmt.Sprintf("p%d", i)))
	}
	room := clusterRoom(t, nodes, people[0])
	var socks []*sock
	for i, n := range nodes {
		socks = append(socks, n.dial(people[i], room.ID, 0))
	}
	for _, s := range socks {
		for _, p := range people {
			s.waitText(p.Nickname + " joined")
		}
	}
	for i, n := range nodes {
		waitMembers(t, n, room.ID, 3, fmt.Sprintf("node %d", i))
	}
	socks[0].send(fmt.Sprintf(`{"action":"say","text":"psst","to":"%d"}`, people[2].ID))
	socks[2].waitFor("the whisper", func(string) bool { return len(socks[2].texts(vocab.KindWhisper)) == 1 })
	socks[0].waitFor("the whisper", func(string) bool { return len(socks[0].texts(vocab.KindWhisper)) == 1 })
	socks[0].say("after the whisper")
	socks[1].waitFor("the next message", func(string) bool { return slices.Contains(socks[1].texts(vocab.KindText), "after the whisper") })
	if len(socks[1].texts(vocab.KindWhisper)) != 0 || strings.Contains(socks[1].text(), "psst") {
		t.Fatal("the whisper reached a third person on another instance")
	}
}

func waitMembers(t *testing.T, n *testEnv, room string, want int, who string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h := n.rooms.Hub(room)
		if h != nil && len(h.Members()) == want {
			return
		}
		if time.Now().After(deadline) {
			got := -1
			if h != nil {
				got = len(h.Members())
			}
			t.Fatalf("%s lists %d members, want %d", who, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Capacity 3, twelve people dialling three instances at once: exactly three are admitted.
func TestClusterCapacityAcrossInstances(t *testing.T) {
	nodes := clusterNodes(t, natstest.URL(t), 3)
	owner := nodes[0].person("owner")
	r, err := nodes[0].store.CreateRoom(context.Background(), db.Room{ID: fmt.Sprintf("cap%013d", personSeq.Add(1)), Title: "Three", Capacity: 3, OwnerID: owner.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		n.rooms.Add(r)
	}
	var people []db.Identity
	for i := range 12 {
		people = append(people, nodes[0].person(fmt.Sprintf("q%02d", i)))
	}
	socks := make([]*sock, 12)
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			socks[i] = nodes[i%3].dial(people[i], r.ID, 0)
		}()
	}
	wg.Wait()
	admitted, full := 0, 0
	for _, s := range socks {
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(s.text(), " joined") && !s.closedNow() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if s.closedNow() {
			if code, _ := s.waitClose(); code == CloseFull {
				full++
			}
		} else if strings.Contains(s.text(), " joined") {
			admitted++
		}
	}
	if admitted != 3 || full != 9 {
		t.Fatalf("admitted %d and refused %d as full, want 3 and 9", admitted, full)
	}
}

// The owner on one instance kicks a person on another: that person's sockets close within
// 2 s, and the bar holds on every instance.
func TestClusterKickAcrossInstances(t *testing.T) {
	nodes := clusterNodes(t, natstest.URL(t), 3)
	alice, bob := nodes[0].person("alice"), nodes[0].person("bob")
	room := clusterRoom(t, nodes, alice)
	a := nodes[0].dial(alice, room.ID, 0)
	b := nodes[1].dial(bob, room.ID, 0)
	a.waitText(bob.Nickname + " joined")
	waitMembers(t, nodes[0], room.ID, 2, "node 0")
	kicked := time.Now()
	a.send(fmt.Sprintf(`{"action":"kick","member":"%d"}`, bob.ID))
	code, _ := b.waitClose()
	if code != CloseKicked {
		t.Fatalf("bob's socket closed with %d, want %d", code, CloseKicked)
	}
	if d := time.Since(kicked); d > 2*time.Second {
		t.Fatalf("bob's socket on another instance closed after %v", d)
	}
	a.waitText(bob.Nickname + " was removed by the owner")
	for i, n := range nodes {
		again := n.dial(bob, room.ID, 0)
		if code, _ := again.waitClose(); code != CloseKicked {
			t.Fatalf("bob came back through node %d: close %d", i, code)
		}
	}
	waitMembers(t, nodes[2], room.ID, 1, "node 2")
}

// A person whose socket moves from one instance to another within the debounce makes no
// leave and no join; one who goes for good leaves once, and the ownership passes.
func TestClusterMovingIsNoLeave(t *testing.T) {
	nodes := clusterNodesWith(t, natstest.URL(t), 2, Config{LeaveDebounce: 700 * time.Millisecond})
	alice, bob := nodes[0].person("alice"), nodes[0].person("bob")
	room := clusterRoom(t, nodes, alice)
	a := nodes[0].dial(alice, room.ID, 0)
	b := nodes[1].dial(bob, room.ID, 0)
	b.waitText(alice.Nickname + " joined")
	a.waitText(bob.Nickname + " joined")

	a.conn.Close() // alice's instance goes away under her; she reconnects to the other
	moved := nodes[1].dial(alice, room.ID, 0)
	moved.waitText(alice.Nickname + " joined") // replayed
	time.Sleep(2 * time.Second)                // past the debounce and a few settles
	b.say("still here?")
	moved.waitFor("bob's message", func(string) bool { return slices.Contains(moved.texts(vocab.KindText), "still here?") })
	if n := b.countText(alice.Nickname + " left"); n != 0 {
		t.Fatalf("moving instances made %d leaves", n)
	}
	if n := b.countText(alice.Nickname + " joined"); n != 1 {
		t.Fatalf("moving instances made %d joins", n)
	}

	moved.conn.Close()
	b.waitText(alice.Nickname + " left")
	b.waitText(bob.Nickname + " is now the owner")
	deadline := time.Now().Add(2 * time.Second) // the other instance hears of it just after
	for nodes[0].rooms.Hub(room.ID).Room().OwnerID != bob.ID {
		if time.Now().After(deadline) {
			t.Fatalf("the other instance still has owner %d", nodes[0].rooms.Hub(room.ID).Room().OwnerID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// An instance stopped (a deploy, a restart): its people keep their places for RejoinGrace, not
// just the debounce, as the whole crowd comes back through the proxy with the browsers'
// back-off; who is back in time makes no notice, who is not leaves once it has passed.
func TestClusterStoppedInstanceKeepsPlaces(t *testing.T) {
	debounce, grace := 200*time.Millisecond, 3*time.Second
	nodes := clusterNodesWith(t, natstest.URL(t), 2, Config{LeaveDebounce: debounce, RejoinGrace: grace})
	alice, bob, carol := nodes[0].person("alice"), nodes[0].person("bob"), nodes[0].person("carol")
	room := clusterRoom(t, nodes, bob)
	b := nodes[1].dial(bob, room.ID, 0)
	b.waitText(bob.Nickname + " joined")
	a := nodes[0].dial(alice, room.ID, 0)
	b.waitText(alice.Nickname + " joined")
	c := nodes[0].dial(carol, room.ID, 0)
	b.waitText(carol.Nickname + " joined")
	last := b.messages()[len(b.messages())-1].ID

	stopped := time.Now()
	nodes[0].close()
	for _, s := range []*sock{a, c} {
		if code, _ := s.waitClose(); code != CloseRestart {
			t.Fatalf("a stopping instance closed with %d, want 1012", code)
		}
	}
	time.Sleep(4 * debounce) // past the debounce and a few settles: a plain leave would be out
	back := nodes[1].dial(alice, room.ID, last)
	back.waitText("members")
	b.say("who is here?")
	back.waitText("who is here?")
	if b.countText(alice.Nickname+" left") != 0 || b.countText(alice.Nickname+" joined") != 1 {
		t.Fatalf("alice, back in time after her instance stopped, was announced:\n%s", strings.Join(b.texts(vocab.KindNotice), "\n"))
	}
	// Carol is not back: she leaves, once, after the grace.
	b.waitForLong("carol's leave", 3*grace, func() bool { return b.countText(carol.Nickname+" left") == 1 })
	if waited := time.Since(stopped); waited < grace-debounce {
		t.Fatalf("carol was announced gone %v after the stop, before the rejoin grace (%v)", waited, grace)
	}
	if n := back.countText(alice.Nickname + " left"); n != 0 {
		t.Fatal("alice was announced gone after all")
	}
}

// An instance killed under its people: they reconnect to the others and miss nothing; the
// dead instance's people leave within the lease, and its owner's room passes on.
func TestClusterDeadInstance(t *testing.T) {
	nodes := clusterNodesWith(t, natstest.URL(t), 2, Config{LeaveDebounce: 300 * time.Millisecond, Lease: 1500 * time.Millisecond})
	alice, bob, carol := nodes[0].person("alice"), nodes[0].person("bob"), nodes[0].person("carol")
	room := clusterRoom(t, nodes, alice)
	a := nodes[0].dial(alice, room.ID, 0) // alice owns the room and is on the doomed instance
	b := nodes[1].dial(bob, room.ID, 0)
	c := nodes[0].dial(carol, room.ID, 0)
	for _, s := range []*sock{a, b, c} {
		s.waitText(carol.Nickname + " joined")
	}
	for i := range 5 {
		b.say(fmt.Sprintf("before %d", i))
	}
	c.waitFor("bob's messages", func(string) bool { return len(c.texts(vocab.KindText)) == 5 })
	last := c.messages()[len(c.messages())-1].ID

	nodes[0].crash()
	for i := range 5 {
		b.say(fmt.Sprintf("meanwhile %d", i))
	}
	// Carol's browser reconnects through the proxy to the other instance, from her cursor.
	back := nodes[1].dial(carol, room.ID, last)
	back.waitFor("what she missed", func(string) bool { return len(back.texts(vocab.KindText)) == 5 })
	if got := back.texts(vocab.KindText); got[0] != "meanwhile 0" || got[4] != "meanwhile 4" {
		t.Fatalf("carol's replay: %q", got)
	}
	// Alice never comes back: she leaves once the lease and the debounce have run out, and
	// the room passes to whoever has been there longest: bob.
	b.waitText(alice.Nickname + " left")
	b.waitText(bob.Nickname + " is now the owner")
	if n := b.countText(carol.Nickname + " left"); n != 0 {
		t.Fatal("carol, who came back, was announced as gone")
	}
}

// closedNow reports whether the server has closed the socket.
func (s *sock) closedNow() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// "… is typing" crosses instances: it shows on the other instance while the person types and
// goes when they send.
func TestClusterTypingAcrossInstances(t *testing.T) {
	nodes := clusterNodes(t, natstest.URL(t), 2)
	alice, bob := nodes[0].person("alice"), nodes[0].person("bob")
	room := clusterRoom(t, nodes, alice)
	a := nodes[0].dial(alice, room.ID, 0)
	b := nodes[1].dial(bob, room.ID, 0)
	a.waitText(bob.Nickname + " joined")
	b.waitText(alice.Nickname + " joined")
	waitMembers(t, nodes[1], room.ID, 2, "node 1")
	a.send(`{"action":"typing"}`)
	b.waitText(alice.Nickname + " is typing…")
	before := strings.Count(b.text(), `hx-target="#typing"`)
	a.say("done typing")
	b.waitFor("the message", func(string) bool { return slices.Contains(b.texts(vocab.KindText), "done typing") })
	b.waitFor("the line cleared", func(string) bool {
		return strings.Count(b.text(), `hx-target="#typing" hx-swap="innerHTML"></hx-partial>`) >= 1 &&
			strings.Count(b.text(), `hx-target="#typing"`) > before
	})
}

// A rename made through one instance shows on the others: the members panel, the notice
// (once), and a name that is taken by someone present on another instance is refused.
func TestClusterRenameAcrossInstances(t *testing.T) {
	nodes := clusterNodes(t, natstest.URL(t), 2)
	alice, bob := nodes[0].person("alice"), nodes[0].person("bob")
	room := clusterRoom(t, nodes, alice)
	a := nodes[0].dial(alice, room.ID, 0)
	b := nodes[1].dial(bob, room.ID, 0)
	a.waitText(bob.Nickname + " joined")
	waitMembers(t, nodes[0], room.ID, 2, "node 0")
	ctx := context.Background()
	save := func(to db.Identity) func(context.Context) error {
		return func(ctx context.Context) error {
			return nodes[0].store.RenameIdentity(ctx, to.ID, to.Nickname, to.Colour)
		}
	}
	taken := alice
	taken.Nickname = strings.ToUpper(bob.Nickname)
	if err := nodes[0].rooms.Rename(ctx, taken, save(taken)); err == nil {
		t.Fatal("alice took the name of bob, present through another instance")
	}
	to := alice
	to.Nickname, to.Colour = "alice-renamed", "c5"
	if err := nodes[0].rooms.Rename(ctx, to, save(to)); err != nil {
		t.Fatal(err)
	}
	b.waitText(alice.Nickname + " is now alice-renamed")
	b.waitFor("the panel entry", func(string) bool {
		return strings.Contains(b.text(), `id="member-`+fmt.Sprint(alice.ID)) && strings.Contains(b.text(), ">alice-renamed<")
	})
	time.Sleep(200 * time.Millisecond)
	if n := b.countText(" is now alice-renamed"); n != 1 {
		t.Fatalf("the rename notice came %d times", n)
	}
	for _, m := range nodes[1].rooms.Hub(room.ID).Members() {
		if m.ID == alice.ID && m.Name != "alice-renamed" {
			t.Fatalf("the other instance lists alice as %q", m.Name)
		}
	}
}

// The owner's tools reach every instance: a lock made on one keeps newcomers out on the
// other, and a room closed on one closes its sockets on the other.
func TestClusterOwnerToolsAcrossInstances(t *testing.T) {
	nodes := clusterNodes(t, natstest.URL(t), 2)
	alice, bob, carol := nodes[0].person("alice"), nodes[0].person("bob"), nodes[0].person("carol")
	room := clusterRoom(t, nodes, alice)
	a := nodes[0].dial(alice, room.ID, 0)
	b := nodes[1].dial(bob, room.ID, 0)
	a.waitText(bob.Nickname + " joined")
	a.send(`{"action":"lock"}`)
	b.waitText(alice.Nickname + " locked the room")
	deadline := time.Now().Add(2 * time.Second)
	for !nodes[1].rooms.Hub(room.ID).Room().Locked { // its owner tools show the lock there too
		if time.Now().After(deadline) {
			t.Fatal("the other instance does not know the room is locked")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c := nodes[1].dial(carol, room.ID, 0)
	if code, _ := c.waitClose(); code != CloseLocked {
		t.Fatalf("a newcomer on the other instance of a locked room: close %d, want %d", code, CloseLocked)
	}
	if err := nodes[0].rooms.Hub(room.ID).Delete(context.Background(), alice.ID); err != nil {
		t.Fatal(err)
	}
	if code, _ := b.waitClose(); code != CloseRoomGone {
		t.Fatalf("bob's socket on the other instance closed with %d, want %d", code, CloseRoomGone)
	}
	deadline = time.Now().Add(2 * time.Second)
	for nodes[1].rooms.Hub(room.ID) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the other instance still runs the closed room")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A stopping instance cuts its own background queries short (their context is the instance's):
// that is no fault and is not logged as one. A failing database still is.
func TestStoppingInstanceDoesNotWarnOfItsOwnCancellation(t *testing.T) {
	nodes := clusterNodes(t, natstest.URL(t), 1)
	room := clusterRoom(t, nodes, nodes[0].person("ann"))
	warnings := func(store *db.Store, ctx context.Context) string {
		var logs logtest.Buffer
		rs := NewRooms(store, NewLobby(LobbyHooks{}), Config{}, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})), nil)
		rs.maintain(ctx)
		newHub(rs, room).syncPeople(ctx)
		return logs.String()
	}
	stopped, cancel := context.WithCancel(context.Background())
	cancel()
	if got := warnings(nodes[0].store, stopped); got != "" {
		t.Errorf("a stopping instance warned of its own cancelled queries:\n%s", got)
	}
	broken, err := db.OpenPostgres(context.Background(), dbtest.PostgresURL(t), db.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	broken.Close()
	got := warnings(broken, context.Background())
	for _, step := range []string{"reap instances", "settle departures", "reap empty rooms", "read presence"} {
		if !strings.Contains(got, "level=WARN msg=\"cluster: "+step+"\"") {
			t.Errorf("a closed database during %q was not warned of:\n%s", step, got)
		}
	}
}
