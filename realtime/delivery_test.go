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
		{`{"action":"kick","member":"x"}`, "bad id"},
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

func TestWhisperReachesOnlyTheTwo(t *testing.T) {
	e := newEnv(t, Config{LeaveDebounce: 100 * time.Millisecond})
	alice, bob, carol := e.person("alice"), e.person("bob"), e.person("carol")
	room := e.room(alice, 10, "")
	a := e.dial(alice, room.ID, 0)
	b := e.dial(bob, room.ID, 0)
	c := e.dial(carol, room.ID, 0)
	a.waitText(bob.Nickname + " joined") // the handshake returns before the join is done
	a.waitText(carol.Nickname + " joined")

	// Whisper mode: clicking bob puts alice's composer in whisper mode.
	a.send(fmt.Sprintf(`{"action":"whisper-to","to":"%d"}`, bob.ID))
	a.waitText("Whispering to")
	a.send(fmt.Sprintf(`{"action":"say","text":"psst bob","to":"%d"}`, bob.ID))
	b.waitText("psst bob")
	a.waitText("psst bob")
	a.say("hello all")
	c.waitText("hello all")
	b.waitText("hello all")
	if strings.Contains(c.text(), "psst") {
		t.Fatal("carol received the whisper live")
	}
	for _, who := range []db.Identity{alice, bob, carol} {
		msgs, err := e.store.LatestMessages(context.Background(), room.ID, who.ID, 50)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, m := range msgs {
			if m.Body == "psst bob" {
				found = true
				if m.Kind != vocab.KindWhisper || m.RecipientID != bob.ID {
					t.Fatalf("whisper stored as %+v", m)
				}
			}
		}
		if found != (who.ID != carol.ID) {
			t.Fatalf("%s sees the whisper in history: %v", who.Nickname, found)
		}
	}
	// Replay after a reconnect respects it too.
	c2 := e.dial(carol, room.ID, 0)
	c2.waitText("hello all")
	if strings.Contains(c2.text(), "psst") {
		t.Fatal("carol got the whisper in a replay")
	}
	// Whispering to someone who has left says so, and nothing is stored.
	b.conn.Close()
	a.waitText(bob.Nickname + " left")
	a.send(fmt.Sprintf(`{"action":"say","text":"are you there","to":"%d"}`, bob.ID))
	a.waitText("That person has left; your whisper was not sent.")
	a.send(fmt.Sprintf(`{"action":"whisper-to","to":"%d"}`, bob.ID))
	a.waitText("That person is no longer here.")
	a.send(`{"action":"say","text":"to nobody","to":"999999"}`)
	a.waitText("your whisper was not sent")
	msgs, _ := e.store.LatestMessages(context.Background(), room.ID, alice.ID, 50)
	for _, m := range msgs {
		if m.Body == "are you there" || m.Body == "to nobody" {
			t.Fatalf("a refused whisper was stored: %+v", m)
		}
	}
	if strings.Contains(c.text(), "are you there") {
		t.Fatal("a refused whisper reached carol")
	}
}
