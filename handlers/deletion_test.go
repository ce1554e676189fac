package handlers_test

// Removing a room: only the owner deletes it, and only after confirming; a refresh never
// removes it; a removed room takes with it the GIF files no other room uses.

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"gifchat/realtime"
)

// TestDeleteRoomOwnerOnlyWithConfirmation: another person's delete, even with the
// confirmation field set, changes nothing (the room, its place in the lobby, its messages and
// its sockets all stay); the owner's first POST only asks, the confirmed one removes the room.
// Original: the delete route checked nothing.
func TestDeleteRoomOwnerOnlyWithConfirmation(t *testing.T) {
	ts := newTestServer(t)
	owner, other := ts.newPerson(t), ts.newPerson(t)
	roomID := ts.createRoom(t, owner, "Doomed", 10, "")
	path := "/rooms/" + roomID + "/delete"
	o := ts.joined(t, owner, roomID)
	x := ts.joined(t, other, roomID)
	x.say(t, "still here")
	o.waitFor(t, "still here")

	resp, body := ts.postForm(t, noRedirect(other), path, url.Values{"confirm": {"yes"}}, nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Only the room") {
		t.Fatalf("delete by another person: %s\n%s", resp.Status, body)
	}
	if ts.Rooms.Hub(roomID) == nil {
		t.Fatal("another person's delete removed the room's hub")
	}
	if _, ok := ts.Lobby.Room(roomID); !ok {
		t.Fatal("the room left the lobby")
	}
	if _, err := ts.Store.RoomByID(context.Background(), roomID); err != nil {
		t.Fatalf("the room's row: %v", err)
	}
	if !containsText(ts.storedTexts(t, roomID, 0), "still here") {
		t.Fatal("the room's messages are gone")
	}
	x.say(t, "after the attempt")
	o.waitFor(t, "after the attempt") // both sockets still work

	// The owner's first POST only asks.
	resp, body = ts.postForm(t, noRedirect(owner), path, url.Values{}, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="confirm" value="yes"`) {
		t.Fatalf("confirmation step: %s", resp.Status)
	}
	if ts.Rooms.Hub(roomID) == nil {
		t.Fatal("the room was deleted without confirmation")
	}
	resp, _ = ts.postForm(t, noRedirect(owner), path, url.Values{"confirm": {"yes"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("confirmed delete by the owner: %s %s", resp.Status, resp.Header.Get("Location"))
	}
	if ts.Rooms.Hub(roomID) != nil {
		t.Fatal("room still live")
	}
	if resp, _ := ts.get(t, owner, "/rooms/"+roomID); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("deleted room page: %s", resp.Status)
	}
}

// Original: a disconnect of the last socket deleted the room at once, so refreshing the page
// destroyed it. Here a refresh (the socket goes and comes back within the debounce) keeps
// the room, announces nothing, and the room outlives its grace period while occupied.
func TestRegressionRefreshDoesNotDeleteTheRoom(t *testing.T) {
	ts := newTestServer(t, withRealtimeConfig(realtime.Config{LeaveDebounce: 2 * time.Second, EmptyRoomGrace: 100 * time.Millisecond}))
	owner := ts.newPerson(t)
	room := ts.createRoom(t, owner, "Refresh me", 0, "")
	first := ts.joined(t, owner, room)
	first.waitFor(t, "joined")
	for range 3 { // refresh three times: page load, new socket, old socket gone
		if resp, _ := ts.get(t, owner, "/rooms/"+room); resp.StatusCode != http.StatusOK {
			t.Fatalf("refresh: %s", resp.Status)
		}
		first.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "page navigating away"), time.Now().Add(time.Second))
		first.waitClose(t)
		first = ts.joined(t, owner, room)
	}
	// Well past the grace period (100 ms) the room is still there, because it is not empty.
	time.Sleep(500 * time.Millisecond)
	if ts.Rooms.Hub(room) == nil {
		t.Fatal("a refresh deleted the room")
	}
	texts := ts.storedTexts(t, room, 0)
	joins, leaves := 0, 0
	for _, s := range texts {
		joins += strings.Count(s, " joined")
		leaves += strings.Count(s, " left")
	}
	if joins != 1 || leaves != 0 {
		t.Errorf("refreshes produced %d join and %d leave notices, want 1 and 0: %q", joins, leaves, texts)
	}
}

// Removing a room deletes the GIF files only it used and keeps those another room still
// uses; whichever way the room goes (the owner's delete, or empty past the grace).
func TestRoomRemovalDeletesUnusedGIFs(t *testing.T) {
	// The grace is short so that room C's removal is quick. Alice posts without a socket, so
	// she is present in each room for FormPresence after her last post there: long enough for
	// her to still be the owner when she deletes room A, short enough for room C to empty.
	ts := startGIFServer(t, gifServerOptions{realtime: realtime.Config{LeaveDebounce: 20 * time.Millisecond, EmptyRoomGrace: 250 * time.Millisecond, FormPresence: 5 * time.Second}})
	alice, bob := ts.newPerson(t), ts.newPerson(t)
	// Bob stays in each room until the test lets it go, so the grace cannot remove a room
	// early once he is in.
	roomA, _ := ts.joinedRoom(t, alice, bob, "Deleted by its owner")
	roomB, _ := ts.joinedRoom(t, alice, bob, "Still here")
	roomC, connC := ts.joinedRoom(t, alice, bob, "Left empty")

	shared := testGIF(t, 10, 10, 2, 10)
	onlyA := testGIF(t, 11, 11, 2, 11)
	onlyC := testGIF(t, 12, 12, 2, 12)
	sha := map[string]string{}
	for _, up := range []struct {
		room, name string
		data       []byte
	}{{roomA, "shared", shared}, {roomB, "shared", shared}, {roomC, "shared", shared}, {roomA, "onlyA", onlyA}, {roomC, "onlyC", onlyC}} {
		if resp, text := ts.uploadGIF(t, alice, up.room, up.name+".gif", up.data); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("upload %s: %s\n%s", up.name, resp.Status, text)
		}
		msgs := ts.gifMessages(t, up.room)
		sha[up.name] = msgs[len(msgs)-1].GIF
	}
	if files := ts.files(t); len(files) != 3 {
		t.Fatalf("files = %v, want 3", files)
	}

	// The owner deletes room A.
	resp, text := ts.postForm(t, noRedirect(alice), "/rooms/"+roomA+"/delete", url.Values{"confirm": {"yes"}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete room: %s\n%s", resp.Status, text)
	}
	ts.gifs.Wait() // the hook was called before the delete answered
	if ts.hasFile(sha["onlyA"]) {
		t.Error("the GIF only room A used is still on disk")
	}
	if !ts.hasFile(sha["shared"]) || !ts.hasFile(sha["onlyC"]) {
		t.Fatal("a GIF another room still uses was deleted")
	}

	// Room C empties and is removed after the grace.
	connC.Close()
	deadline := time.Now().Add(20 * time.Second)
	for ts.Rooms.Hub(roomC) != nil || ts.hasFile(sha["onlyC"]) {
		if time.Now().After(deadline) {
			t.Fatalf("room C not removed with its GIF (hub gone: %v)", ts.Rooms.Hub(roomC) == nil)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ts.gifs.Wait()
	if !ts.hasFile(sha["shared"]) {
		t.Fatal("the GIF room B still uses was deleted with room C")
	}
	if files := ts.files(t); len(files) != 1 {
		t.Fatalf("files = %v, want only the shared GIF", files)
	}
	// And it still serves.
	if resp, _ := ts.get(t, http.DefaultClient, realtime.GIFURL(sha["shared"])); resp.StatusCode != http.StatusOK {
		t.Fatalf("shared GIF: %s", resp.Status)
	}
	if resp, _ := ts.get(t, http.DefaultClient, realtime.GIFURL(sha["onlyA"])); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("deleted GIF: %s, want 404", resp.Status)
	}
}
