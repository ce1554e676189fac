package handlers_test

import (
	. "gifchat/handlers"

	"bufio"
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"gifchat/realtime"
)

var htmxHeader = http.Header{"Hx-Request": {"true"}}

// fieldError returns the text shown next to a create-form field ("title", "capacity",
// "password"), and whether the field's error element is in the page at all.
func fieldError(body, field string) (string, bool) {
	re := regexp.MustCompile(`<p id="room-` + field + `-error"[^>]*>([^<]*)</p>`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return "", false
	}
	return strings.TrimSpace(html.UnescapeString(m[1])), true
}

// fieldInvalid reports whether the field's input is marked aria-invalid.
func fieldInvalid(body, field string) bool {
	re := regexp.MustCompile(`<input id="room-` + field + `"[^>]*>`)
	return strings.Contains(re.FindString(body), "aria-invalid")
}

// assertNothingCreated checks the database, the lobby and the hubs hold no room.
func (ts *testServer) assertNothingCreated(t *testing.T) {
	t.Helper()
	rooms, err := ts.Store.ListRooms(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rooms) != 0 {
		t.Errorf("database holds %d rooms, want none: %+v", len(rooms), rooms)
	}
	if got := ts.Lobby.Rooms(); len(got) != 0 {
		t.Errorf("lobby lists %d rooms, want none", len(got))
	}
	if n := ts.Rooms.Count(); n != 0 {
		t.Errorf("%d room hubs running, want none", n)
	}
}

func isWholePage(body string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(body)), "<!doctype html>") && strings.Contains(body, "</html>")
}

