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

	"gifchat/cluster"
	"gifchat/cluster/natstest"
	"gifchat/db"
	"gifchat/db/dbtest"
	"gifchat/vocab"
)

// Several instances in one test process: each its own store (pool) on one PostgreSQL
// database, its own broker connection, hubs and socket server, as separate processes would be.

func clusterNodes(t *testing.T, natsURL string, n int) []*testEnv {
	t.Helper()
	return clusterNodesWith(t, natsURL, n, Config{})
}

func clusterNodesWith(t *testing.T, natsURL string, n int, cfg Config) []*testEnv {
	t.Helper()
	pg := dbtest.PostgresURL(t)
	var nodes []*testEnv
	for i := range n {
		store, err := db.OpenPostgres(context.Background(), pg, db.PostgresOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := cluster.DialNATS(natsURL, fmt.Sprintf("node-%d", i), slog.New(slog.DiscardHandler), cluster.Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		e := startEnv(t, t.TempDir(), store, cfg, b)
		e.t = t
		nodes = append(nodes, e)
	}
	return nodes
}

// clusterRoom stores a room through the first node and starts its hub on every node (the
// lobby's room events between instances do that in the product).
func clusterRoom(t *testing.T, nodes []*testEnv, owner db.Identity) db.Room {
	t.Helper()
	r := nodes[0].room(owner, 50, "")
	for _, n := range nodes[1:] {
		n.rooms.Add(r)
	}
	return r
}

// Three instances, one room, a member on each talking at once: every member sees every
// message once, all in the same order.
func TestClusterEveryMemberSeesEveryMessageInOneOrder(t *testing.T) {
	nodes := clusterNodes(t, natstest.URL(t), 3)
	var people []db.Identity
	for i := range 3 {
		people = append(people, nodes[0].person(fmt.Sprintf("p%d", i)))
	}
	room := clusterRoom(t, nodes, people[0])
	var socks []*sock
	for i, n := range nodes {
		s := n.dial(people[i], room.ID, 0)
		s.waitText(people[i].Nickname + " joined")
		socks = append(socks, s)
	}
	for _, s := range socks { // everyone has seen everyone arrive
		for _, p := range people {
			s.waitText(p.Nickname + " joined")
		}
	}
	const each = 20
	var wg sync.WaitGroup
	for i, s := range socks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range each {
				s.say(fmt.Sprintf("n%d-%02d", i, k))
			}
		}()
	}
	wg.Wait()
	for _, s := range socks {
		s.waitFor("every message", func(string) bool { return len(s.texts(vocab.KindText)) == 3*each })
	}

	first := fmt.Sprint(socks[0].messages())
	for i, s := range socks {
		msgs := s.messages()
		seen := map[int64]bool{}
		for _, m := range msgs {
			if seen[m.ID] {
				t.Fatalf("node %d delivered seq %d twice", i, m.ID)
			}
			seen[m.ID] = true
		}
		if got := fmt.Sprint(msgs); got != first {
			t.Fatalf("node %d saw another log:\n%s\nnode 0:\n%s", i, got, first)
		}
	}
	var seqs []int64
	for _, m := range socks[1].messages() {
		seqs = append(seqs, m.ID)
	}
	if !slices.IsSorted(seqs) {
		t.Fatalf("node 1 delivered out of seq order: %v", seqs)
	}
}

