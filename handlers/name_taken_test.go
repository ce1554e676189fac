package handlers_test

import (
	"html"
	"net/http"
	"strings"
	"testing"

	"gifchat/realtime"
)

// Renaming while away from a room to the name of someone present there, then coming back,
// is refused in that room (the page and the socket), with the reason; another name lets the
// person in. Nobody can come back as someone present.
func TestChosenNameMeetingSomeonePresentIsRefused(t *testing.T) {
	ts := newTestServer(t)
	alice, bob := ts.newPerson(t), ts.newPerson(t)
	room := ts.createRoom(t, alice, "Name day", 0, "")
	ts.joined(t, alice, room)
	aliceName := ts.identity(t, alice).Nickname

	ts.mustRename(t, bob, strings.ToUpper(aliceName), "c2", "/") // bob is in no room: accepted
	resp, body := ts.get(t, bob, "/rooms/"+room)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, html.EscapeString("already goes by "+aliceName)) {
		t.Fatalf("coming back under a present member's name: %s\n%s", resp.Status, body)
	}
	if code := readUntilClose(t, ts.dialRoom(t, bob, room, 0)); code != realtime.CloseNameTaken {
		t.Fatalf("the socket closed with %d, want %d", code, realtime.CloseNameTaken)
	}
	ts.mustRename(t, bob, "Someone Else", "c2", "/")
	if resp, body := ts.get(t, bob, "/rooms/"+room); resp.StatusCode != http.StatusOK {
		t.Fatalf("after choosing another name: %s\n%s", resp.Status, body)
	}
	ts.joined(t, bob, room)
}