func TestCreateRoomValidation(t *testing.T) {
	ts := newTestServer(t)
	person := ts.newPerson(t)
	cases := []struct {
		name string
		form url.Values
		want map[string]string // field -> a fragment of the reason shown next to it
	}{
		{"empty title", url.Values{"title": {""}, "capacity": {"10"}}, map[string]string{"title": "title"}},
		{"spaces only", url.Values{"title": {"  \t  "}, "capacity": {"10"}}, map[string]string{"title": "title"}},
		{"61 characters", url.Values{"title": {strings.Repeat("x", 61)}}, map[string]string{"title": "61 characters"}},
		{"61 characters of two bytes", url.Values{"title": {strings.Repeat("é", 61)}}, map[string]string{"title": "61 characters"}},
		{"control character", url.Values{"title": {"bell\x07room"}}, map[string]string{"title": "control"}},
		{"capacity 1", url.Values{"title": {"Lunch"}, "capacity": {"1"}}, map[string]string{"capacity": "between 2 and 100"}},
		{"capacity 101", url.Values{"title": {"Lunch"}, "capacity": {"101"}}, map[string]string{"capacity": "between 2 and 100"}},
		{"capacity abc", url.Values{"title": {"Lunch"}, "capacity": {"abc"}}, map[string]string{"capacity": "whole number"}},
		{"capacity 2.5", url.Values{"title": {"Lunch"}, "capacity": {"2.5"}}, map[string]string{"capacity": "whole number"}},
		{"capacity -3", url.Values{"title": {"Lunch"}, "capacity": {"-3"}}, map[string]string{"capacity": "between 2 and 100"}},
		{"missing fields", url.Values{}, map[string]string{"title": "title"}},
		{"password 3 characters", url.Values{"title": {"Lunch"}, "password": {"Zq9"}}, map[string]string{"password": "at least 4"}},
		{"password 73 characters", url.Values{"title": {"Lunch"}, "password": {strings.Repeat("Qw", 36) + "Q"}}, map[string]string{"password": "at most 72"}},
		{"everything wrong", url.Values{"title": {" "}, "capacity": {"abc"}, "password": {"Zq9"}},
			map[string]string{"title": "title", "capacity": "whole number", "password": "at least 4"}},
	}
	for _, tc := range cases {
		for _, htmx := range []bool{true, false} {
			name := tc.name + "/plain"
			var header http.Header
			if htmx {
				name, header = tc.name+"/htmx", htmxHeader
			}
			t.Run(name, func(t *testing.T) {
				resp, body := ts.postForm(t, noRedirect(person), "/rooms", tc.form, header)
				if resp.StatusCode != http.StatusUnprocessableEntity {
					t.Fatalf("status %s, want 422\n%s", resp.Status, body)
				}
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("Content-Type %q", ct)
				}
				if htmx {
					// The fragment that replaces the form: the form alone, no page around it.
					if !strings.HasPrefix(strings.TrimSpace(body), `<form id="create-room"`) || strings.Contains(body, "<html") || strings.Contains(body, "<h1") {
						t.Errorf("htmx answer is not the form fragment:\n%s", body)
					}
				} else {
					if !isWholePage(body) || !strings.Contains(body, `<h1 id="lobby-title">GIF chat</h1>`) || !strings.Contains(body, `aria-label="Rooms"`) || !strings.Contains(body, `<form id="create-room"`) {
						t.Errorf("no-JS answer is not the whole lobby page:\n%s", body)
					}
				}
				if strings.Count(body, `<form id="create-room"`) != 1 {
					t.Errorf("the create form appears %d times", strings.Count(body, `<form id="create-room"`))
				}
				for _, field := range []string{"title", "capacity", "password"} {
					reason, present := fieldError(body, field)
					if !present {
						t.Fatalf("no error slot next to %s:\n%s", field, body)
					}
					want, bad := tc.want[field]
					switch {
					case bad && !strings.Contains(strings.ToLower(reason), strings.ToLower(want)):
						t.Errorf("reason next to %s = %q, want it to mention %q", field, reason, want)
					case bad && !fieldInvalid(body, field):
						t.Errorf("%s input not marked aria-invalid", field)
					case !bad && reason != "":
						t.Errorf("reason next to %s = %q, want none", field, reason)
					case !bad && fieldInvalid(body, field):
						t.Errorf("%s input marked aria-invalid but valid", field)
					}
				}
				// What was typed comes back, except the password.
				if title := tc.form.Get("title"); strings.TrimSpace(title) != "" && !strings.Contains(body, `value="`+html.EscapeString(title)+`"`) {
					t.Errorf("the title typed (%q) is not kept in the form", title)
				}
				if pw := tc.form.Get("password"); pw != "" && strings.Contains(body, pw) {
					t.Errorf("the password typed is echoed back")
				}
				ts.assertNothingCreated(t)
			})
		}
	}
}

func TestCreateRoomAcceptsBoundaries(t *testing.T) {
	ts := newTestServer(t, withConfig(Config{MaxRoomsPerPerson: 20}))
	person := ts.newPerson(t)
	me := ts.identity(t, person)
	cases := []struct {
		name     string
		form     url.Values
		title    string
		capacity int
		private  bool
	}{
		{"60 characters", url.Values{"title": {strings.Repeat("x", 60)}}, strings.Repeat("x", 60), 10, false},
		{"60 characters of two bytes", url.Values{"title": {strings.Repeat("é", 60)}}, strings.Repeat("é", 60), 10, false},
		{"trimmed", url.Values{"title": {"  Lunch  "}, "capacity": {" 7 "}}, "Lunch", 7, false},
		{"capacity 2", url.Values{"title": {"Pair"}, "capacity": {"2"}}, "Pair", 2, false},
		{"capacity 100", url.Values{"title": {"Hall"}, "capacity": {"100"}}, "Hall", 100, false},
		{"empty capacity is the default", url.Values{"title": {"Default"}, "capacity": {""}}, "Default", 10, false},
		{"password 4 characters", url.Values{"title": {"Four"}, "password": {"abcd"}}, "Four", 10, true},
		{"password 72 characters", url.Values{"title": {"Long"}, "password": {strings.Repeat("p", 72)}}, "Long", 10, true},
		{"markup in the title", url.Values{"title": {`<b>"Tea" & cake</b>`}}, `<b>"Tea" & cake</b>`, 10, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := ts.postForm(t, noRedirect(person), "/rooms", tc.form, nil)
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("status %s, want 303\n%s", resp.Status, body)
			}
			id := strings.TrimPrefix(resp.Header.Get("Location"), "/rooms/")
			room, err := ts.Store.RoomByID(context.Background(), id)
			if err != nil {
				t.Fatalf("room %q from Location %q: %v", id, resp.Header.Get("Location"), err)
			}
			if room.Title != tc.title || room.Capacity != tc.capacity || room.Private() != tc.private || room.OwnerID != me.ID {
				t.Errorf("stored %+v; want title %q, capacity %d, private %v, owner %d", room, tc.title, tc.capacity, tc.private, me.ID)
			}
			if _, ok := ts.Lobby.Room(id); !ok || ts.Rooms.Hub(id) == nil {
				t.Errorf("room %s not in the lobby or without a hub", id)
			}
			// The title is escaped wherever it is shown.
			_, lobby := ts.get(t, person, "/")
			if !strings.Contains(lobby, html.EscapeString(tc.title)) {
				t.Errorf("lobby does not show the title %q", tc.title)
			}
			if strings.Contains(tc.title, "<b>") && strings.Contains(lobby, "<b>") {
				t.Error("the title's markup reached the page unescaped")
			}
		})
	}
}

