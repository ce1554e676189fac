package realtime

// Memory and connection bounds: a reconnect's replay is bounded in bytes (past it, the latest
// page instead), every socket's queue is bounded in bytes, and a refused socket is read
// under the frame limit.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"gifchat/i18n"

	"github.com/gorilla/websocket"

	"gifchat/db"
	"gifchat/vocab"
)

// quotes is a message of 2,000 double quotes: 2 KB stored, five times that rendered.
var quotes = strings.Repeat(`"`, 2000)

// TestReplayPastByteBoundReloadsLatestPage: a socket that missed more rendered bytes than
// ReplayBytes (200 messages of 2,000 quotes, about 2 MB, though far fewer than ReplayLimit)
// gets the latest page in place of its log, not a replay of everything; and the buffer the
// replay is rendered into is let go soon after it passes the bound.
func TestReplayPastByteBoundReloadsLatestPage(t *testing.T) {
	const bound = 64 << 10
	e := newEnv(t, Config{ReplayBytes: bound, SendQueueBytes: 256 << 10, HistoryPage: 5, LeaveDebounce: time.Minute})
	alice, bob := e.person("alice"), e.person("bob")
	room := e.room(alice, 10, "")
	e.dial(alice, room.ID, 0) // the author is in the room, as posting needs
	b := e.dial(bob, room.ID, 0)
	b.waitText(bob.Nickname + " joined")
	last := b.messages()[len(b.messages())-1].ID
	b.conn.Close()
	hub := e.rooms.Hub(room.ID)
	const missed = 200
	for i := range missed {
		if err := hub.Post(context.Background(), alice, &db.Message{Kind: vocab.KindText, Body: fmt.Sprintf("%03d %s", i, quotes)}); err != nil {
			t.Fatal(err)
		}
	}

	var buf bytes.Buffer
	err := hub.renderMissed(context.Background(), bob.ID, last, &buf)
	if !errors.Is(err, errReplayTooLong) {
		t.Fatalf("rendering %d missed messages past a %d-byte bound: err = %v, want errReplayTooLong", missed, bound, err)
	}
	if one := 16 << 10; buf.Len() > bound+one {
		t.Errorf("the replay buffer grew to %d bytes; want at most the bound (%d) and one message", buf.Len(), bound)
	}

	b2 := e.dial(bob, room.ID, last)
	b2.waitText(`hx-target="#history-older"`)
	b2.waitFor("the latest page", func(string) bool { return len(b2.texts("text")) >= 5 })
	time.Sleep(100 * time.Millisecond) // anything more would have come in the same frame
	got := b2.texts("text")
	if len(got) != 5 {
		t.Fatalf("bob got %d messages; want the latest page of 5, not a replay of %d", len(got), missed)
	}
	for i, txt := range got {
		if want := fmt.Sprintf("%03d %s", missed-5+i, quotes); txt != want {
			t.Fatalf("page message %d is %.10q…, want %.10q…", i, txt, want)
		}
	}
	if !strings.Contains(b2.text(), "Load older messages") {
		t.Error("the reloaded page offers no way to the older messages")
	}
	select {
	case <-b2.closed:
		t.Fatalf("the reconnecting socket was closed: %d %q", b2.code, b2.reason)
	default:
	}
}

// TestReplayUnderByteBoundReplaysEverything: below the bound nothing changes, events
// included.
func TestReplayUnderByteBoundReplaysEverything(t *testing.T) {
	e := newEnv(t, Config{ReplayBytes: 256 << 10, HistoryPage: 5, LeaveDebounce: time.Minute})
	alice, bob := e.person("alice"), e.person("bob")
	room := e.room(alice, 10, "")
	e.dial(alice, room.ID, 0) // the author is in the room, as posting needs
	b := e.dial(bob, room.ID, 0)
	b.waitText(bob.Nickname + " joined")
	last := b.messages()[len(b.messages())-1].ID
	b.conn.Close()
	hub := e.rooms.Hub(room.ID)
	for i := range 12 { // more than a page: all of them, not the page
		if err := hub.Post(context.Background(), alice, &db.Message{Kind: vocab.KindText, Body: fmt.Sprintf("%03d %s", i, quotes)}); err != nil {
			t.Fatal(err)
		}
	}
	b2 := e.dial(bob, room.ID, last)
	b2.waitFor("12 replayed messages", func(string) bool { return len(b2.texts("text")) >= 12 })
	if strings.Contains(b2.text(), `hx-target="#history-older"`) {
		t.Error("a replay under the byte bound reloaded the page instead")
	}
}

