package handlers_test

// History paging: walking a room back to its beginning page by page, and the cursors and
// people it refuses.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gifchat/db"
	"gifchat/vocab"
)

var (
	articleIDRe = regexp.MustCompile(`<article id="msg-(\d+)"`)
	olderRe     = regexp.MustCompile(`/messages\?before=(\d+)`)
)

// TestHistoryPagingWalksBackToTheStart fills a room with 1,000 messages (and whispers between
// two others) and walks it back from the room page in pages of 50: no gap, no duplicate, the
// start marker at the end, and never a whisper meant for someone else.
func TestHistoryPagingWalksBackToTheStart(t *testing.T) {
	ts := newTestServer(t)
	alice, carol := ts.newPerson(t), ts.newPerson(t)
	roomID := ts.createRoom(t, alice, "Paging", 10, "")
	a := ts.identity(t, alice)
	bobID, err := ts.Store.CreateIdentitySession(context.Background(), "bob-token-paging", "bob", "c2")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*db.Message
	for i := range 1000 {
		m := &db.Message{RoomID: roomID, AuthorID: a.ID, Kind: vocab.KindText, Body: fmt.Sprintf("message %04d", i)}
		if i%97 == 0 {
			m = &db.Message{RoomID: roomID, AuthorID: a.ID, Kind: vocab.KindWhisper, Body: fmt.Sprintf("secret %04d", i), RecipientID: bobID.ID}
		}
		msgs = append(msgs, m)
	}
	if err := ts.Store.InsertMessages(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	var want []int64
	for _, m := range msgs {
		if m.Kind != vocab.KindWhisper {
			want = append(want, m.ID)
		}
	}

	_, page := ts.get(t, carol, "/rooms/"+roomID)
	if strings.Contains(page, "secret") {
		t.Fatal("carol's room page holds a whisper between others")
	}
	seen := map[int64]bool{}
	var got []int64
	collect := func(body string) []int64 {
		var ids []int64
		for _, m := range articleIDRe.FindAllStringSubmatch(body, -1) {
			id, _ := strconv.ParseInt(m[1], 10, 64)
			if seen[id] {
				t.Fatalf("message %d shown twice", id)
			}
			seen[id] = true
			ids = append(ids, id)
		}
		return ids
	}
	got = collect(page)
	if len(got) != 50 {
		t.Fatalf("room page shows %d messages, want the latest 50", len(got))
	}
	pages := 1
	for {
		m := olderRe.FindStringSubmatch(page)
		if m == nil {
			break
		}
		resp, body := ts.get(t, carol, "/rooms/"+roomID+"/messages?before="+m[1])
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("page %d: %s", pages, resp.Status)
		}
		if strings.Contains(body, "secret") {
			t.Fatal("a history page holds a whisper between others")
		}
		ids := collect(body)
		if len(ids) > 50 {
			t.Fatalf("page of %d messages", len(ids))
		}
		got = append(ids, got...)
		page = body
		pages++
		if pages > 100 {
			t.Fatal("paging does not end")
		}
	}
	if !strings.Contains(page, "beginning of the room") {
		t.Fatalf("the last page does not say it is the beginning:\n%s", page)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("walked %d messages, want %d in order", len(got), len(want))
	}
	if pages != (len(want)+49)/50 {
		t.Fatalf("took %d pages for %d messages", pages, len(want))
	}
}

func TestHistoryPagingRefusals(t *testing.T) {
	ts := newTestServer(t)
	owner, stranger := ts.newPerson(t), ts.newPerson(t)
	public := ts.createRoom(t, owner, "Public", 10, "")
	private := ts.createRoom(t, owner, "Private", 10, "sesame")
	for _, cursor := range []string{"", "abc", "-5", "0", "1e9", "99999999999999999999"} {
		resp, body := ts.get(t, owner, "/rooms/"+public+"/messages?before="+url.QueryEscape(cursor))
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "could not be found") {
			t.Errorf("cursor %q: %s %q", cursor, resp.Status, body)
		}
	}
	// A cursor from another room only pages this room: nothing of the other room leaks.
	ownerID := ts.identity(t, owner)
	if err := ts.Store.InsertMessages(context.Background(), []*db.Message{{RoomID: private, AuthorID: ownerID.ID, Kind: vocab.KindText, Body: "private words"}}); err != nil {
		t.Fatal(err)
	}
	_, body := ts.get(t, stranger, "/rooms/"+public+"/messages?before=999999")
	if strings.Contains(body, "private words") {
		t.Fatal("a foreign cursor leaked another room's message")
	}
	// A private room's history is refused to someone who has not entered it.
	resp, body := ts.get(t, stranger, "/rooms/"+private+"/messages?before=999999")
	if resp.StatusCode != http.StatusForbidden || strings.Contains(body, "private words") {
		t.Fatalf("stranger paging a private room: %s", resp.Status)
	}
}