func TestCreateRoomRedirects(t *testing.T) {
	ts := newTestServer(t)
	person := noRedirect(ts.newPerson(t))

	resp, _ := ts.postForm(t, person, "/rooms", url.Values{"title": {"No JS"}}, nil)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/rooms/") || !RoomIDPattern.MatchString(strings.TrimPrefix(loc, "/rooms/")) {
		t.Errorf("without JS: %s Location %q; want 303 to /rooms/{id}", resp.Status, loc)
	}
	if resp.Header.Get("HX-Redirect") != "" {
		t.Error("HX-Redirect on a plain form post")
	}

	// With htmx a 303 would be followed by fetch and swapped into the form: the redirect is
	// a header htmx acts on.
	resp, body := ts.postForm(t, person, "/rooms", url.Values{"title": {"With htmx"}}, htmxHeader)
	to := resp.Header.Get("HX-Redirect")
	if resp.StatusCode/100 != 2 || !strings.HasPrefix(to, "/rooms/") || !RoomIDPattern.MatchString(strings.TrimPrefix(to, "/rooms/")) {
		t.Errorf("with htmx: %s HX-Redirect %q; want 2xx with HX-Redirect to /rooms/{id}", resp.Status, to)
	}
	if resp.Header.Get("Location") != "" || strings.TrimSpace(body) != "" {
		t.Errorf("with htmx: Location %q, body %q; want neither", resp.Header.Get("Location"), body)
	}
	if to == loc {
		t.Error("two creates gave the same room id")
	}
	rooms, _ := ts.Store.ListRooms(context.Background())
	if len(rooms) != 2 {
		t.Errorf("%d rooms stored, want 2", len(rooms))
	}
}

func TestCreateRoomLimitPerPerson(t *testing.T) {
	ts := newTestServer(t, withConfig(Config{MaxRoomsPerPerson: 2}))
	person := ts.newPerson(t)
	ts.createRoom(t, person, "one", 0, "")
	ts.createRoom(t, person, "two", 0, "")
	for _, header := range []http.Header{nil, htmxHeader} {
		resp, body := ts.postForm(t, noRedirect(person), "/rooms", url.Values{"title": {"three"}}, header)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `class="form-error"`) || !strings.Contains(body, "2 rooms") {
			t.Errorf("third room: %s\n%s", resp.Status, body)
		}
	}
	// Someone else may still create one.
	ts.createRoom(t, ts.newPerson(t), "three", 0, "")
	if rooms, _ := ts.Store.ListRooms(context.Background()); len(rooms) != 3 {
		t.Errorf("%d rooms stored, want 3", len(rooms))
	}
}

