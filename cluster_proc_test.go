package main

// A cluster's instance killed under load, against the real binaries (issue 14, item 7): two
// gifchat instances on one PostgreSQL schema and the machine's NATS, cmd/proxy in front
// (cluster/proctest), and room sockets that behave as browsers do (cluster_client_test.go).

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"gifchat/cluster/proctest"
)

// TestClusterKillDashNineUnderLoad: six people in one room through the proxy, on both
// instances, everyone sending. The owner's instance is killed with SIGKILL. Of the people it
// held, one comes back (reconnects through the proxy with ?after=, and lands on the other
// instance); the owner and one more do not (their browsers closed with the crash). In the end
// everyone still there has every entry of the room's log exactly once, in seq order, the
// same as the database; the two who did not come back are announced as gone within
// lease + debounce, the ownership passes to the earliest joined of those present, and the one
// who came back makes no leave or join noise.
func TestClusterKillDashNineUnderLoad(t *testing.T) {
	c := proctest.Start(t, proctest.Options{})
	const people = 6
	visitors := make([]*person, people)
	for i := range visitors {
		visitors[i] = newVisitor(t, c.Proxy.Addr)
	}
	room := visitors[0].createRoom(t, "Kill test", 20)

	// The sockets are dialled one after another; each dial is one request to the proxy, so
	// its round robin deals them to the instances in turn. Where each landed is read from the
	// connection rows the instances share, not assumed.
	clients := make([]*roomClient, people)
	for i, v := range visitors {
		cl := newRoomClient(t, v, room, fmt.Sprintf("c%d", i), true) // an open page comes back
		if err := cl.dial(); err != nil {
			t.Fatal(err)
		}
		go cl.run()
		t.Cleanup(cl.close)
		clients[i] = cl
		waitUntil(t, 10*time.Second, fmt.Sprintf("%s to see %d joins", cl.name, i+1), func() bool {
			entries, _, _, _ := cl.snapshot()
			return countNotices(entries, "joined") == i+1
		})
	}
	for _, cl := range clients {
		cl.startSending()
	}
	waitUntil(t, 20*time.Second, "every client's first message back", func() bool {
		for _, cl := range clients {
			if _, _, id, _ := cl.snapshot(); id == 0 {
				return false
			}
		}
		return true
	})
	ids := make([]int64, people)
	on := map[string][]int{} // instance name -> clients there, in join order
	for i, cl := range clients {
		_, _, ids[i], _ = cl.snapshot()
		where := c.InstanceOf(t, room, ids[i])
		if len(where) != 1 {
			t.Fatalf("%s has sockets on %v, want one", cl.name, where)
		}
		on[where[0]] = append(on[where[0]], i)
	}
	victim := c.InstanceOf(t, room, ids[0])[0] // the owner's
	survivor := "one"
	if victim == "one" {
		survivor = "two"
	}
	stayers, held := on[survivor], on[victim]
	if len(held) < 3 || len(stayers) < 1 {
		t.Fatalf("placement %v: want the owner's instance to hold three people and the other one or more", on)
	}
	leaver, returners := held[1], held[2:]
	for _, i := range []int{0, leaver} { // their pages closed with the crash
		clients[i].mu.Lock()
		clients[i].comeBack = false
		clients[i].mu.Unlock()
	}
	live := slices.Concat(stayers, returners)
	slices.Sort(live)
	newOwner := live[0] // the earliest joined of those still present
	t.Logf("placement %v; killing %s (owner c0, c%d do not come back; %v do)", on, victim, leaver, returners)

	waitForAcks(t, clients, 300)
	before := totalAcked(clients)
	c.Instance(victim).Kill(t)
	killedAt := time.Now()

	for _, i := range returners {
		cl := clients[i]
		waitUntil(t, 10*time.Second, cl.name+" back through the proxy", func() bool { return cl.dialled() == 2 })
		waitUntil(t, 5*time.Second, cl.name+" admitted on "+survivor, func() bool {
			return slices.Contains(c.InstanceOf(t, room, ids[i]), survivor)
		})
	}
	// Under load still: the leaves and the hand-over come while people keep talking.
	observer := clients[stayers[0]]
	lease, debounce := c.Opts.Lease, c.Opts.LeaveDebounce
	waitUntil(t, lease+debounce+10*time.Second, "the leaves and the hand-over", func() bool {
		entries, _, _, _ := observer.snapshot()
		return countNotices(entries, "left") >= 2 && countNotices(entries, "is now the owner") >= 1
	})
	waitForAcks(t, clients, before+300)
	entries, _, _, _ := observer.snapshot()
	for _, e := range entries {
		if strings.HasSuffix(e.text, " left") {
			if took := e.at.Sub(killedAt); took > lease+debounce+2*time.Second {
				t.Errorf("%q came %v after the kill; lease %v + debounce %v", e.text, took.Round(time.Millisecond), lease, debounce)
			} else {
				t.Logf("%q came %v after the kill", e.text, took.Round(time.Millisecond))
			}
		}
	}

	// Quiet: the senders stop, and everyone still there catches up with the database.
	for _, cl := range clients {
		cl.stopSending()
	}
	var last int64
	waitUntil(t, 20*time.Second, "every live client at the room's last seq", func() bool {
		var now int64
		if err := c.DB().QueryRow("SELECT last_seq FROM rooms WHERE id = $1", room).Scan(&now); err != nil {
			t.Fatal(err)
		}
		settled := now == last
		last = now
		for _, i := range live {
			settled = settled && clients[i].lastSeq() == now
		}
		return settled
	})
	log := roomLog(t, c, room)
	if int64(len(log)) != last {
		t.Fatalf("the database's log has %d entries up to seq %d", len(log), last)
	}
	texts := map[string]int{}
	for i, e := range log {
		if e.seq != int64(i+1) {
			t.Fatalf("the database's log has seq %d at position %d", e.seq, i+1)
		}
		if e.kind == "text" {
			if texts[e.body]++; texts[e.body] == 2 {
				t.Errorf("%q is stored twice", e.body)
			}
		}
	}
	for i, cl := range clients {
		seen, faults, _, acked := cl.snapshot()
		for _, f := range faults {
			t.Errorf("%s: %s", cl.name, f)
		}
		if slices.Contains(live, i) && len(seen) != len(log) {
			t.Errorf("%s saw %d entries, the room's log has %d", cl.name, len(seen), len(log))
		}
		for k, e := range seen {
			if k < len(log) && e.kind == "text" && e.text != log[k].body {
				t.Errorf("%s: seq %d is %q, the database has %q", cl.name, e.seq, e.text, log[k].body)
			}
		}
		t.Logf("%s: %d entries seen, %d of its messages back, %d dials", cl.name, len(seen), acked, cl.dialled())
	}

	// Presence: one join each, a leave for exactly the two who stayed away, the hand-over.
	for i := range clients {
		want := map[bool]int{true: 1, false: 0}[i == 0 || i == leaver]
		if n := log.notices("joined", ids[i]); n != 1 {
			t.Errorf("c%d joined %d times in the log", i, n)
		}
		if n := log.notices("left", ids[i]); n != want {
			t.Errorf("c%d left %d times in the log, want %d", i, n, want)
		}
	}
	if n := log.notices("owner", ids[newOwner]); n != 1 {
		t.Errorf("c%d (the earliest joined still present) was made owner %d times, want once", newOwner, n)
	}
	var owner int64
	if err := c.DB().QueryRow("SELECT owner_id FROM rooms WHERE id = $1", room).Scan(&owner); err != nil || owner != ids[newOwner] {
		t.Errorf("the room's owner is %d (%v), want c%d's %d", owner, err, newOwner, ids[newOwner])
	}
	for _, i := range returners {
		if where := c.InstanceOf(t, room, ids[i]); !slices.Equal(where, []string{survivor}) {
			t.Errorf("c%d's sockets are on %v after the reaping, want only %s", i, where, survivor)
		}
	}
	t.Logf("%d entries in the log; %d messages came back to their senders after the kill", len(log), totalAcked(clients)-before)
}

