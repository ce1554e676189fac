package realtime

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"gifchat/db"
	"gifchat/vocab"
)

func TestTwoPeopleChat(t *testing.T) {
	e := newEnv(t, Config{})
	alice, bob := e.person("alice"), e.person("bob")
	room := e.room(alice, 10, "")
	a := e.dial(alice, room.ID, 0)
	a.waitText(alice.Nickname + " joined")
	b := e.dial(bob, room.ID, 0)
	b.waitText(bob.Nickname + " joined")
	a.waitText(bob.Nickname + " joined")

	before := e.renders.Load()
	const n = 20
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range n {
			a.say(fmt.Sprintf("a%02d", i))
		}
	}()
	go func() {
		defer wg.Done()
		for i := range n {
			b.say(fmt.Sprintf("b%02d", i))
		}
	}()
	wg.Wait()
	for _, s := range []*sock{a, b} {
		s.waitFor("all 40 messages", func(string) bool { return len(s.texts("text")) == 2*n })
	}
	// Per-sender order is preserved and both see the same total order.
	for _, s := range []*sock{a, b} {
		var as, bs []string
		for _, txt := range s.texts("text") {
			if txt[0] == 'a' {
				as = append(as, txt)
			} else {
				bs = append(bs, txt)
			}
		}
		for i := range n {
			if as[i] != fmt.Sprintf("a%02d", i) || bs[i] != fmt.Sprintf("b%02d", i) {
				t.Fatalf("per-sender order broken: %v / %v", as, bs)
			}
		}
	}
	if fmt.Sprint(a.messages()) != fmt.Sprint(b.messages()) {
		t.Fatalf("the two people saw different logs:\n%v\n%v", a.messages(), b.messages())
	}
	// Stored once each.
	stored, err := e.store.LatestMessages(context.Background(), room.ID, alice.ID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, m := range stored {
		if m.Kind == vocab.KindText {
			count[m.Body]++
		}
	}
	if len(count) != 2*n {
		t.Fatalf("stored %d distinct texts, want %d", len(count), 2*n)
	}
	for body, c := range count {
		if c != 1 {
			t.Fatalf("%q stored %d times", body, c)
		}
	}
	// Rendered once per message, whatever the number of recipients: one fragment per
	// message plus one form reset per sender's message.
	if got := e.renders.Load() - before; got != 2*n*2 {
		t.Fatalf("rendered %d fragments for %d messages to 2 sockets, want %d (one per message + one form reset each)", got, 2*n, 4*n)
	}
}

func TestRefusedTextIsNotStored(t *testing.T) {
	e := newEnv(t, Config{MaxMessageRunes: 10})
	alice, bob := e.person("alice"), e.person("bob")
	room := e.room(alice, 10, "")
	a := e.dial(alice, room.ID, 0)
	b := e.dial(bob, room.ID, 0)
	a.waitText(bob.Nickname + " joined")
	cases := []struct{ frame, reason string }{
		{`{"action":"say","text":"   "}`, "empty messages are not sent"},
		{`{"action":"say","text":"12345678901"}`, "the limit is 10"},
		{`not json`, "could not be read"},
		{`{"action":"say","text":"hi","evil":1}`, "unknown field"},
		{`{"action":"explode"}`, "unknown action"},
		{`{"action":"kick","member":"x"}`, "bad member id"},
	}
	for _, c := range cases {
		a.send(c.frame)
		a.waitText(c.reason)
	}
	a.say("fine")
	b.waitFor("the good message", func(string) bool { return len(b.texts("text")) == 1 })
	if got := b.texts("text"); got[0] != "fine" {
		t.Fatalf("bob got %v", got)
	}
	for _, c := range cases {
		if strings.Contains(b.text(), c.reason) {
			t.Fatalf("bob saw alice's refusal %q", c.reason)
		}
	}
	n, _ := e.store.CountMessages(context.Background(), room.ID)
	if n != 3 { // two joins and "fine"
		t.Fatalf("stored %d messages, want 3", n)
	}
}

func TestOversizedFrameCloses1009(t *testing.T) {
	e := newEnv(t, Config{MaxFrameBytes: 1024})
	alice, bob := e.person("alice"), e.person("bob")
	room := e.room(alice, 10, "")
	a := e.dial(alice, room.ID, 0)
	b := e.dial(bob, room.ID, 0)
	a.waitText(bob.Nickname + " joined")
	a.say(strings.Repeat("x", 2000))
	if code, _ := a.waitClose(); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
	b.say("still here")
	b.waitText("still here")
}