// TestPasswordNeverShown creates a private room while a lobby stream listens, walks every
// page a person sees on the way in, and searches all the raw bytes (and the log, and the
// database files) for the password.
func TestPasswordNeverShown(t *testing.T) {
	const password = "Sesame-Open-7731"
	ts := newTestServer(t, withConfig(Config{PasswordCost: bcrypt.DefaultCost})) // the production cost is what is checked
	owner, guest := ts.newPerson(t), ts.newPerson(t)
	stream := ts.openLobbyStream(t, guest)
	stream.next(t, 5*time.Second) // snapshot

	var seen bytes.Buffer
	record := func(resp *http.Response, body string) {
		for k, vs := range resp.Header {
			fmt.Fprintf(&seen, "%s: %s\n", k, strings.Join(vs, ","))
		}
		seen.WriteString(body)
	}
	form := url.Values{"title": {"Secret garden"}, "capacity": {"4"}, "password": {password}}
	resp, body := ts.postForm(t, noRedirect(owner), "/rooms", form, htmxHeader)
	record(resp, body)
	id := strings.TrimPrefix(resp.Header.Get("HX-Redirect"), "/rooms/")
	if !RoomIDPattern.MatchString(id) {
		t.Fatalf("create: %s HX-Redirect %q", resp.Status, resp.Header.Get("HX-Redirect"))
	}
	ev := stream.waitFor(t, 5*time.Second, func(e sseEvent) bool { return strings.Contains(e.Data, `id="room-`+id+`"`) })
	seen.WriteString(ev.Data)
	if !strings.Contains(ev.Data, "Private") {
		t.Errorf("the lobby event does not mark the room private:\n%s", ev.Data)
	}

	room, err := ts.Store.RoomByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(room.PasswordHash, "$2") || room.PasswordHash == password {
		t.Fatalf("stored password %q is not a bcrypt hash", room.PasswordHash)
	}
	if cost, err := bcrypt.Cost([]byte(room.PasswordHash)); err != nil || cost < bcrypt.DefaultCost {
		t.Errorf("bcrypt cost %d, %v; want at least %d", cost, err, bcrypt.DefaultCost)
	}
	if bcrypt.CompareHashAndPassword([]byte(room.PasswordHash), []byte(password)) != nil {
		t.Error("the stored hash does not match the password")
	}

	for _, c := range []*http.Client{owner, guest} {
		record(ts.get(t, c, "/"))
		record(ts.get(t, c, "/rooms/"+id))
	}
	resp, body = ts.postForm(t, guest, "/rooms/"+id+"/enter", url.Values{"password": {password + "x"}}, nil)
	record(resp, body)
	resp, body = ts.postForm(t, guest, "/rooms/"+id+"/enter", url.Values{"password": {password}}, nil)
	record(resp, body)
	if !strings.Contains(body, `role="log"`) {
		t.Errorf("the right password did not lead to the room:\n%s", body)
	}
	// A refused create must not echo it either.
	record(ts.postForm(t, owner, "/rooms", url.Values{"title": {""}, "password": {password}}, nil))
	record(ts.postForm(t, owner, "/rooms", url.Values{"title": {""}, "password": {password}}, htmxHeader))
	// Events after entering (member counts) must not carry it.
	conn := ts.dialRoom(t, guest, id, 0)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, frame, err := conn.ReadMessage(); err == nil {
		seen.Write(frame)
	}
	for {
		e, ok := stream.tryNext(500 * time.Millisecond)
		if !ok {
			break
		}
		seen.WriteString(e.Data)
	}

	all := seen.String()
	if strings.Contains(all, password) {
		t.Error("the password appears in a response, header or event")
	}
	if strings.Contains(all, room.PasswordHash) || strings.Contains(all, room.PasswordHash[7:]) {
		t.Error("the password hash appears in a response, header or event")
	}
	if strings.Contains(ts.Logs(), password) {
		t.Error("the password appears in the server log")
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

// readUntilClose reads a socket until it closes and returns the close code.
func readUntilClose(t *testing.T, conn *websocket.Conn) int {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				return ce.Code
			}
			t.Fatalf("socket ended without a close frame: %v", err)
		}
	}
}