// Two publishes of a room overtaking each other on the wire (another instance committed 1 and
// 2, and 2's publish arrives first): the hub fills 1 from the database, delivers 1 then 2, and
// drops the late publish of 1.
func TestClusterOvertakenPublishesAreDeliveredInSeqOrder(t *testing.T) {
	url := natstest.URL(t)
	nodes := clusterNodes(t, url, 1)
	alice := nodes[0].person("alice")
	room := clusterRoom(t, nodes, alice)
	s := nodes[0].dial(alice, room.ID, 0)
	s.waitText(alice.Nickname + " joined")

	// "Another instance": commits through the store and publishes by hand, out of order.
	other, err := cluster.DialNATS(url, "other", slog.New(slog.DiscardHandler), cluster.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	msgs := []*db.Message{
		{RoomID: room.ID, AuthorID: alice.ID, Kind: vocab.KindText, Body: "one"},
		{RoomID: room.ID, AuthorID: alice.ID, Kind: vocab.KindText, Body: "two"},
	}
	if err := nodes[0].store.InsertMessages(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	publish := func(m *db.Message, text string) {
		e := cluster.Entry{Room: room.ID, Seq: m.Seq}
		for l := range e.Frags {
			e.Frags[l] = fmt.Appendf(nil, `<hx-partial hx-target="#messages" hx-swap="beforeend"><article id="msg-%d" class="msg msg-text" data-seq="%d" data-kind="text"><p class="msg-text">%s</p></article></hx-partial>`, m.Seq, m.Seq, text)
		}
		if err := other.PublishEntry(e); err != nil {
			t.Fatal(err)
		}
	}
	publish(msgs[1], "two (published)")
	publish(msgs[0], "one (published)")
	s.waitFor("both", func(string) bool { return len(s.texts(vocab.KindText)) >= 2 })
	if err := other.Ready(context.Background()); err != nil { // both publishes are through
		t.Fatal(err)
	}
	nodes[0].settle(room.ID)
	got := s.texts(vocab.KindText)
	if !slices.Equal(got, []string{"one", "two (published)"}) {
		t.Fatalf("delivered %q, want the first filled from the database, then the second as published, once each", got)
	}
}

// NATS restarts mid-conversation: nothing is lost; what the broker dropped meanwhile is
// filled from PostgreSQL when the instances reconnect.
func TestClusterSurvivesNATSRestart(t *testing.T) {
	srv := natstest.Start(t)
	nodes := clusterNodes(t, srv.URL(), 2)
	alice, bob := nodes[0].person("alice"), nodes[0].person("bob")
	room := clusterRoom(t, nodes, alice)
	a := nodes[0].dial(alice, room.ID, 0)
	b := nodes[1].dial(bob, room.ID, 0)
	a.waitText(bob.Nickname + " joined")
	b.waitText(alice.Nickname + " joined")
	a.say("before")
	b.waitFor("before", func(string) bool { return slices.Contains(b.texts(vocab.KindText), "before") })

	srv.Stop()
	for i := range 10 {
		a.say(fmt.Sprintf("during-%d", i))
	}
	a.waitFor("alice's own", func(string) bool { return len(a.texts(vocab.KindText)) == 11 })
	srv.Restart()
	a.say("after")
	deadline := time.Now().Add(15 * time.Second)
	for len(b.texts(vocab.KindText)) < 12 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	want := []string{"before"}
	for i := range 10 {
		want = append(want, fmt.Sprintf("during-%d", i))
	}
	want = append(want, "after")
	if got := b.texts(vocab.KindText); !slices.Equal(got, want) {
		t.Fatalf("bob, on the other instance, got %q\nwant %q", got, want)
	}
	if strings.Count(b.text(), `data-seq=`) != len(b.messages()) {
		t.Fatal("an entry came twice")
	}
}

// A room created while an instance was cut off from NATS (its event lost) is started there
// once the instance reconnects, by the tail check that follows every reconnect.
func TestClusterHealsAMissedRoomEvent(t *testing.T) {
	srv := natstest.Start(t)
	nodes := clusterNodes(t, srv.URL(), 2)
	alice := nodes[0].person("alice")
	srv.Stop()
	r, err := nodes[0].store.CreateRoom(context.Background(), db.Room{ID: fmt.Sprintf("missed%010d", personSeq.Add(1)), Title: "Missed", Capacity: 5, OwnerID: alice.ID})
	if err != nil {
		t.Fatal(err)
	}
	nodes[0].rooms.Created(r) // its announcement goes nowhere: NATS is down
	srv.Restart()
	deadline := time.Now().Add(15 * time.Second)
	for nodes[1].rooms.Hub(r.ID) == nil {
		if time.Now().After(deadline) {
			t.Fatal("the other instance never started the room created while NATS was away")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s := nodes[1].dial(alice, r.ID, 0)
	s.waitText(alice.Nickname + " joined")
}
