package handlers_test

// Private rooms: the password form and entering; someone who has not entered gets nothing of
// the room by any route; the password is never shown, broadcast, logged or put in a URL.

import (
	. "gifchat/handlers"

	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"gifchat/realtime"
)

func TestPrivateRoomFlow(t *testing.T) {
	ts := newTestServer(t)
	owner, guest := ts.newPerson(t), ts.newPerson(t)
	id := ts.createRoom(t, owner, "Back room", 0, "letmein")

	// The owner goes straight in.
	if resp, body := ts.get(t, owner, "/rooms/"+id); resp.StatusCode != http.StatusOK || !strings.Contains(body, `role="log"`) {
		t.Fatalf("owner: %s, room page %v", resp.Status, strings.Contains(body, `role="log"`))
	}

	// A guest gets the password form and nothing of the room.
	resp, body := ts.get(t, guest, "/rooms/"+id)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("guest: %s", resp.Status)
	}
	if !strings.Contains(body, `<label for="room-password-enter">Password</label>`) || !strings.Contains(body, ">Enter</button>") ||
		!strings.Contains(body, `action="/rooms/`+id+`/enter"`) || !strings.Contains(body, `method="post"`) {
		t.Errorf("not the password form:\n%s", body)
	}
	if strings.Contains(body, `role="log"`) || strings.Contains(body, "hx-ws:connect") || strings.Contains(body, `aria-label="Members"`) {
		t.Error("the password page shows part of the room")
	}
	// Skipping the page does not help: the socket refuses too.
	conn := ts.dialRoom(t, guest, id, 0)
	if code := readUntilClose(t, conn); code != realtime.CloseNeedsPassword {
		t.Errorf("socket before entering closed with %d, want %d", code, realtime.CloseNeedsPassword)
	}

	for _, wrong := range []string{"", "LETMEIN", "letmein ", strings.Repeat("x", 200)} {
		resp, body := ts.postForm(t, noRedirect(guest), "/rooms/"+id+"/enter", url.Values{"password": {wrong}}, nil)
		if resp.StatusCode/100 != 4 || !strings.Contains(strings.ToLower(body), "wrong password") {
			t.Errorf("wrong password %q: %s, says wrong password: %v", wrong, resp.Status, strings.Contains(strings.ToLower(body), "wrong password"))
		}
		if !strings.Contains(body, `id="room-password-enter"`) {
			t.Errorf("wrong password %q: the form is not shown again", wrong)
		}
		if ok, _ := ts.Store.HasRoomEntry(context.Background(), id, ts.identity(t, guest).ID); ok {
			t.Fatalf("wrong password %q admitted the guest", wrong)
		}
	}
	if resp, _ := ts.get(t, guest, "/rooms/"+id); strings.Contains(resp.Header.Get("Content-Type"), "html") && resp.StatusCode != http.StatusOK {
		t.Errorf("after wrong passwords: %s", resp.Status)
	}

	resp, _ = ts.postForm(t, noRedirect(guest), "/rooms/"+id+"/enter", url.Values{"password": {"letmein"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/rooms/"+id {
		t.Fatalf("right password: %s to %q; want 303 to the room", resp.Status, resp.Header.Get("Location"))
	}
	resp, body = ts.get(t, guest, "/rooms/"+id)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `role="log"`) || !strings.Contains(body, "<h1>Back room</h1>") || !strings.Contains(body, ">Leave</a>") {
		t.Fatalf("after entering: %s\n%s", resp.Status, body)
	}
	// Remembered server-side for this session: the socket admits now.
	conn = ts.dialRoom(t, guest, id, 0)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, frame, err := conn.ReadMessage(); err != nil || !strings.Contains(string(frame), "members") {
		t.Errorf("socket after entering: %v %q", err, frame)
	}
	// Another session of nobody in particular still gets the form.
	if _, body := ts.get(t, ts.newPerson(t), "/rooms/"+id); strings.Contains(body, `role="log"`) {
		t.Error("a third person got in without the password")
	}
	// A public room's enter just sends you in.
	pub := ts.createRoom(t, owner, "Front room", 0, "")
	if resp, _ := ts.postForm(t, noRedirect(guest), "/rooms/"+pub+"/enter", url.Values{}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("enter a public room: %s", resp.Status)
	}
}

