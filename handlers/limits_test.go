package handlers_test

// Limits: each is configurable, each refusal gives a visible reason, nothing is half done.
// Here: request bodies, socket frames, sockets per person. The limits of a title, a message,
// rooms per person and a room's capacity are tested with what they limit (create_room,
// messages, capacity).

import (
	. "gifchat/handlers"

	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"gifchat/realtime"
)

// TestLimitRequestBody: a body over the limit is refused with 413 and a page that names the
// limit, before anything reads it, whether it declares its length or not, on every form
// route; nothing takes effect, and just under the limit is fine.
func TestLimitRequestBody(t *testing.T) {
	ts := newTestServer(t, withConfig(Config{MaxFormBytes: 4 << 10}))
	person := ts.newPerson(t)
	bigForm := url.Values{"title": {"Big"}, "filler": {strings.Repeat("x", 8<<10)}}
	big := bigForm.Encode()

	// Declared length too large: refused on the headers alone. Only the headers and a few
	// bytes are sent; if the server tried to read the body it would wait for the rest.
	addr := strings.TrimPrefix(ts.URL, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /rooms HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000000\r\n\r\ntitle=Big&", addr)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer before the body was sent: %v", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("declared 100 MB: %s, want 413", resp.Status)
	}
	if !isWholePage(string(body)) || !strings.Contains(string(body), "4 KiB") {
		t.Errorf("413 page does not say the limit:\n%s", body)
	}
	// The same from an ordinary client, which sends the whole body: the reason in words.
	resp, page := ts.postForm(t, noRedirect(person), "/rooms", bigForm, nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(page, "larger than this server accepts (4 KiB)") {
		t.Errorf("declared oversized body: %s\n%s", resp.Status, page)
	}

	// A body that hides its length (chunked) is cut off at the limit while parsing.
	for _, header := range []http.Header{nil, htmxHeader} {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/rooms", io.MultiReader(strings.NewReader(big)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range header {
			req.Header[k] = v
		}
		if req.ContentLength != 0 {
			t.Fatal("the request declares its length; want chunked")
		}
		resp, body := ts.do(t, noRedirect(person), req)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked 8 KiB: %s, want 413\n%s", resp.Status, body)
		}
	}
	// Enter and post are limited the same way.
	for _, path := range []string{"/rooms/aaaaaaaaaaaaaaaa/enter", "/rooms/aaaaaaaaaaaaaaaa/messages"} {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(big))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp, _ := ts.do(t, person, req); resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("POST %s with 8 KiB: %s, want 413", path, resp.Status)
		}
	}
	ts.assertNothingCreated(t)

	// A message post into a real room that does not declare its length is cut off too, and
	// stores nothing.
	room := ts.createRoom(t, person, "Bodies", 0, "")
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/rooms/"+room+"/messages", strings.NewReader(url.Values{"text": {strings.Repeat("y", 5000)}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.ContentLength = -1
	resp, page = ts.do(t, noRedirect(person), req)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(page, "4 KiB") {
		t.Errorf("chunked oversized body: %s\n%s", resp.Status, page)
	}
	rooms, _ := ts.Store.ListRooms(context.Background())
	if len(rooms) != 1 || len(ts.storedTexts(t, room, ts.identity(t, person).ID)) != 0 {
		t.Errorf("an oversized request took effect: %d rooms", len(rooms))
	}

	// Just under the limit is fine.
	ok := url.Values{"title": {"Fits"}, "filler": {strings.Repeat("x", 3<<10)}}
	if resp, body := ts.postForm(t, noRedirect(person), "/rooms", ok, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("3 KiB form: %s\n%s", resp.Status, body)
	}
	if resp, page := ts.postForm(t, noRedirect(person), "/rooms/"+room+"/messages", url.Values{"text": {"small"}}, nil); resp.StatusCode != http.StatusSeeOther {
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
