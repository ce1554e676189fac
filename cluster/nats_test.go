package cluster_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gifchat/cluster"
	"gifchat/cluster/natstest"
	"gifchat/i18n"

	"gifchat/logtest"
)

func dial(t *testing.T, url, instance string) *cluster.NATS {
	t.Helper()
	b, err := cluster.DialNATS(url, instance, slog.New(slog.DiscardHandler), cluster.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// received collects what a room subscription gets, in arrival order.
type received struct {
	mu       sync.Mutex
	entries  []cluster.Entry
	controls []cluster.Control
	changed  chan struct{}
}

func subscribe(t *testing.T, b cluster.Broker, room string) *received {
	t.Helper()
	r := &received{changed: make(chan struct{}, 1)}
	poke := func() {
		select {
		case r.changed <- struct{}{}:
		default:
		}
	}
	stop, err := b.SubscribeRoom(room, cluster.RoomHandlers{
		Entry:   func(e cluster.Entry) { r.mu.Lock(); r.entries = append(r.entries, e); r.mu.Unlock(); poke() },
		Control: func(c cluster.Control) { r.mu.Lock(); r.controls = append(r.controls, c); r.mu.Unlock(); poke() },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	if err := b.Ready(context.Background()); err != nil { // the subscription is registered
		t.Fatal(err)
	}
	return r
}

func (r *received) wait(t *testing.T, entries, controls int) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		e, c := len(r.entries), len(r.controls)
		r.mu.Unlock()
		if e >= entries && c >= controls {
			return
		}
		select {
		case <-r.changed:
		case <-deadline:
			t.Fatalf("got %d entries and %d controls, want %d and %d", e, c, entries, controls)
		}
	}
}

// Two instances on the machine's NATS: what one publishes on a room's subject reaches the
// other (and itself) in the order it was published, with both languages' bytes and the
// audience, and nothing of another room.
func TestRoomTrafficBetweenInstances(t *testing.T) {
	url := natstest.URL(t)
	a, b := dial(t, url, "a"), dial(t, url, "b")
	room := fmt.Sprintf("room%d", time.Now().UnixNano())
	atB, atA := subscribe(t, b, room), subscribe(t, a, room)
	other := subscribe(t, b, room+"x")

	const n = 200
	for i := 1; i <= n; i++ {
		e := cluster.Entry{Room: room, Seq: int64(i)}
		e.Frags[i18n.En] = fmt.Appendf(nil, "<p>message %d</p>", i)
		e.Frags[i18n.Ko] = fmt.Appendf(nil, "<p>메시지 %d</p>", i)
		if i%10 == 0 {
			e.Audience = []int64{int64(i), int64(i + 1)}
		}
		if err := a.PublishEntry(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.PublishControl(cluster.Control{Room: room, Kind: cluster.ControlClose, Identity: 7, Data: []byte("kicked")}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*received{atB, atA} {
		r.wait(t, n, 1)
		for i, e := range r.entries {
			want := int64(i + 1)
			if e.Seq != want || string(e.Frags[i18n.Ko]) != fmt.Sprintf("<p>메시지 %d</p>", want) || string(e.Frags[i18n.En]) != fmt.Sprintf("<p>message %d</p>", want) {
				t.Fatalf("entry %d arrived as seq %d with %q / %q", i, e.Seq, e.Frags[i18n.En], e.Frags[i18n.Ko])
			}
			if (want%10 == 0) != (len(e.Audience) == 2) {
				t.Fatalf("entry %d has audience %v", want, e.Audience)
			}
		}
		if c := r.controls[0]; c.Kind != cluster.ControlClose || c.Identity != 7 || string(c.Data) != "kicked" || c.From != "a" {
			t.Fatalf("control arrived as %+v", c)
		}
	}
	time.Sleep(50 * time.Millisecond)
	other.mu.Lock()
	defer other.mu.Unlock()
	if len(other.entries)+len(other.controls) != 0 {
		t.Fatalf("another room's subscription got %d entries", len(other.entries))
	}
}

func TestLobbyEventsBetweenInstances(t *testing.T) {
	url := natstest.URL(t)
	a, b := dial(t, url, "a"), dial(t, url, "b")
	got := make(chan cluster.LobbyEvent, 4)
	stop, err := b.SubscribeLobby(func(ev cluster.LobbyEvent) { got <- ev })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := b.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := cluster.LobbyEvent{Room: "r1", Card: []byte(`{"Title":"방"}`), Created: 12}
	if err := a.PublishLobby(want); err != nil {
		t.Fatal(err)
	}
	if err := a.PublishLobby(cluster.LobbyEvent{Room: "r1", Removed: true}); err != nil {
		t.Fatal(err)
	}
	for _, w := range []cluster.LobbyEvent{want, {Room: "r1", Removed: true}} {
		select {
		case ev := <-got:
			if ev.Room != w.Room || ev.Removed != w.Removed || string(ev.Card) != string(w.Card) || ev.Created != w.Created || ev.From != "a" {
				t.Fatalf("lobby event arrived as %+v, want %+v from a", ev, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no lobby event")
		}
	}
}

// When NATS restarts, the broker reconnects by itself, tells its hubs (which then check their
// rooms' tails), its subscriptions work again, and Ready says so; while it is away, Ready says
// not ready.
func TestReconnectAfterRestart(t *testing.T) {
	srv := natstest.Start(t)
	var reconnected sync.WaitGroup
	reconnected.Add(1)
	var once sync.Once
	a, b := dial(t, srv.URL(), "a"), dial(t, srv.URL(), "b")
	b.OnReconnect(func() { once.Do(reconnected.Done) })
	room := "restarted"
	r := subscribe(t, b, room)

	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	if err := b.Ready(ctx); err == nil {
		t.Fatal("Ready while NATS is down")
	}
	cancel()
	srv.Restart()
	done := make(chan struct{})
	go func() { reconnected.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("no reconnect callback after NATS came back")
	}
	if err := b.Ready(context.Background()); err != nil {
		t.Fatalf("not ready after reconnecting: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for a.Ready(context.Background()) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the publisher did not reconnect")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := a.PublishEntry(cluster.Entry{Room: room, Seq: 1}); err != nil {
		t.Fatal(err)
	}
	r.wait(t, 1, 0)
}

func TestLocalCarriesNothing(t *testing.T) {
	var l cluster.Broker = cluster.Local{}
	called := false
	stop, err := l.SubscribeRoom("r", cluster.RoomHandlers{Entry: func(cluster.Entry) { called = true }})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := l.PublishEntry(cluster.Entry{Room: "r", Seq: 1}); err != nil || called {
		t.Fatalf("Local delivered a publish (%v, %v): a single process delivers only through its hub", called, err)
	}
	if l.Instance() != "" || l.Ready(context.Background()) != nil {
		t.Fatal("Local is always ready and has no instance id")
	}
}

// A graceful stop closes the connection on purpose: that is no "nats disconnected" warning
// and no disconnection in the metrics. Losing the server still is both.
func TestCloseIsNotADisconnect(t *testing.T) {
	srv := natstest.Start(t)
	dialLogged := func(instance string, log *logtest.Buffer, disconnects *atomic.Int32) *cluster.NATS {
		b, err := cluster.DialNATS(srv.URL(), instance, slog.New(slog.NewTextHandler(log, nil)),
			cluster.Hooks{Disconnected: func() { disconnects.Add(1) }})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var closedLog, lostLog logtest.Buffer
	var closedCount, lostCount atomic.Int32
	closed := dialLogged("closed", &closedLog, &closedCount)
	lost := dialLogged("lost", &lostLog, &lostCount)
	defer lost.Close()

	closed.Close()
	srv.Stop()
	for deadline := time.Now().Add(10 * time.Second); lostCount.Load() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("losing the server was not counted; log:\n%s", lostLog.String())
		}
	}
	if !strings.Contains(lostLog.String(), "nats disconnected") {
		t.Errorf("losing the server was not logged:\n%s", lostLog.String())
	}
	time.Sleep(100 * time.Millisecond) // the closed one's callbacks have had longer still
	if n := closedCount.Load(); n != 0 || strings.Contains(closedLog.String(), "nats disconnected") {
		t.Errorf("a deliberate close counted %d disconnections and logged:\n%s", n, closedLog.String())
	}
	if !strings.Contains(closedLog.String(), "nats connection closed") {
		t.Errorf("the close was not logged at all:\n%s", closedLog.String())
	}
}