// TestReplayReadsStorageInPieces: a replay longer than replayRows entries is read in
// several queries and still arrives whole and in order.
func TestReplayReadsStorageInPieces(t *testing.T) {
	e := newEnv(t, Config{LeaveDebounce: time.Minute})
	alice, bob := e.person("alice"), e.person("bob")
	room := e.room(alice, 10, "")
	e.dial(alice, room.ID, 0) // the author is in the room, as posting needs
	b := e.dial(bob, room.ID, 0)
	b.waitText(bob.Nickname + " joined")
	last := b.messages()[len(b.messages())-1].ID
	b.conn.Close()
	hub := e.rooms.Hub(room.ID)
	n := replayRows*2 + 17
	for i := range n {
		if err := hub.Post(context.Background(), alice, &db.Message{Kind: vocab.KindText, Body: fmt.Sprintf("m%03d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	b2 := e.dial(bob, room.ID, last)
	b2.waitFor("every missed message", func(string) bool { return len(b2.texts("text")) >= n })
	for i, txt := range b2.texts("text") {
		if txt != fmt.Sprintf("m%03d", i) {
			t.Fatalf("replayed message %d is %q", i, txt)
		}
	}
}

// TestLatestPageOfLongMessagesKeepsNewestUnderBound: a page whose messages together pass
// ReplayBytes is cut to its newer part, with "older" pointing at what was cut.
func TestLatestPageOfLongMessagesKeepsNewestUnderBound(t *testing.T) {
	const bound = 32 << 10
	e := newEnv(t, Config{ReplayBytes: bound, HistoryPage: 8})
	alice := e.person("alice")
	room := e.room(alice, 10, "")
	e.dial(alice, room.ID, 0).waitText(alice.Nickname + " joined")
	hub := e.rooms.Hub(room.ID)
	for i := range 8 {
		if err := hub.Post(context.Background(), alice, &db.Message{Kind: vocab.KindText, Body: fmt.Sprintf("%03d %s", i, quotes)}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := hub.renderLatestPage(context.Background(), alice.ID, i18n.En)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) > bound {
		t.Fatalf("the page is %d bytes, over the %d-byte bound", len(page), bound)
	}
	msgs := parseMessages(string(page))
	if len(msgs) == 0 || len(msgs) >= 8 || !strings.HasPrefix(msgs[len(msgs)-1].Text, "007 ") {
		t.Fatalf("page holds %d messages; want the newest few, up to 007", len(msgs))
	}
	if want := fmt.Sprintf("before=%d", msgs[0].ID); !strings.Contains(string(page), want) {
		t.Errorf("the cut page's older link does not start at its first message (%s)", want)
	}
}

// TestSocketOverQueueBytesDroppedOthersGoOn: a socket that stops reading is closed with 1013
// once its queue holds more than SendQueueBytes, long before SendQueue fragments; the room
// and a reader who keeps up go on without a gap.
func TestSocketOverQueueBytesDroppedOthersGoOn(t *testing.T) {
	e := newEnv(t, Config{SendQueue: 1 << 16, SendQueueBytes: 4 << 20, MaxMessageRunes: 64 << 10, MaxFrameBytes: 1 << 20, WriteWait: 30 * time.Second})
	alice, bob, slowpoke := e.person("alice"), e.person("bob"), e.person("slow")
	room := e.room(alice, 10, "")
	a := e.dial(alice, room.ID, 0)
	b := e.dial(bob, room.ID, 0)
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + fmt.Sprintf("/ws?room=%s&who=%d&after=0", room.ID, slowpoke.ID)
	// Ordinary TCP buffers (megabytes on loopback): a tiny receive window would make the
	// catching up below crawl.
	stuck, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	a.waitText(slowpoke.Nickname + " joined")

	// 30 KB a message: the stuck socket's TCP buffers fill, then 4 MiB of queue (about 140
	// messages) drops it; 65,536 fragments would take 2 GB. Those who read keep up with 4 MiB.
	big := strings.Repeat("y", 30<<10)
	hub := e.rooms.Hub(room.ID)
	sent := 0
	for ; sent < 1500 && e.slow.Load() == 0; sent++ {
		if err := hub.Post(context.Background(), alice, &db.Message{Kind: vocab.KindText, Body: fmt.Sprintf("%04d %s", sent, big)}); err != nil {
			t.Fatal(err)
		}
	}
	if e.slow.Load() == 0 {
		t.Fatalf("the stuck socket was never dropped after %d messages of 30 KB", sent)
	}

	t.Logf("the stuck socket was dropped after %d messages", sent)
	// Reading now lets the write in flight finish; the close frame comes after it.
	stuck.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		_, _, err := stuck.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != CloseSlow {
			t.Fatalf("the stuck socket ended with %v; want close %d", err, CloseSlow)
		}
		break
	}

	for range 20 {
		if err := hub.Post(context.Background(), alice, &db.Message{Kind: vocab.KindText, Body: fmt.Sprintf("%04d after", sent)}); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	b.waitForLong("all messages", 60*time.Second, func() bool { return len(b.texts("text")) >= sent })
	if got := len(b.texts("text")); got != sent {
		t.Fatalf("bob got %d messages, want %d", got, sent)
	}
	if n := e.slow.Load(); n != 1 {
		t.Errorf("%d sockets dropped as slow; want only the stuck one", n)
	}
}

// TestRefusedSocketHugeFrameClosedAtOnce: a refused socket is read only for the browser's
// close reply, under the frame limit: a frame announcing a gigabyte ends it at once instead
// of being read (and buffered) for the second the refusal waits.
func TestRefusedSocketHugeFrameClosedAtOnce(t *testing.T) {
	e := newEnv(t, Config{})
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + fmt.Sprintf("/ws?room=%s&who=%d&after=0", "nosuchroom000000", e.person("x").ID)
	conn, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetCloseHandler(func(int, string) error { return nil }) // no close reply: the server keeps reading
	for {
		_, _, err := conn.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) && ce.Code == CloseRoomGone {
			break
		}
		if err != nil {
			t.Fatalf("refusal: %v", err)
		}
	}

	raw := conn.NetConn()
	var frame []byte
	frame = append(frame, 0x81, 0x80|127) // a final text frame, masked, 64-bit length
	frame = binary.BigEndian.AppendUint64(frame, 1<<30)
	frame = append(frame, 1, 2, 3, 4) // the mask key
	frame = append(frame, make([]byte, 32<<10)...)
	start := time.Now()
	raw.SetWriteDeadline(time.Now().Add(5 * time.Second))
	raw.Write(frame) // may fail part-way once the server has closed: that is the point
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, raw); err != nil && !isConnReset(err) {
		t.Fatalf("reading to the end: %v", err)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Fatalf("the refused socket was closed %v after a 1 GiB frame began; want at once (it was being read)", took)
	}
}

func isConnReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// TestOutboxByteBoundRefuses: the queue refuses a fragment that would take the bytes waiting
// or being written past maxBytes, gives the bytes back once written, and takes a fragment
// larger than the bound when nothing else is waiting (a long message is no sign of a slow
// connection).
func TestOutboxByteBoundRefuses(t *testing.T) {
	s := newRecordingSink()
	o := newOutbox(s, 100, 8)
	s.gate.Lock()
	o.push([]byte("abcd")) // being written: it counts until it is
	waitTaken(o)
	if !o.push([]byte("efgh")) {
		t.Fatal("a push up to the bound was refused")
	}
	if o.push([]byte("i")) {
		t.Fatal("a push past the byte bound was accepted")
	}
	s.gate.Unlock()
	writerIdle(t, o)
	if !o.push([]byte("12345678")) {
		t.Fatal("the bytes written were not given back")
	}
	writerIdle(t, o)
	if !o.push([]byte(strings.Repeat("x", 20))) {
		t.Fatal("a fragment over the bound was refused by an empty outbox")
	}
	writerIdle(t, o)
	if all, _ := s.sent(); strings.Join(all, " ") != "abcd efgh 12345678 "+strings.Repeat("x", 20) {
		t.Errorf("sent %q", all)
	}
}