func TestNotFoundPages(t *testing.T) {
	ts := newTestServer(t)
	person := ts.newPerson(t)
	ts.createRoom(t, person, "Real room", 0, "")
	for _, path := range []string{
		"/rooms/nope",
		"/rooms/aaaaaaaaaaaaaaaa",  // well-formed, unknown
		"/rooms/AAAAAAAAAAAAAAAA",  // wrong alphabet
		"/rooms/aaaaaaaaaaaaaaa1",  // wrong alphabet
		"/rooms/aaaaaaaaaaaaaaaaa", // too long
		"/rooms/%3Cscript%3E",
		"/rooms/aaaaaaaaaaaaaaaa/messages?before=10",
		"/nope",
		"/rooms",
		"/rooms/aaaaaaaaaaaaaaaa/enter",
		"/index.php",
	} {
		t.Run(path, func(t *testing.T) {
			resp, body := ts.get(t, person, path)
			if resp.StatusCode != http.StatusNotFound {
				t.Fatalf("status %s, want 404", resp.Status)
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !isWholePage(body) {
				t.Errorf("not an HTML page: %q\n%s", resp.Header.Get("Content-Type"), body)
			}
			if !strings.Contains(strings.ToLower(body), "not found") || !strings.Contains(body, `href="/"`) || !strings.Contains(body, "GIF chat") {
				t.Errorf("not the app's 404 page (says not found, links to the lobby):\n%s", body)
			}
			if strings.Contains(body, "<script>") {
				t.Error("the path was reflected unescaped")
			}
		})
	}
	for _, path := range []string{"/rooms/nope/enter", "/rooms/aaaaaaaaaaaaaaaa/enter", "/rooms/aaaaaaaaaaaaaaaa/messages"} {
		resp, body := ts.postForm(t, person, path, url.Values{"password": {"x"}, "text": {"hi"}}, nil)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(strings.ToLower(body), "not found") {
			t.Errorf("POST %s: %s", path, resp.Status)
		}
	}
}

// TestOversizedBody: a body over the limit is refused with 413 before anything reads it.
func TestOversizedBody(t *testing.T) {
	ts := newTestServer(t, withConfig(Config{MaxFormBytes: 4 << 10}))
	person := ts.newPerson(t)
	big := url.Values{"title": {"Big"}, "filler": {strings.Repeat("x", 8<<10)}}.Encode()

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
	// Just under the limit is fine.
	ok := url.Values{"title": {"Fits"}, "filler": {strings.Repeat("x", 3<<10)}}
	if resp, body := ts.postForm(t, noRedirect(person), "/rooms", ok, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("3 KiB form: %s\n%s", resp.Status, body)
	}
}

func TestSessionCookieFlags(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[secure], func(t *testing.T) {
			var opts []testServerOption
			if secure {
				opts = append(opts, withTLS())
			}
			ts := newTestServer(t, opts...)
			c := ts.srv.Client()
			resp, err := c.Get(ts.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			var session *http.Cookie
			for _, ck := range resp.Cookies() {
				if ck.Name == SessionCookie {
					session = ck
				}
			}
			if session == nil {
				t.Fatalf("no %s cookie in %q", SessionCookie, resp.Header.Values("Set-Cookie"))
			}
			raw := strings.Join(resp.Header.Values("Set-Cookie"), "\n")
			if !session.HttpOnly {
				t.Errorf("cookie not HttpOnly: %s", raw)
			}
			if session.SameSite != http.SameSiteLaxMode {
				t.Errorf("cookie SameSite %v, want Lax: %s", session.SameSite, raw)
			}
			if session.Path != "/" {
				t.Errorf("cookie Path %q, want /: %s", session.Path, raw)
			}
			if session.Secure != secure {
				t.Errorf("cookie Secure = %v over %s: %s", session.Secure, map[bool]string{false: "http", true: "https"}[secure], raw)
			}
			if session.MaxAge <= 0 || session.Domain != "" {
				t.Errorf("cookie MaxAge %d, Domain %q: want persistent, host-only", session.MaxAge, session.Domain)
			}
			if len(session.Value) < 43 {
				t.Errorf("session token %d characters; want 256 random bits", len(session.Value))
			}
			// The database holds the token's hash, not the token.
			if _, err := ts.Store.IdentityBySession(context.Background(), session.Value); err == nil {
				t.Error("the raw token is stored")
			}
			id, err := ts.Store.IdentityBySession(context.Background(), HashToken(session.Value))
			if err != nil {
				t.Fatalf("no identity for the session: %v", err)
			}
			// Coming back with the cookie: the same identity, no new cookie.
			req, _ := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
			req.AddCookie(&http.Cookie{Name: SessionCookie, Value: session.Value})
			resp, err = c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if len(resp.Cookies()) != 0 {
				t.Errorf("a known session got a new cookie: %q", resp.Header.Values("Set-Cookie"))
			}
			if !strings.Contains(string(body), html.EscapeString(id.Nickname)) {
				t.Errorf("the header does not show the nickname %q", id.Nickname)
			}
		})
	}
}

