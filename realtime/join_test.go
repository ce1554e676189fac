package realtime

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"gifchat/db"
	"gifchat/vocab"
)

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

// Generated names that happen to meet do not keep anyone out: only a chosen name does.
func TestGeneratedNamesThatMeetAreLetBe(t *testing.T) {
	e := newEnv(t, Config{})
	alice := e.person("alice")
	twin, err := e.store.CreateIdentitySession(context.Background(), "twin-token", alice.Nickname, "c2")
	if err != nil {
		t.Fatal(err)
	}
	room := e.room(alice, 10, "")
	a := e.dial(alice, room.ID, 0)
	a.waitText(alice.Nickname + " joined")
	b := e.dial(twin, room.ID, 0)
	b.waitFor("admitted", func(string) bool { return b.countText(alice.Nickname+" joined") == 2 })
	chosen := twin
	chosen.ID = e.person("chooser").ID
	if err := e.store.RenameIdentity(context.Background(), chosen.ID, strings.ToUpper(alice.Nickname), "c3"); err != nil {
		t.Fatal(err)
	}
	fresh, err := e.store.IdentityByID(context.Background(), chosen.ID)
	if err != nil || !fresh.NameChosen {
		t.Fatalf("a renamed identity is not marked as having chosen its name: %+v %v", fresh, err)
	}
	c := e.dial(fresh, room.ID, 0)
	if code, _ := c.waitClose(); code != CloseNameTaken {
		t.Fatalf("a chosen name meeting someone present: close %d, want %d", code, CloseNameTaken)
	}
}

// TestJoinNoticesShareCommits: a join's notice waits for the next group commit instead of a
// commit of its own on the room's goroutine, so a crowd arriving while one commit runs
// shares the next; the log keeps the order things happened in (a joined notice before the
// same person's left notice, before a message sent after it).
func TestJoinNoticesShareCommits(t *testing.T) {
	e := newEnv(t, Config{LeaveDebounce: time.Millisecond})
	var mu sync.Mutex
	var batches []int
	e.rooms.SetInserter(func(ctx context.Context, msgs []*db.Message) error {
		time.Sleep(50 * time.Millisecond) // a slow disk: joins pile up behind the commit
		mu.Lock()
		batches = append(batches, len(msgs))
		mu.Unlock()
		return e.store.InsertMessages(ctx, msgs)
	})
	owner := e.person("owner")
	room := e.room(owner, 50, "")
	o := e.dial(owner, room.ID, 0)
	o.waitText(owner.Nickname + " joined")
	mu.Lock()
	batches = nil
	mu.Unlock()
	const crowd = 12
	var wg sync.WaitGroup
	for i := range crowd {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.dial(e.person(fmt.Sprintf("p%d", i)), room.ID, 0)
		}()
	}
	wg.Wait()
	o.waitFor("every join notice", func(string) bool { return o.countText(" joined") == crowd+1 })
	mu.Lock()
	commits := len(batches)
	mu.Unlock()
	if commits > crowd/2 {
		t.Fatalf("%d joins took %d commits (%v): their notices did not share them", crowd, commits, batches)
	}

	// Order: dave joins and at once leaves, then the owner speaks.
	dave := e.person("dave")
	d := e.dial(dave, room.ID, 0)
	o.waitText(dave.Nickname + " joined")
	d.conn.Close()
	o.waitText(dave.Nickname + " left")
	o.say("after dave")
	o.waitText("after dave")
	var order []string
	for _, m := range o.messages() {
		if strings.Contains(m.Text, dave.Nickname) || m.Text == "after dave" {
			order = append(order, m.Text)
		}
	}
	if want := fmt.Sprint([]string{dave.Nickname + " joined", dave.Nickname + " left", "after dave"}); fmt.Sprint(order) != want {
		t.Fatalf("order %q, want %s", order, want)
	}
	stored, err := e.store.MessagesAfter(context.Background(), room.ID, 0, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var logged []string
	for _, m := range stored {
		if m.SubjectID == dave.ID {
			logged = append(logged, m.Notice)
		} else if m.Body == "after dave" {
			logged = append(logged, m.Body)
		}
	}
	if fmt.Sprint(logged) != "[joined left after dave]" {
		t.Fatalf("the log holds %q in that order, want joined, left, after dave", logged)
	}
}

// TestShutdownStoresWhatWasInFlight: what a browser sent before the 1012 reached it is stored
// (and so replayed after the restart), not dropped by a stopping server; and the close frame
// goes out before Shutdown returns, so the process does not exit under it. The browser here
// is busy for a moment when the server stops (its reader pauses), so its messages keep
// coming after the close frame went out.
func TestShutdownStoresWhatWasInFlight(t *testing.T) {
	e := newEnv(t, Config{})
	alice := e.person("alice")
	room := e.room(alice, 10, "")
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + fmt.Sprintf("/ws?room=%s&who=%d&after=0", room.ID, alice.ID)
	conn, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Every frame recorded as sent goes on the wire before the answer to the server's close.
	var mu sync.Mutex
	code := 0
	conn.SetCloseHandler(func(c int, _ string) error {
		mu.Lock()
		defer mu.Unlock()
		code = c
		conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(c, ""), time.Now().Add(time.Second))
		return nil
	})
	var stopping atomic.Bool
	go func() {
		paused := false
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
			if stopping.Load() && !paused {
				paused = true
				time.Sleep(200 * time.Millisecond) // busy: the close frame waits unread
			}
		}
	}()
	stopped := make(chan struct{})
	time.AfterFunc(100*time.Millisecond, func() {
		stopping.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.rooms.Shutdown(ctx)
		close(stopped)
	})
	var sent []string
	for i := 0; ; i++ {
		mu.Lock()
		if code != 0 {
			mu.Unlock()
			break
		}
		text := fmt.Sprintf("in flight %d", i)
		err := conn.WriteMessage(websocket.TextMessage, []byte(`{"action":"say","text":"`+text+`","headers":{"HX-Request":"true"}}`))
		if err == nil {
			sent = append(sent, text)
		}
		mu.Unlock()
		if err != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	<-stopped
	mu.Lock()
	got := code
	mu.Unlock()
	if got != CloseRestart {
		t.Fatalf("the socket was closed with %d, want 1012", got)
	}
	stored, err := e.store.MessagesAfter(context.Background(), room.ID, 0, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, m := range stored {
		have[m.Body] = true
	}
	var lost []string
	for _, s := range sent {
		if !have[s] {
			lost = append(lost, s)
		}
	}
	if len(sent) < 10 || len(lost) > 0 {
		t.Fatalf("%d of %d messages sent before the close was answered were not stored: %v", len(lost), len(sent), lost)
	}
}
