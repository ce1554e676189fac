package handlers_test

// Limits: each is configurable, each refusal gives a visible reason, nothing is half done.

import (
	. "gifchat/handlers"

	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"gifchat/components"
	"gifchat/realtime"
	"gifchat/vocab"
)

// storedTexts returns the bodies of a room's stored messages (as viewer sees them), oldest first.
func (ts *testServer) storedTexts(t *testing.T, room string, viewer int64) []string {
	t.Helper()
	msgs, err := ts.Store.LatestMessages(context.Background(), room, viewer, 10000)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		if m.Kind == vocab.KindNotice {
			// Notices are stored as data; this is how a reader sees them.
			out = append(out, components.NoticeText(realtime.MessageView(m)))
			continue
		}
		out = append(out, m.Body)
	}
	return out
}

func containsText(texts []string, s string) bool {
	for _, x := range texts {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

func TestLimitRequestBody(t *testing.T) {
	ts := newTestServer(t, withConfig(Config{MaxFormBytes: 2048}))
	alice := noRedirect(ts.newPerson(t))
	room := ts.createRoom(t, alice, "Bodies", 0, "")
	big := url.Values{"title": {"Too big"}, "pad": {strings.Repeat("x", 3000)}}

	// Declared too large: refused before anything reads it.
	resp, page := ts.postForm(t, alice, "/rooms", big, nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(page, "larger than this server accepts (2 KiB)") {
		t.Errorf("declared oversized body: %s\n%s", resp.Status, page)
	}
	// A body that does not declare its length (chunked) is cut off at the limit.
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/rooms/"+room+"/messages", strings.NewReader(url.Values{"text": {strings.Repeat("y", 3000)}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.ContentLength = -1
	resp, page = ts.do(t, alice, req)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(page, "2 KiB") {
		t.Errorf("chunked oversized body: %s\n%s", resp.Status, page)
	}
	rooms, _ := ts.Store.ListRooms(context.Background())
	if len(rooms) != 1 || len(ts.storedTexts(t, room, ts.identity(t, alice).ID)) != 0 {
		t.Errorf("an oversized request took effect: %d rooms", len(rooms))
	}
	// Under the limit is fine.
	if resp, page := ts.postForm(t, alice, "/rooms/"+room+"/messages", url.Values{"text": {"small"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("small post: %s\n%s", resp.Status, page)
	}
}

func TestLimitFrameBytes(t *testing.T) {
	ts := newTestServer(t, withRealtimeConfig(realtime.Config{MaxFrameBytes: 2048}))
	alice, bob := ts.newPerson(t), ts.newPerson(t)
	room := ts.createRoom(t, alice, "Frames", 0, "")
	a := ts.joined(t, alice, room)
	b := ts.joined(t, bob, room)
	a.say(t, strings.Repeat("z", 2100)) // 2,100 characters is under the message limit, over the frame limit
	if code, _ := a.waitClose(t); code != websocket.CloseMessageTooBig {
		t.Errorf("oversized frame closed the socket with %d, want 1009", code)
	}
	// Everyone else is unaffected.
	b.say(t, "bob is still here")
	b.waitFor(t, "bob is still here")
	if containsText(ts.storedTexts(t, room, 0), "zzzz") {
		t.Error("the oversized frame was stored")
	}
}

func TestLimitMessageLength(t *testing.T) {
	ts := newTestServer(t, withRealtimeConfig(realtime.Config{MaxMessageRunes: 20}))
	alice, bob := ts.newPerson(t), ts.newPerson(t)
	room := ts.createRoom(t, alice, "Lengths", 0, "")
	a := ts.joined(t, alice, room)
	b := ts.joined(t, bob, room)

	a.say(t, strings.Repeat("é", 21))
	a.waitFor(t, "That message is 21 characters long; the limit is 20.")
	a.say(t, strings.Repeat("é", 20)) // the boundary: characters, not bytes
	a.waitFor(t, `<p class="msg-text">`+strings.Repeat("é", 20)+`</p>`)
	b.waitFor(t, strings.Repeat("é", 20))
	if strings.Contains(b.received(), "21 characters") {
		t.Error("another member saw the sender's refusal")
	}
	if texts := ts.storedTexts(t, room, 0); containsText(texts, strings.Repeat("é", 21)) {
		t.Errorf("an over-long message was stored: %q", texts)
	}
	// The no-JS form has the same limit and says so next to the field.
	resp, page := ts.postForm(t, noRedirect(alice), "/rooms/"+room+"/messages", url.Values{"text": {strings.Repeat("a", 21)}}, nil)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "the limit is 20") {
		t.Errorf("over-long form post: %s", resp.Status)
	}
}

// The title limit is the product's contract (60 characters), not a setting.
func TestTitleLimitIsSixtyCharacters(t *testing.T) {
	ts := newTestServer(t)
	alice := noRedirect(ts.newPerson(t))
	sixty := strings.Repeat("ü", 60) // 120 bytes: the limit counts characters
	if resp, page := ts.postForm(t, alice, "/rooms", url.Values{"title": {"  " + sixty + "  "}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a 60-character title (with spaces around it) was refused: %s\n%s", resp.Status, page)
	}
	resp, page := ts.postForm(t, alice, "/rooms", url.Values{"title": {sixty + "x"}}, nil)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a 61-character title: %s", resp.Status)
	}
	if msg, _ := fieldError(page, "title"); msg != "The title is 61 characters long; at most 60." {
		t.Errorf("reason next to the title: %q", msg)
	}
	rooms, _ := ts.Store.ListRooms(context.Background())
	if len(rooms) != 1 || utf8.RuneCountInString(rooms[0].Title) != 60 {
		t.Errorf("stored rooms: %+v", rooms)
	}
}

func TestLimitRoomsPerPerson(t *testing.T) {
	ts := newTestServer(t, withConfig(Config{MaxRoomsPerPerson: 2}))
	alice := noRedirect(ts.newPerson(t))
	first := ts.createRoom(t, alice, "One", 0, "")
	ts.createRoom(t, alice, "Two", 0, "")
	resp, page := ts.postForm(t, alice, "/rooms", url.Values{"title": {"Three"}}, nil)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "You already own 2 rooms") {
		t.Fatalf("third room: %s\n%s", resp.Status, page)
	}
	// Someone else is not affected, and deleting one frees a place.
	ts.createRoom(t, ts.newPerson(t), "Bob's", 0, "")
	if resp, _ := ts.postForm(t, alice, "/rooms/"+first+"/delete", url.Values{"confirm": {"yes"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %s", resp.Status)
	}
	ts.createRoom(t, alice, "Three again", 0, "")
}

func TestLimitSocketsPerPerson(t *testing.T) {
	ts := newTestServer(t, withConfig(Config{MaxSocketsPerPerson: 2}))
	alice, bob := ts.newPerson(t), ts.newPerson(t)
	r1 := ts.createRoom(t, alice, "Tabs one", 0, "")
	r2 := ts.createRoom(t, alice, "Tabs two", 0, "")
	first := ts.joined(t, alice, r1)
	ts.joined(t, alice, r2)
	// The third, in either room, is refused for good (4029: htmx does not retry) with the reason.
	third := watch(ts.dialRoom(t, alice, r1, 0))
	code, _ := third.waitClose(t)
	if code != realtime.CloseTooMany || !strings.Contains(third.received(), "close one first") {
		t.Fatalf("third socket: close %d, received:\n%s", code, third.received())
	}
	// Others are not affected.
	ts.joined(t, bob, r1)
	// Closing a tab frees its place (once the server has seen it go).
	first.conn.Close()
	first.waitClose(t)
	for i := 0; ; i++ {
		p := watch(ts.dialRoom(t, alice, r1, 0))
		got := p.waitUntil(t, "admission or refusal", func(s string) bool {
			return strings.Contains(s, memberPanel) || strings.Contains(s, "close one first")
		})
		if strings.Contains(got, memberPanel) {
			break
		}
		p.waitClose(t)
		time.Sleep(20 * time.Millisecond)
		if i > 100 {
			t.Fatal("closing a socket never freed its place")
		}
	}
}