func countNotices(entries []seenEntry, suffix string) int {
	n := 0
	for _, e := range entries {
		if e.kind == "system" && strings.HasSuffix(e.text, suffix) {
			n++
		}
	}
	return n
}

func totalAcked(clients []*roomClient) int {
	n := 0
	for _, cl := range clients {
		_, _, _, acked := cl.snapshot()
		n += acked
	}
	return n
}

func waitForAcks(t *testing.T, clients []*roomClient, n int) {
	t.Helper()
	waitUntil(t, 60*time.Second, fmt.Sprintf("%d messages back to their senders", n), func() bool { return totalAcked(clients) >= n })
}

type logEntry struct {
	seq     int64
	kind    string
	body    string
	notice  string
	subject int64
}

type roomLogEntries []logEntry

// notices counts the log's notices of this kind about subject.
func (l roomLogEntries) notices(kind string, subject int64) int {
	n := 0
	for _, e := range l {
		if e.kind == "system" && e.notice == kind && e.subject == subject {
			n++
		}
	}
	return n
}

// roomLog is the room's whole log as the database has it.
func roomLog(t *testing.T, c *proctest.Cluster, room string) roomLogEntries {
	t.Helper()
	rows, err := c.DB().QueryContext(context.Background(), `SELECT seq, kind, body, COALESCE(notice, ''), COALESCE(subject_id, 0)
		FROM messages WHERE room_id = $1 ORDER BY seq`, room)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out roomLogEntries
	for rows.Next() {
		var e logEntry
		if err := rows.Scan(&e.seq, &e.kind, &e.body, &e.notice, &e.subject); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}
