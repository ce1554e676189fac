package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// While the server stops, rooms are not gone: open sockets, sockets that connect in the
// last moment and plain posts are all told "restarting" (1012, on which htmx reconnects to
// the next server; 503 for a form), never "not found" (4004 would stop the browser for good).
func TestShutdownSaysRestartingNotGone(t *testing.T) {
	ts := newTestServer(t)
	alice := ts.newPerson(t)
	room := ts.createRoom(t, alice, "Restarting", 0, "")
	a := ts.joined(t, alice, room)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Rooms.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if code, _ := a.waitClose(t); code != websocket.CloseServiceRestart {
		t.Errorf("open socket closed with %d, want 1012", code)
	}
	late := watch(ts.dialRoom(t, alice, room, 0))
	if code, reason := late.waitClose(t); code != websocket.CloseServiceRestart {
		t.Errorf("a socket connecting during shutdown closed with %d %q, want 1012", code, reason)
	}
	if strings.Contains(late.received(), "status-closed") {
		t.Error("a socket connecting during shutdown was told the room closed")
	}
	resp, page := ts.postForm(t, noRedirect(alice), "/rooms/"+room+"/messages", url.Values{"text": {"too late"}}, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, "restarting") {
		t.Errorf("a post during shutdown: %s\n%s", resp.Status, page)
	}
	if containsText(ts.storedTexts(t, room, 0), "too late") {
		t.Error("a post answered 503 was stored")
	}
}