// TestPasswordNeverShownBroadcastOrInURL creates private rooms (with htmx and without) while
// a lobby stream listens, walks every page a person sees on the way in (wrong passwords, then
// the right one, then the room's socket), and searches everything they received (bodies,
// headers, URLs, lobby events, socket frames), the server log and the database files for the
// password, a wrong guess and the hash. The password travels only in a POST body.
// Original: the room's password was sent to every client with the room list, and entering
// put it in the query string.
func TestPasswordNeverShownBroadcastOrInURL(t *testing.T) {
	const password = "Sesame-Open-7731"
	const wrong = "wrong-guess-QRS"
	ts := newTestServer(t, withConfig(Config{PasswordCost: bcrypt.DefaultCost})) // the production cost is what is checked
	owner, guest, watcher := ts.newPerson(t), ts.newPerson(t), ts.newPerson(t)
	stream := ts.openLobbyStream(t, guest)
	stream.next(t, 5*time.Second) // snapshot

	var seen []string // everything any client received, labelled
	record := func(what string, resp *http.Response, body string) {
		seen = append(seen, what+": "+body)
		for k, vs := range resp.Header {
			seen = append(seen, what+" header "+k+": "+strings.Join(vs, ","))
		}
		if resp.Request != nil {
			seen = append(seen, what+" URL: "+resp.Request.URL.String())
		}
	}
	// Created with htmx: the room the rest of the test enters.
	form := url.Values{"title": {"Secret garden"}, "capacity": {"4"}, "password": {password}}
	resp, body := ts.postForm(t, noRedirect(owner), "/rooms", form, htmxHeader)
	record("create htmx", resp, body)
	id := strings.TrimPrefix(resp.Header.Get("HX-Redirect"), "/rooms/")
	if !RoomIDPattern.MatchString(id) {
		t.Fatalf("create: %s HX-Redirect %q", resp.Status, resp.Header.Get("HX-Redirect"))
	}
	ev := stream.waitFor(t, 5*time.Second, roomEvent(id))
	seen = append(seen, "lobby event: "+ev.Data)
	if !strings.Contains(ev.Data, "Private") {
		t.Errorf("the lobby event does not mark the room private:\n%s", ev.Data)
	}
	// And one created without JS.
	resp, body = ts.postForm(t, noRedirect(owner), "/rooms", url.Values{"title": {"Vault"}, "password": {password}}, nil)
	record("create", resp, body)

	room, err := ts.Store.RoomByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(room.PasswordHash, "$2") || strings.Contains(room.PasswordHash, password) {
		t.Fatalf("stored password %q is not a bcrypt hash", room.PasswordHash)
	}
	if cost, err := bcrypt.Cost([]byte(room.PasswordHash)); err != nil || cost < bcrypt.DefaultCost {
		t.Errorf("bcrypt cost %d, %v; want at least %d", cost, err, bcrypt.DefaultCost)
	}
	if bcrypt.CompareHashAndPassword([]byte(room.PasswordHash), []byte(password)) != nil {
		t.Error("the stored hash does not match the password")
	}
	o := ts.joined(t, owner, id)

	for _, who := range []struct {
		name string
		c    *http.Client
	}{{"owner", owner}, {"guest", guest}} {
		for _, path := range []string{"/", "/rooms/" + id} {
			resp, body := ts.get(t, who.c, path)
			record(who.name+" GET "+path, resp, body)
			if strings.Contains(body, `name="password"`) && !strings.Contains(body, `type="password"`) {
				t.Errorf("%s GET %s: a password field that is not type=password", who.name, path)
			}
		}
	}
	resp, body = ts.get(t, guest, "/rooms/"+id+"/messages?before=1000")
	record("guest GET history", resp, body)

	// Wrong passwords: one that starts with the right one, and an unrelated guess.
	for _, try := range []string{password + "x", wrong} {
		resp, body := ts.postForm(t, noRedirect(guest), "/rooms/"+id+"/enter", url.Values{"password": {try}}, nil)
		record("wrong password", resp, body)
		if !strings.Contains(strings.ToLower(body), "wrong password") {
			t.Errorf("a wrong password does not say so: %s", resp.Status)
		}
	}
	resp, body = ts.postForm(t, noRedirect(guest), "/rooms/"+id+"/enter", url.Values{"password": {password}}, nil)
	record("right password", resp, body)
	if resp.StatusCode != http.StatusSeeOther || strings.Contains(resp.Header.Get("Location"), "?") {
		t.Errorf("entering: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	resp, body = ts.get(t, guest, resp.Header.Get("Location"))
	record("guest room page", resp, body)
	if !strings.Contains(body, `role="log"`) {
		t.Errorf("the right password did not lead to the room:\n%s", body)
	}
	// A refused create must not echo it either.
	resp, body = ts.postForm(t, owner, "/rooms", url.Values{"title": {""}, "password": {password}}, nil)
	record("refused create", resp, body)
	resp, body = ts.postForm(t, owner, "/rooms", url.Values{"title": {""}, "password": {password}}, htmxHeader)
	record("refused create htmx", resp, body)
	// The enter form posts its body; it never puts the password in the URL.
	_, enterForm := ts.get(t, watcher, "/rooms/"+id)
	if !strings.Contains(enterForm, `method="post"`) || !strings.Contains(enterForm, `action="/rooms/`+id+`/enter"`) {
		t.Error("the password form does not POST to the enter route")
	}

	// Events after entering (the guest's socket, the join, member counts) must not carry it.
	g := ts.joined(t, guest, id)
	o.waitFor(t, "joined")
	seen = append(seen, "owner socket: "+o.received(), "guest socket: "+g.received())
	for {
		e, ok := stream.tryNext(500 * time.Millisecond)
		if !ok {
			break
		}
		seen = append(seen, "lobby event: "+e.Data)
	}
	seen = append(seen, "server log: "+ts.Logs())
	for _, s := range seen {
		for _, secret := range []string{password, wrong, room.PasswordHash, room.PasswordHash[7:]} {
			if strings.Contains(s, secret) {
				t.Errorf("%q (the password, a wrong guess or the hash) appears in %.200s", secret, s)
			}
		}
	}
	// At rest: no file under the data directory (database, WAL) holds the password.
	ts.Close()
	filepath.WalkDir(ts.DataDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err == nil && bytes.Contains(b, []byte(password)) {
			t.Errorf("%s holds the password in plain text", filepath.Base(path))
		}
		return nil
	})
}

// Original: joining was a client-side redirect; anyone with the id could read and post.
// Here a private room not entered gives nothing over the socket, the paging route or the
// plain form, and stores nothing.
func TestRegressionNoReadingOrPostingWithoutEntering(t *testing.T) {
	ts := newTestServer(t)
	owner, stranger := ts.newPerson(t), ts.newPerson(t)
	room := ts.createRoom(t, owner, "Private", 0, "letmein")
	o := ts.joined(t, owner, room)
	for i := range 60 { // more than a page, so there is an older page to ask for
		o.say(t, fmt.Sprintf("secret-%02d", i))
	}
	o.waitFor(t, "secret-59")
	msgs, _ := ts.Store.LatestMessages(context.Background(), room, 0, 100)
	newest := msgs[len(msgs)-1].ID

	// The socket: refused with the reason and 4001, and not one message.
	s := watch(ts.dialRoom(t, stranger, room, 0))
	if code, _ := s.waitClose(t); code != realtime.CloseNeedsPassword {
		t.Errorf("stranger's socket closed with %d, want 4001", code)
	}
	if got := s.received(); strings.Contains(got, "secret-") || strings.Contains(got, memberPanel) {
		t.Errorf("a stranger's socket received room content:\n%s", got)
	}
	// History paging.
	resp, body := ts.get(t, stranger, fmt.Sprintf("/rooms/%s/messages?before=%d", room, newest+1))
	if resp.StatusCode != http.StatusForbidden || strings.Contains(body, "secret-") {
		t.Errorf("stranger paging history: %s, content leaked: %v", resp.Status, strings.Contains(body, "secret-"))
	}
	// The room page is the password form, without the log.
	resp, body = ts.get(t, stranger, "/rooms/"+room)
	if strings.Contains(body, "secret-") || !strings.Contains(body, `name="password"`) {
		t.Errorf("stranger's room page: %s", resp.Status)
	}
	// The plain form post.
	resp, _ = ts.postForm(t, noRedirect(stranger), "/rooms/"+room+"/messages", url.Values{"text": {"gatecrasher"}}, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("stranger's post: %s, want 403", resp.Status)
	}
	if containsText(ts.storedTexts(t, room, 0), "gatecrasher") {
		t.Error("a stranger's message was stored")
	}
	if strings.Contains(o.received(), "gatecrasher") {
		t.Error("a stranger's message reached the room")
	}
}

// TestPasswordBackoffAcrossPeople: wrong passwords for one room from many people (each with a
// session and rate limit of their own) add up. After the free ones the room backs off: the
// next attempt, even with the right password, gets 429 and the form again with the reason,
// and lets nobody in. Another room is not affected.
func TestPasswordBackoffAcrossPeople(t *testing.T) {
	ts := newTestServer(t)
	owner := ts.newPerson(t)
	vault := ts.createRoom(t, owner, "Vault", 0, "open sesame")
	other := ts.createRoom(t, owner, "Other", 0, "open sesame")
	for i := range 6 {
		guesser := noRedirect(ts.newPerson(t))
		if resp, body := ts.postForm(t, guesser, "/rooms/"+vault+"/enter", url.Values{"password": {fmt.Sprint("guess", i)}}, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %s\n%s", i, resp.Status, body)
		}
	}
	guest := noRedirect(ts.newPerson(t))
	resp, body := ts.postForm(t, guest, "/rooms/"+vault+"/enter", url.Values{"password": {"open sesame"}}, nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("during the back-off: %s, Retry-After %q", resp.Status, resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(body, "Too many wrong passwords have been tried for this room") || !strings.Contains(body, `id="room-password-enter"`) {
		t.Fatalf("the refusal does not show the form with its reason:\n%s", body)
	}
	if ok, _ := ts.Store.HasRoomEntry(context.Background(), vault, ts.identity(t, guest).ID); ok {
		t.Fatal("let in during the back-off")
	}
	if resp, _ := ts.postForm(t, guest, "/rooms/"+other+"/enter", url.Values{"password": {"open sesame"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("another room: %s", resp.Status)
	}
}