// TestUnknownSessionGetsANewOne: a cookie the server does not know (forged, or from a wiped
// database) is replaced, not trusted.
func TestUnknownSessionGetsANewOne(t *testing.T) {
	ts := newTestServer(t)
	for _, value := range []string{strings.Repeat("A", 43), "short", ""} {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
		req.Header.Set("Cookie", SessionCookie+"="+value)
		resp, _ := ts.do(t, ts.srv.Client(), req)
		var fresh string
		for _, ck := range resp.Cookies() {
			if ck.Name == SessionCookie {
				fresh = ck.Value
			}
		}
		if fresh == "" || fresh == value {
			t.Errorf("cookie %q: answered with %q; want a fresh session", value, fresh)
		}
	}
}

// TestSessionSurvivesRestart stops the app and starts a new one on the same data directory:
// the cookie still names the same person, and their room is still there.
func TestSessionSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	first := newTestServer(t, withDataDir(dir))
	person := first.newPerson(t)
	before := first.identity(t, person)
	id := first.createRoom(t, person, "Still here", 0, "")
	cookie := first.sessionCookie(person)
	first.Close()

	second := newTestServer(t, withDataDir(dir))
	req, _ := http.NewRequest(http.MethodGet, second.URL+"/", nil)
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: cookie.Value})
	resp, body := second.do(t, second.srv.Client(), req)
	if len(resp.Cookies()) != 0 {
		t.Errorf("after a restart the session was replaced: %q", resp.Header.Values("Set-Cookie"))
	}
	if !strings.Contains(body, html.EscapeString(before.Nickname)) {
		t.Errorf("after a restart the header does not show %q", before.Nickname)
	}
	if !strings.Contains(body, `id="room-`+id+`"`) {
		t.Error("after a restart the room is not listed")
	}
	// Still the owner: a private room would ask a stranger, but not them.
	req, _ = http.NewRequest(http.MethodGet, second.URL+"/rooms/"+id, nil)
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: cookie.Value})
	if resp, body := second.do(t, second.srv.Client(), req); resp.StatusCode != http.StatusOK || !strings.Contains(body, "<h1>Still here</h1>") {
		t.Errorf("room page after restart: %s", resp.Status)
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	ts := newTestServer(t)
	person := noRedirect(ts.newPerson(t))
	owner := ts.newPerson(t)
	private := ts.createRoom(t, owner, "Private", 0, "letmein")
	form := url.Values{"title": {"Forged"}}
	for _, header := range []http.Header{
		{"Origin": {"https://evil.example"}},
		{"Origin": {"http://localhost:1"}},
		{"Sec-Fetch-Site": {"cross-site"}},
		{"Sec-Fetch-Site": {"same-site"}},
		{"Origin": {"https://evil.example"}, "Hx-Request": {"true"}},
	} {
		resp, body := ts.postForm(t, person, "/rooms", form, header)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST /rooms with %v: %s, want 403", header, resp.Status)
		}
		if !isWholePage(body) {
			t.Errorf("403 is not the app's page:\n%s", body)
		}
		resp, _ = ts.postForm(t, person, "/rooms/"+private+"/enter", url.Values{"password": {"letmein"}}, header)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST enter with %v: %s, want 403", header, resp.Status)
		}
	}
	rooms, _ := ts.Store.ListRooms(context.Background())
	if len(rooms) != 1 {
		t.Errorf("%d rooms after forged posts, want only the owner's", len(rooms))
	}
	if ok, _ := ts.Store.HasRoomEntry(context.Background(), private, ts.identity(t, person).ID); ok {
		t.Error("a cross-origin enter was accepted")
	}
	// Same origin, as a browser sends it, is fine.
	for _, header := range []http.Header{{"Origin": {ts.URL}}, {"Sec-Fetch-Site": {"same-origin"}}} {
		if resp, body := ts.postForm(t, person, "/rooms", form, header); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("same-origin POST with %v: %s\n%s", header, resp.Status, body)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	ts := newTestServer(t)
	person := ts.newPerson(t)
	id := ts.createRoom(t, person, "Headers", 0, "")
	for _, path := range []string{"/", "/rooms/" + id, "/nope"} {
		resp, _ := ts.get(t, person, path)
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
	}
	// The pages hold no inline script (the CSP would block it).
	_, body := ts.get(t, person, "/")
	if regexp.MustCompile(`<script>|<script [^>]*>[^<]`).MatchString(body) || strings.Contains(body, "hx-on") {
		t.Error("the lobby has inline script")
	}
}

