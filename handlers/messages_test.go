package handlers_test

// Text messages, over the socket and the no-JS form: one too long or empty is refused with a
// reason to the sender alone, and nothing is stored.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gifchat/db"
	"gifchat/realtime"
)

func TestLimitMessageLength(t *testing.T) {
	ts := newTestServer(t, withRealtimeConfig(realtime.Config{MaxMessageRunes: 20}))
	alice, bob := ts.newPerson(t), ts.newPerson(t)
	room := ts.createRoom(t, alice, "Lengths", 0, "")
	a := ts.joined(t, alice, room)
	b := ts.joined(t, bob, room)

	a.say(t, strings.Repeat("é", 21))
	a.waitFor(t, "That message is 21 characters long; the limit is 20.")
	a.say(t, strings.Repeat("é", 20)) // the boundary: characters, not bytes
	a.waitFor(t, `<p class="msg-text" dir="auto">`+strings.Repeat("é", 20)+`</p>`)
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

// Original: an empty input was sent and shown as an empty bubble. Here empty, blank and
// invisible-only messages are refused with a reason to the sender alone, over the socket and
// the plain form, and nothing is stored.
func TestRegressionEmptyMessageRefused(t *testing.T) {
	ts := newTestServer(t)
	alice, bob := ts.newPerson(t), ts.newPerson(t)
	room := ts.createRoom(t, alice, "No empties", 0, "")
	a := ts.joined(t, alice, room)
	b := ts.joined(t, bob, room)
	for _, text := range []string{"", "   ", "\t\n", "\u00a0\u3000", "\u200b\u200d\ufeff"} {
		a.say(t, text)
	}
	a.waitCount(t, "Write something first: empty messages are not sent.", 5)
	a.send(t, map[string]any{"action": "say"}) // no text field at all
	a.waitCount(t, "Write something first", 6)
	for _, text := range []string{"", "  ", "\u200b"} {
		resp, page := ts.postForm(t, noRedirect(alice), "/rooms/"+room+"/messages", url.Values{"text": {text}}, nil)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "Write something first") {
			t.Errorf("form post %q: %s", text, resp.Status)
		}
	}
	a.say(t, "a real one")
	got := b.waitFor(t, "a real one")
	if strings.Count(got, `class="msg msg-text"`) != 1 || strings.Contains(got, "Write something first") {
		t.Errorf("bob saw more than the one real message:\n%s", got)
	}
	for _, s := range ts.storedTexts(t, room, 0) {
		if strings.TrimSpace(strings.Trim(s, "\u200b\u200d\ufeff")) == "" {
			t.Errorf("an empty message was stored: %q", s)
		}
	}
}

// Without JS a person edits their message on a plain page and deletes it with a posted form;
// the hub applies the same rules as over the socket.
func TestEditAndDeleteWithoutJS(t *testing.T) {
	ts := newTestServer(t)
	alice, bob := noRedirect(ts.newPerson(t)), noRedirect(ts.newPerson(t))
	room := ts.createRoom(t, alice, "No script", 0, "")
	if resp, body := ts.postForm(t, alice, "/rooms/"+room+"/messages", url.Values{"text": {"helo"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("post: %s\n%s", resp.Status, body)
	}
	msgs, err := ts.Store.LatestMessages(context.Background(), room, 0, 10)
	if err != nil || len(msgs) == 0 {
		t.Fatalf("stored: %v, %v", msgs, err)
	}
	seq := msgs[len(msgs)-1].Seq
	entry := fmt.Sprintf("/rooms/%s/messages/%d", room, seq)
	stored := func() db.Message {
		m, err := ts.Store.MessageBySeq(context.Background(), room, seq)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	resp, page := ts.get(t, alice, entry+"/edit")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `value="helo"`) || !strings.Contains(page, ">Message</label>") || !strings.Contains(page, ">Save</button>") {
		t.Fatalf("the edit page: %s\n%s", resp.Status, page)
	}
	if resp, _ := ts.get(t, bob, entry+"/edit"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("bob opened the edit page of alice's message: %s", resp.Status)
	}
	if resp, page := ts.postForm(t, bob, entry+"/edit", url.Values{"text": {"bob was here"}}, nil); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "your own messages") {
		t.Errorf("bob editing alice's message: %s\n%s", resp.Status, page)
	}
	if resp, page := ts.postForm(t, alice, entry+"/edit", url.Values{"text": {"  "}}, nil); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "Write something first") {
		t.Errorf("a blank edit: %s\n%s", resp.Status, page)
	}
	if resp, body := ts.postForm(t, alice, entry+"/edit", url.Values{"text": {"hello"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("alice's edit: %s\n%s", resp.Status, body)
	}
	if m := stored(); m.Body != "hello" || m.EditedAt == 0 {
		t.Errorf("after the edit: %q, edited %d", m.Body, m.EditedAt)
	}
	if _, page := ts.get(t, alice, "/rooms/"+room); !strings.Contains(page, "hello") || !strings.Contains(page, "(edited)") {
		t.Error("the room page does not show the edit")
	}

	if resp, page := ts.postForm(t, bob, entry+"/delete", nil, nil); resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "your own messages") {
		t.Errorf("bob deleting alice's message: %s\n%s", resp.Status, page)
	}
	if resp, body := ts.postForm(t, alice, entry+"/delete", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("alice's delete: %s\n%s", resp.Status, body)
	}
	if m := stored(); !m.Deleted || m.Body != "" {
		t.Errorf("after the delete: %+v", m)
	}
	if _, page := ts.get(t, bob, "/rooms/"+room); !strings.Contains(page, "message deleted") || strings.Contains(page, "hello") {
		t.Error("the room page does not show the deletion")
	}
	if resp, _ := ts.get(t, alice, fmt.Sprintf("/rooms/%s/messages/%d/edit", room, 999)); resp.StatusCode != http.StatusNotFound {
		t.Errorf("editing a message that does not exist: %s", resp.Status)
	}
}