func TestCapacityCountsPeopleAtomically(t *testing.T) {
	e := newEnv(t, Config{})
	owner := e.person("owner")
	room := e.room(owner, 3, "")
	people := make([]db.Identity, 12)
	for i := range people {
		people[i] = e.person("p")
	}
	socks := make([]*sock, len(people))
	var wg sync.WaitGroup
	for i := range people {
		wg.Add(1)
		go func() {
			defer wg.Done()
			socks[i] = e.dial(people[i], room.ID, 0)
		}()
	}
	wg.Wait()
	admitted, full := 0, 0
	var in []int
	for i, s := range socks {
		select {
		case <-s.closed:
			if s.code == CloseFull {
				full++
				if !strings.Contains(s.text(), "full") {
					t.Errorf("refused socket got no visible reason: %q", s.text())
				}
			} else {
				t.Errorf("socket closed with %d %q", s.code, s.reason)
			}
		case <-time.After(2 * time.Second):
			admitted++
			in = append(in, i)
		}
	}
	if admitted != 3 || full != 9 {
		t.Fatalf("admitted %d, full %d; want 3 and 9", admitted, full)
	}
	// A second tab of an admitted person takes no second place.
	tab2 := e.dial(people[in[0]], room.ID, 0)
	tab2.waitText("members")
	select {
	case <-tab2.closed:
		t.Fatalf("second tab refused: %d %q", tab2.code, tab2.reason)
	case <-time.After(300 * time.Millisecond):
	}
	if card, _ := e.lobby.Room(room.ID); card.Members != 3 {
		t.Fatalf("lobby shows %d members, want 3", card.Members)
	}
}

func TestPrivateRoomNeedsEntry(t *testing.T) {
	e := newEnv(t, Config{})
	owner, stranger := e.person("owner"), e.person("stranger")
	room := e.room(owner, 10, "$2a$10$notarealhashbutnonempty")
	o := e.dial(owner, room.ID, 0)
	o.waitText(owner.Nickname + " joined")
	o.say("secret plans")
	o.waitText("secret plans")

	s := e.dial(stranger, room.ID, 0)
	code, _ := s.waitClose()
	if code != CloseNeedsPassword {
		t.Fatalf("close code %d, want %d", code, CloseNeedsPassword)
	}
	if strings.Contains(s.text(), "secret plans") || len(s.messages()) > 0 {
		t.Fatalf("stranger received messages: %q", s.text())
	}
	if err := e.store.AddRoomEntry(context.Background(), room.ID, stranger.ID); err != nil {
		t.Fatal(err)
	}
	s2 := e.dial(stranger, room.ID, 0)
	s2.waitText("secret plans")
}

func TestUnknownRoomClosed4004(t *testing.T) {
	e := newEnv(t, Config{})
	s := e.dial(e.person("x"), "nosuchroom000000", 0)
	if code, _ := s.waitClose(); code != CloseRoomGone {
		t.Fatalf("close code %d, want %d", code, CloseRoomGone)
	}
	if !strings.Contains(s.text(), "not found") {
		t.Fatalf("no visible reason: %q", s.text())
	}
}

func TestSlowClientDroppedOthersUnaffected(t *testing.T) {
	e := newEnv(t, Config{SendQueue: 256, MaxBatch: 16, MaxMessageRunes: 64 << 10, MaxFrameBytes: 1 << 20})
	alice, bob, slowpoke := e.person("alice"), e.person("bob"), e.person("slow")
	room := e.room(alice, 10, "")
	a := e.dial(alice, room.ID, 0)
	b := e.dial(bob, room.ID, 0)
	// The slow client dials raw with a tiny receive buffer and never reads.
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + fmt.Sprintf("/ws?room=%s&who=%d&after=0", room.ID, slowpoke.ID)
	dialer := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(4096)
		}
		return c, err
	}}
	stuck, _, err := dialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	a.waitText(slowpoke.Nickname + " joined")
	// Enough traffic (about 18 MB) to fill the stuck socket's TCP buffers and then its queue.
	big := strings.Repeat("y", 30<<10)
	const n = 600
	// Post until the stuck socket is dropped (its TCP buffers and then its queue are full),
	// then check that bob, reading normally, got every message without a gap.
	hub := e.rooms.Hub(room.ID)
	sent := 0
	for ; sent < n*5 && e.slow.Load() == 0; sent++ {
		if err := hub.Post(context.Background(), alice, &db.Message{Kind: vocab.KindText, Body: fmt.Sprintf("%04d %s", sent, big)}); err != nil {
			t.Fatal(err)
		}
	}
	if e.slow.Load() == 0 {
		t.Fatalf("the stuck client was never dropped as slow after %d messages", sent)
	}
	for range 20 { // and the room goes on
		if err := hub.Post(context.Background(), alice, &db.Message{Kind: vocab.KindText, Body: fmt.Sprintf("%04d after", sent)}); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	b.waitForLong("all messages", 60*time.Second, func() bool { return len(b.texts("text")) >= sent })
	if got := len(b.texts("text")); got != sent {
		t.Fatalf("bob got %d messages, want %d", got, sent)
	}
}