func TestHealthz(t *testing.T) {
	ts := newTestServer(t)
	resp, body := ts.get(t, ts.srv.Client(), "/healthz")
	if resp.StatusCode != http.StatusOK || body != "ok\n" {
		t.Errorf("healthz: %s %q", resp.Status, body)
	}
	if len(resp.Cookies()) != 0 {
		t.Error("a health probe was given a session")
	}
	ts.Store.Close()
	if resp, _ := ts.get(t, ts.srv.Client(), "/healthz"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("healthz with the database closed: %s, want 503", resp.Status)
	}
}

// TestCreateRoomLimitUnderConcurrency: many simultaneous creates by one person (a double
// click, a script) must not get past the rooms-per-person limit.
func TestCreateRoomLimitUnderConcurrency(t *testing.T) {
	const limit = 2
	ts := newTestServer(t, withConfig(Config{MaxRoomsPerPerson: limit}))
	person := noRedirect(ts.newPerson(t))
	const tries = 8
	statuses := make(chan int, tries)
	start := make(chan struct{})
	for i := range tries {
		go func() {
			<-start
			form := url.Values{"title": {fmt.Sprintf("Race %d", i)}, "password": {"hunter22"}}
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/rooms", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := person.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	close(start)
	created := 0
	for range tries {
		switch s := <-statuses; s {
		case http.StatusSeeOther:
			created++
		case http.StatusUnprocessableEntity:
		default:
			t.Errorf("status %d", s)
		}
	}
	n, err := ts.Store.CountRoomsOwnedBy(context.Background(), ts.identity(t, person).ID)
	if err != nil {
		t.Fatal(err)
	}
	if n > limit || created > limit {
		t.Errorf("%d simultaneous creates made %d rooms (%d stored); the limit is %d", tries, created, n, limit)
	}
	if created == 0 {
		t.Error("no create succeeded")
	}
}
