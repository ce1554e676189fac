package handlers_test

// Creating a room: what the form accepts and refuses (and how it says so, with and without
// htmx), the redirect to the new room, the 60-character title, and the rooms-per-person limit,
// also under simultaneous creates.

import (
	. "gifchat/handlers"

	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

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
		{"password 3 characters", url.Values{"title": {"Lunch"}, "password": {"Zq9"}}, map[string]string{"password": "at least 6"}},
		{"password 5 characters", url.Values{"title": {"Lunch"}, "password": {"Zq9x!"}}, map[string]string{"password": "at least 6"}},
		{"password 5 characters of two bytes", url.Values{"title": {"Lunch"}, "password": {"ééééé"}}, map[string]string{"password": "at least 6"}},
		{"password 73 characters", url.Values{"title": {"Lunch"}, "password": {strings.Repeat("Qw", 36) + "Q"}}, map[string]string{"password": "at most 72"}},
		{"everything wrong", url.Values{"title": {" "}, "capacity": {"abc"}, "password": {"Zq9"}},
			map[string]string{"title": "title", "capacity": "whole number", "password": "at least 6"}},
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
		{"password 6 characters", url.Values{"title": {"Six"}, "password": {"abcdef"}}, "Six", 10, true},
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

// The title limit is the product's contract (60 characters, not bytes), not a setting.
// Original: the title was whatever was sent. Here a title is at most 60 characters; a huge
// one is refused with the reason and nothing is created, and the lobby never shows one longer.
func TestTitleLimitIsSixtyCharacters(t *testing.T) {
	ts := newTestServer(t)
	alice := noRedirect(ts.newPerson(t))
	sixty := strings.Repeat("ü", 60) // 120 bytes: the limit counts characters
	for _, title := range []string{sixty + "x", strings.Repeat("T", 61), strings.Repeat("T", 1000), strings.Repeat("T", 30000)} {
		n := utf8.RuneCountInString(title)
		want := fmt.Sprintf("The title is %d characters long; at most 60.", n)
		resp, page := ts.postForm(t, alice, "/rooms", url.Values{"title": {title}}, nil)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, want) {
			t.Errorf("%d-character title: %s", n, resp.Status)
		}
		if msg, _ := fieldError(page, "title"); msg != want {
			t.Errorf("%d-character title: reason next to the title: %q", n, msg)
		}
	}
	// Over the body limit it is refused before it is read.
	resp, _ := ts.postForm(t, alice, "/rooms", url.Values{"title": {strings.Repeat("T", 70000)}}, nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("70,000-character title: %s, want 413", resp.Status)
	}
	if rooms, _ := ts.Store.ListRooms(context.Background()); len(rooms) != 0 {
		t.Fatalf("%d rooms created", len(rooms))
	}
	// 60 characters is fine, with spaces around them too (they are trimmed).
	if resp, page := ts.postForm(t, alice, "/rooms", url.Values{"title": {"  " + sixty + "  "}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a 60-character title (with spaces around it) was refused: %s\n%s", resp.Status, page)
	}
	rooms, _ := ts.Store.ListRooms(context.Background())
	if len(rooms) != 1 || utf8.RuneCountInString(rooms[0].Title) != 60 {
		t.Errorf("stored rooms: %+v", rooms)
	}
	_, lobby := ts.get(t, alice, "/")
	if strings.Contains(lobby, strings.Repeat("T", 61)) || strings.Contains(lobby, sixty+"x") {
		t.Error("the lobby shows an over-long title")
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

// TestCreateRoomLimitPerPerson: someone who owns MaxRoomsPerPerson rooms is refused another,
// with the reason in the form; others are not affected, and deleting one frees a place.
func TestCreateRoomLimitPerPerson(t *testing.T) {
	ts := newTestServer(t, withConfig(Config{MaxRoomsPerPerson: 2}))
	person := ts.newPerson(t)
	first := ts.createRoom(t, person, "one", 0, "")
	ts.createRoom(t, person, "two", 0, "")
	for _, header := range []http.Header{nil, htmxHeader} {
		resp, body := ts.postForm(t, noRedirect(person), "/rooms", url.Values{"title": {"three"}}, header)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `class="form-error"`) || !strings.Contains(body, "You already own 2 rooms") {
			t.Errorf("third room (header %v): %s\n%s", header, resp.Status, body)
		}
	}
	// Someone else may still create one.
	ts.createRoom(t, ts.newPerson(t), "three", 0, "")
	if rooms, _ := ts.Store.ListRooms(context.Background()); len(rooms) != 3 {
		t.Errorf("%d rooms stored, want 3", len(rooms))
	}
	// Deleting one frees a place.
	if resp, _ := ts.postForm(t, noRedirect(person), "/rooms/"+first+"/delete", url.Values{"confirm": {"yes"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %s", resp.Status)
	}
	ts.createRoom(t, person, "three again", 0, "")
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

// TestCreateRoomServerFull: with -max-rooms rooms on the server, another create is refused
// for anyone: 503 with Retry-After (the server is full; the person asked nothing wrong) and
// the reason on the form; nothing is created. A room closing frees a place.
func TestCreateRoomServerFull(t *testing.T) {
	ts := newTestServer(t, withConfig(Config{MaxRooms: 2}))
	alice, bob := ts.newPerson(t), ts.newPerson(t)
	first := ts.createRoom(t, alice, "one", 0, "")
	ts.createRoom(t, bob, "two", 0, "")
	for _, header := range []http.Header{nil, htmxHeader} {
		resp, body := ts.postForm(t, noRedirect(ts.newPerson(t)), "/rooms", url.Values{"title": {"three"}, "password": {"hunter22"}}, header)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("third room (header %v): %s, Retry-After %q", header, resp.Status, resp.Header.Get("Retry-After"))
		}
		if !strings.Contains(body, `class="form-error"`) || !strings.Contains(body, "already has 2 rooms, the most it holds") {
			t.Errorf("third room (header %v): the reason is not on the form:\n%s", header, body)
		}
		if !strings.Contains(body, `value="three"`) {
			t.Errorf("third room (header %v): what was typed is gone", header)
		}
	}
	if n := ts.Rooms.Count(); n != 2 {
		t.Fatalf("%d rooms, want 2", n)
	}
	if resp, _ := ts.postForm(t, noRedirect(alice), "/rooms/"+first+"/delete", url.Values{"confirm": {"yes"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %s", resp.Status)
	}
	ts.createRoom(t, alice, "three", 0, "")
}

// TestCreateRoomServerFullUnderConcurrency: simultaneous creates by many people do not get
// past -max-rooms either.
func TestCreateRoomServerFullUnderConcurrency(t *testing.T) {
	const limit, tries = 3, 12
	ts := newTestServer(t, withConfig(Config{MaxRooms: limit}))
	people := make([]*http.Client, tries)
	for i := range people {
		people[i] = noRedirect(ts.newPerson(t))
	}
	statuses := make(chan int, tries)
	start := make(chan struct{})
	for i, person := range people {
		go func() {
			<-start
			form := url.Values{"title": {fmt.Sprintf("Race %d", i)}}
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
		case http.StatusServiceUnavailable:
		default:
			t.Errorf("status %d", s)
		}
	}
	rooms, err := ts.Store.ListRooms(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if created != limit || len(rooms) != limit || ts.Rooms.Count() != limit {
		t.Errorf("%d simultaneous creates: %d answered created, %d stored, %d live; want exactly %d", tries, created, len(rooms), ts.Rooms.Count(), limit)
	}
}