func TestRefreshWithinDebounceIsSilent(t *testing.T) {
	e := newEnv(t, Config{LeaveDebounce: time.Second, EmptyRoomGrace: 200 * time.Millisecond})
	alice, bob := e.person("alice"), e.person("bob")
	room := e.room(alice, 10, "")
	b := e.dial(bob, room.ID, 0)
	b.waitText(bob.Nickname + " joined")
	a := e.dial(alice, room.ID, 0)
	b.waitText(alice.Nickname + " joined")
	// Alice refreshes: the socket drops and comes back at once.
	a.conn.Close()
	a2 := e.dial(alice, room.ID, 0)
	a2.waitText("members")
	time.Sleep(1500 * time.Millisecond) // past the debounce: a leave would have been announced
	if strings.Contains(b.text(), alice.Nickname+" left") || b.countText(alice.Nickname+" joined") != 1 {
		t.Fatalf("refresh produced leave/join noise:\n%s", strings.Join(b.texts("system"), "\n"))
	}
	// Even when the only person refreshes, the room survives a grace shorter than the debounce.
	b.conn.Close()
	a2.conn.Close()
	a3 := e.dial(alice, room.ID, 0)
	a3.waitText("members")
	time.Sleep(400 * time.Millisecond)
	if e.rooms.Hub(room.ID) == nil {
		t.Fatal("a refresh deleted the room")
	}
}

func TestEmptyRoomsRemovedAfterGrace(t *testing.T) {
	grace := 300 * time.Millisecond
	e := newEnv(t, Config{LeaveDebounce: 100 * time.Millisecond, EmptyRoomGrace: grace})
	stream := NewChanStream(64)
	sub, err := e.lobby.Subscribe(stream)
	if err != nil {
		t.Fatal(err)
	}
	defer e.lobby.Unsubscribe(sub)
	alice := e.person("alice")
	used := e.room(alice, 10, "")
	never := e.room(alice, 10, "")
	a := e.dial(alice, used.ID, 0)
	a.waitText(alice.Nickname + " joined")
	a.say("hello")
	a.waitText("hello")

	// The never-entered room goes after the grace, counted from creation.
	waitGone(t, e, never.ID)
	if e.rooms.Hub(used.ID) == nil {
		t.Fatal("an occupied room was removed")
	}
	// The last person leaves: after debounce + grace the room and its messages are gone.
	a.conn.Close()
	waitGone(t, e, used.ID)
	if _, err := e.store.RoomByID(context.Background(), used.ID); err != db.ErrNotFound {
		t.Fatalf("room row still there: %v", err)
	}
	if n, _ := e.store.CountMessages(context.Background(), used.ID); n != 0 {
		t.Fatalf("%d messages left behind", n)
	}
	// Every lobby subscriber was told about both removals.
	seen := ""
	timeout := time.After(2 * time.Second)
	for !strings.Contains(seen, `id="room-`+used.ID+`" hx-swap-oob="delete"`) || !strings.Contains(seen, `id="room-`+never.ID+`" hx-swap-oob="delete"`) {
		select {
		case p := <-stream.C:
			seen += p
		case <-timeout:
			t.Fatalf("lobby never told of the removals; saw:\n%s", seen)
		}
	}
}

func TestLeftoverRoomsAfterRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{LeaveDebounce: 100 * time.Millisecond, EmptyRoomGrace: 400 * time.Millisecond}
	e1 := newEnvAt(t, dir, Config{EmptyRoomGrace: time.Hour})
	alice := e1.person("alice")
	keep := e1.room(alice, 10, "")
	drop := e1.room(alice, 10, "")
	e1.close()

	e2 := newEnvAt(t, dir, cfg)
	if e2.rooms.Hub(keep.ID) == nil || e2.rooms.Hub(drop.ID) == nil {
		t.Fatal("rooms not loaded at start")
	}
	a := e2.dial(alice, keep.ID, 0)
	a.waitText(alice.Nickname + " joined")
	waitGone(t, e2, drop.ID)
	time.Sleep(cfg.EmptyRoomGrace)
	if e2.rooms.Hub(keep.ID) == nil {
		t.Fatal("the room someone joined after the restart was removed")
	}
}

func waitGone(t *testing.T, e *testEnv, id string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for e.rooms.Hub(id) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("room %s still live", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, ok := e.lobby.Room(id); ok {
		t.Fatalf("room %s still in the lobby", id)
	}
}

func TestReconnectReplaysExactlyWhatWasMissed(t *testing.T) {
	e := newEnv(t, Config{LeaveDebounce: 2 * time.Second})
	alice, bob := e.person("alice"), e.person("bob")
	room := e.room(alice, 10, "")
	a := e.dial(alice, room.ID, 0)
	b := e.dial(bob, room.ID, 0)
	a.waitText(bob.Nickname + " joined")
	a.say("earlier")
	b.waitText("earlier")
	msgs := b.messages()
	last := msgs[len(msgs)-1].ID
	t.Logf("bob holds up to id %d: %v", last, msgs)
	b.conn.Close()
	for i := range 5 {
		a.say(fmt.Sprintf("while away %d", i))
	}
	a.waitText("while away 4")
	b2 := e.dial(bob, room.ID, last)
	a.say("after")
	b2.waitText("after")
	got := b2.texts("")
	want := []string{"while away 0", "while away 1", "while away 2", "while away 3", "while away 4", "after"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after reconnect got %q, want %q", got, want)
	}
}

func TestReconnectAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	e1 := newEnvAt(t, dir, Config{})
	alice, bob := e1.person("alice"), e1.person("bob")
	room := e1.room(alice, 10, "")
	a := e1.dial(alice, room.ID, 0)
	b := e1.dial(bob, room.ID, 0)
	a.waitText(bob.Nickname + " joined")
	a.say("one")
	b.waitText("one")
	last := b.messages()[len(b.messages())-1].ID
	a.say("two")
	a.waitText("two")
	e1.close()
	if code, _ := b.waitClose(); code != CloseRestart {
		t.Fatalf("shutdown close code %d, want 1012 so browsers reconnect", code)
	}

	e2 := newEnvAt(t, dir, Config{})
	b2 := e2.dial(bob, room.ID, last)
	a2 := e2.dial(alice, room.ID, a.messages()[len(a.messages())-1].ID)
	a2.waitText("members")
	a2.say("three")
	b2.waitText("three")
	var texts []string
	for _, m := range b2.messages() {
		if m.Kind == "text" {
			texts = append(texts, m.Text)
		}
	}
	if fmt.Sprint(texts) != "[two three]" {
		t.Fatalf("after restart bob got %q, want [two three]", texts)
	}
}

// TestLongAbsenceReplaysBeyondTheQueue: a socket that missed more messages than its send
// queue holds is not dropped as slow on reconnect; it gets all of them.
func TestLongAbsenceReplaysBeyondTheQueue(t *testing.T) {
	e := newEnv(t, Config{SendQueue: 16, LeaveDebounce: time.Minute})
	alice, bob := e.person("alice"), e.person("bob")
	room := e.room(alice, 10, "")
	b := e.dial(bob, room.ID, 0)
	b.waitText(bob.Nickname + " joined")
	last := b.messages()[len(b.messages())-1].ID
	b.conn.Close()
	for i := range 100 {
		if err := e.rooms.Hub(room.ID).Post(context.Background(), alice, &db.Message{Kind: vocab.KindText, Body: fmt.Sprintf("missed %03d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	b2 := e.dial(bob, room.ID, last)
	b2.waitFor("100 replayed messages", func(string) bool { return len(b2.texts("text")) == 100 })
	for i, txt := range b2.texts("text") {
		if txt != fmt.Sprintf("missed %03d", i) {
			t.Fatalf("replay %d is %q", i, txt)
		}
	}
	select {
	case <-b2.closed:
		t.Fatalf("the reconnecting socket was closed: %d %q", b2.code, b2.reason)
	case <-time.After(100 * time.Millisecond):
	}
}
