package handlers_test

// A full disk while serving: every write path tells the person plainly, logs the cause, and
// neither hangs nor panics; once writes work again, so does the room.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mattn/go-sqlite3"

	"gifchat/db"
)

// diskFull is the error SQLite gives when the disk (or the database's size limit) is full.
var diskFull = fmt.Errorf("db: insert messages: %w", sqlite3.Error{Code: sqlite3.ErrFull})

func TestFullDiskWhileServing(t *testing.T) {
	ts := newTestServer(t)
	var full atomic.Bool
	// Every message the hubs store goes through the inserter, as in production.
	ts.Rooms.SetInserter(func(ctx context.Context, msgs []*db.Message) error {
		if full.Load() {
			return diskFull
		}
		return ts.Store.InsertMessages(ctx, msgs)
	})
	alice, bob := ts.newPerson(t), ts.newPerson(t)
	room := ts.createRoom(t, alice, "Full disk", 0, "")
	a := ts.joined(t, alice, room)
	b := ts.joined(t, bob, room)
	a.waitFor(t, "joined")

	full.Store(true)
	a.say(t, "will not fit")
	got := a.waitFor(t, "The server could not save your message; please try again.")
	if !strings.Contains(got, `value="will not fit"`) {
		t.Error("the unsaved text is not given back in the composer")
	}
	// Without JS: a plain error page, no internal detail, nothing stored.
	resp, page := ts.postForm(t, noRedirect(alice), "/rooms/"+room+"/messages", url.Values{"text": {"form will not fit"}}, nil)
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(page, "could not finish that") {
		t.Errorf("no-JS post on a full disk: %s\n%s", resp.Status, page)
	}
	for _, leak := range []string{"database or disk is full", "sqlite", "insert messages"} {
		if strings.Contains(strings.ToLower(page+a.received()), leak) {
			t.Errorf("internal error text %q shown to the user", leak)
		}
	}
	if !strings.Contains(ts.Logs(), "database or disk is full") {
		t.Error("the cause is not in the log")
	}

	// Space again: the same room works, and bob never saw the failed messages.
	full.Store(false)
	a.say(t, "fits now")
	b.waitFor(t, "fits now")
	if strings.Contains(b.received(), "will not fit") || strings.Contains(b.received(), "could not save") {
		t.Error("another member saw the failed message or its refusal")
	}
	texts := ts.storedTexts(t, room, 0)
	if containsText(texts, "will not fit") || !containsText(texts, "fits now") {
		t.Errorf("stored: %q", texts)
	}
}

// A database that fails entirely (closed under the server) answers every route with a page
// or a status, promptly, and never panics.
func TestDatabaseGoneAnswersEveryRoute(t *testing.T) {
	ts := newTestServer(t)
	alice := ts.newPerson(t)
	room := ts.createRoom(t, alice, "Gone", 0, "")
	ts.Store.Close()
	for _, c := range []struct{ method, path string }{
		{"GET", "/"}, {"GET", "/rooms/" + room}, {"GET", "/rooms/" + room + "/messages?before=10"},
		{"POST", "/rooms"}, {"POST", "/rooms/" + room + "/messages"}, {"POST", "/rooms/" + room + "/enter"},
		{"POST", "/rooms/" + room + "/delete"}, {"GET", "/healthz"},
	} {
		var resp *http.Response
		if c.method == "GET" {
			resp, _ = ts.get(t, noRedirect(alice), c.path)
		} else {
			resp, _ = ts.postForm(t, noRedirect(alice), c.path, url.Values{"title": {"x"}, "text": {"x"}, "confirm": {"yes"}}, nil)
		}
		if resp.StatusCode < 500 {
			t.Errorf("%s %s with the database gone: %s", c.method, c.path, resp.Status)
		}
	}
	if strings.Contains(ts.Logs(), `"msg":"panic"`) {
		t.Error("a handler panicked")
	}
}
