package handlers_test

// A name and colour of your own (/me): the form and its refusals, a name taken in a room one
// is in, the change shown live in every room, history that keeps the names messages were sent
// under, and generated nicknames in the visitor's language.

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	. "gifchat/handlers"

	"gifchat/db"
)

// rename posts the /me form as the person, without following the redirect.
func (ts *testServer) rename(t *testing.T, person *http.Client, nickname, colour, back string) (*http.Response, string) {
	t.Helper()
	form := url.Values{"nickname": {nickname}, "colour": {colour}}
	if back != "" {
		form.Set("back", back)
	}
	return ts.postForm(t, noRedirect(person), "/me", form, nil)
}

// mustRename renames the person and checks the form went back to back.
func (ts *testServer) mustRename(t *testing.T, person *http.Client, nickname, colour, back string) {
	t.Helper()
	resp, body := ts.rename(t, person, nickname, colour, back)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != back {
		t.Fatalf("rename to %q: %s to %q, want 303 to %q\n%s", nickname, resp.Status, resp.Header.Get("Location"), back, body)
	}
}

func TestProfilePageShowsTheForm(t *testing.T) {
	ts := newTestServer(t)
	alice := ts.newPerson(t)
	me := ts.identity(t, alice)
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/me", nil)
	req.Header.Set("Referer", ts.URL+"/rooms/abc?x=1")
	resp, body := ts.do(t, alice, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /me: %s", resp.Status)
	}
	for _, want := range []string{
		`<label for="nickname">Nickname</label>`,
		`<legend>Colour</legend>`,
		`>Save</button>`,
		`value="` + html.EscapeString(me.Nickname) + `"`,
		`<input type="radio" name="colour" value="` + me.Colour + `" checked>`,
		`<span class="who">Teal</span>`, // each radio button is named by its colour
		`name="back" value="/rooms/abc?x=1"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the form lacks %s", want)
		}
	}
	if n := strings.Count(body, `type="radio" name="colour"`); n != len(Colours) {
		t.Errorf("%d colour buttons, want one per palette colour (%d)", n, len(Colours))
	}
	// Korean, as the request asks.
	req, _ = http.NewRequest(http.MethodGet, ts.URL+"/me", nil)
	req.Header.Set("Accept-Language", "ko-KR")
	_, body = ts.do(t, alice, req)
	for _, want := range []string{">닉네임</label>", "<legend>색</legend>", ">저장</button>", ">청록</span>"} {
		if !strings.Contains(body, want) {
			t.Errorf("the Korean form lacks %s", want)
		}
	}
}

// Each refusal has its own reason; the form comes back with what was typed and the reason,
// and nothing is changed.
func TestProfileRefusesBadNicknamesAndColours(t *testing.T) {
	ts := newTestServer(t)
	alice := ts.newPerson(t)
	before := ts.identity(t, alice)
	cases := []struct {
		name, nickname, colour, field, reason string
	}{
		{"empty", "", "c3", "nickname", "cannot be empty"},
		{"only spaces", "   ", "c3", "nickname", "cannot be empty"},
		{"too long", strings.Repeat("가", 25), "c3", "nickname", "25 characters long; the limit is 24"},
		{"not UTF-8", "bad\xffname", "c3", "nickname", "not valid text"},
		{"a control character", "tab\tname", "c3", "nickname", "control characters"},
		{"a NUL", "nul\x00name", "c3", "nickname", "control characters"},
		{"a right-to-left override", "evil\u202egnp.exe", "c3", "nickname", "change the direction of text"},
		{"an isolate", "\u2066mina\u2069", "c3", "nickname", "change the direction of text"},
		{"a right-to-left mark", "mina\u200f", "c3", "nickname", "change the direction of text"},
		{"an emoji", "mina😀", "c3", "nickname", "“😀” cannot be used in a nickname"},
		{"a symbol", "mina@home", "c3", "nickname", "“@” cannot be used in a nickname"},
		{"a zero-width space", "mi\u200bna", "c3", "nickname", "U+200B cannot be used in a nickname"},
		{"a Hangul filler", "\u3164", "c3", "nickname", "U+3164 cannot be used in a nickname"},
		{"a colour not in the palette", "mina", "c12", "colour", "Choose one of the colours shown"},
		{"a colour that is CSS", "mina", "red; background: url(x)", "colour", "Choose one of the colours shown"},
		{"no colour", "mina", "", "colour", "Choose one of the colours shown"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := ts.rename(t, alice, c.nickname, c.colour, "/")
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("%s, want 422", resp.Status)
			}
			errAt := strings.Index(body, `id="`+c.field+`-error"`)
			if errAt < 0 || !strings.Contains(body[errAt:], html.EscapeString(c.reason)) {
				t.Errorf("the %s field's error does not say %q", c.field, c.reason)
			}
			if typed := strings.ToValidUTF8(c.nickname, "\uFFFD"); !strings.Contains(body, `value="`+html.EscapeString(typed)+`"`) {
				t.Errorf("the form lost what was typed (%q)", c.nickname)
			}
			if !strings.Contains(body, `<label for="nickname">Nickname</label>`) || !isWholePage(body) {
				t.Error("the refusal is not the form page")
			}
			if got := ts.identity(t, alice); got != before {
				t.Errorf("refused, yet the identity changed: %+v, was %+v", got, before)
			}
		})
	}
}

func TestCleanNicknameKeepsWhatIsAllowed(t *testing.T) {
	for typed, want := range map[string]string{
		"  Mina  ":              "Mina",
		"김민아":                   "김민아",
		"\u1100\u1161\u11a8":    "각", // Hangul typed as its letters is stored as the syllable
		"x.y_z-1":               "x.y_z-1",
		"Mina   Kim":            "Mina Kim",
		"Zoë":                   "Zoë",
		"Zoe\u0308":             "Zoë",
		strings.Repeat("가", 24): strings.Repeat("가", 24),
		"재빠른-수달-42":             "재빠른-수달-42",
	} {
		got, err := CleanNickname(typed)
		if err != nil || got != want {
			t.Errorf("CleanNickname(%q) = %q, %v; want %q", typed, got, err, want)
		}
	}
}

func TestProfileSaveGoesBackWhereThePersonCameFrom(t *testing.T) {
	ts := newTestServer(t)
	alice := ts.newPerson(t)
	for back, want := range map[string]string{
		"/rooms/abcdefghijklmnop": "/rooms/abcdefghijklmnop",
		"/?x=1":                   "/?x=1",
		"":                        "/",
		"https://evil.example/":   "/",
		"//evil.example/":         "/",
		"/\\evil.example":         "/",
		"/me":                     "/",
	} {
		resp, body := ts.rename(t, alice, "Mina "+fmt.Sprint(len(back)), "c4", back)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
			t.Errorf("saved from %q: %s to %q, want 303 to %q\n%s", back, resp.Status, resp.Header.Get("Location"), want, body)
		}
	}
	if got := ts.identity(t, alice); !strings.HasPrefix(got.Nickname, "Mina ") || got.Colour != "c4" {
		t.Errorf("after saving: %q %q", got.Nickname, got.Colour)
	}
}

// A nickname someone else present in one of the person's rooms goes by is refused, compared
// without case, naming the rooms; someone in no room with them may take it.
func TestRenameToANamePresentInTheRoomIsRefused(t *testing.T) {
	ts := newTestServer(t)
	alice, bob, carol := ts.newPerson(t), ts.newPerson(t), ts.newPerson(t)
	ts.mustRename(t, bob, "Zed", "c2", "/")
	lunch := ts.createRoom(t, alice, "Lunch", 0, "")
	tea := ts.createRoom(t, alice, "Tea", 0, "")
	other := ts.createRoom(t, carol, "Elsewhere", 0, "")
	ts.joined(t, alice, lunch)
	ts.joined(t, alice, tea)
	ts.joined(t, bob, lunch)
	ts.joined(t, bob, tea)
	ts.joined(t, carol, other)
	before := ts.identity(t, alice)

	resp, body := ts.rename(t, alice, "zED", "c3", "/rooms/"+lunch)
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("taking a present member's name: %s, want 409\n%s", resp.Status, body)
	}
	want := html.EscapeString("“zED” is taken: someone else in the rooms “Lunch”, “Tea” already goes by that name.")
	if !strings.Contains(body, want) {
		t.Errorf("the refusal does not name the rooms and the reason (want %s):\n%s", want, body)
	}
	if !strings.Contains(body, `value="zED"`) {
		t.Error("the refused form lost what was typed")
	}
	if got := ts.identity(t, alice); got != before {
		t.Errorf("refused, yet alice is now %+v", got)
	}
	// A full-width spelling is the same name.
	if resp, _ := ts.rename(t, alice, "Ｚｅｄ", "c3", "/"); resp.StatusCode != http.StatusConflict {
		t.Errorf("full-width Ｚｅｄ: %s, want 409", resp.Status)
	}
	// Carol shares no room with bob: the name is hers to take. Bob may change his colour.
	ts.mustRename(t, carol, "zed", "c5", "/")
	ts.mustRename(t, bob, "Zed", "c7", "/")
}

// Two people in one room asking for one name at the same moment: one gets it.
func TestConcurrentRenamesToOneNameInOneRoom(t *testing.T) {
	ts := newTestServer(t)
	const n = 6
	owner := ts.newPerson(t)
	room := ts.createRoom(t, owner, "Race", n+1, "")
	people := make([]*http.Client, n)
	for i := range people {
		people[i] = ts.newPerson(t)
		ts.joined(t, people[i], room)
	}
	for round := range 3 {
		name := fmt.Sprintf("Twin %d", round)
		codes := make([]int, n)
		var wg sync.WaitGroup
		for i, p := range people {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, _ := ts.rename(t, p, name, "c1", "/")
				codes[i] = resp.StatusCode
			}()
		}
		wg.Wait()
		won := 0
		for _, c := range codes {
			switch c {
			case http.StatusSeeOther:
				won++
			case http.StatusConflict:
			default:
				t.Fatalf("round %d: a rename answered %d", round, c)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d people took %q in one room, want exactly 1 (%v)", round, won, name, codes)
		}
	}
}

var whoamiRe = regexp.MustCompile(`<hx-partial hx-target="#whoami-name" hx-swap="outerHTML"><span id="whoami-name" class="who c5">Alicia</span></hx-partial>`)

// The rename shows live: another member's panel entry and a notice, the renamer's own
// header, the typing line and the whisper line of someone whispering to them.
func TestRenameShowsLiveInEveryRoom(t *testing.T) {
	ts := newTestServer(t)
	alice, bob := ts.newPerson(t), ts.newPerson(t)
	a, b := ts.identity(t, alice), ts.identity(t, bob)
	lunch := ts.createRoom(t, bob, "Lunch", 0, "")
	tea := ts.createRoom(t, alice, "Tea", 0, "")
	aliceLunch, aliceTea := ts.joined(t, alice, lunch), ts.joined(t, alice, tea)
	bobLunch, bobTea := ts.joined(t, bob, lunch), ts.joined(t, bob, tea)
	aliceLunch.waitFor(t, `id="member-`+itoa64(b.ID)+`"`)
	bobLunch.send(t, map[string]any{"action": "whisper-to", "to": itoa64(a.ID)})
	bobLunch.waitFor(t, `<input type="hidden" name="to" value="`+itoa64(a.ID)+`">`)
	aliceLunch.send(t, map[string]any{"action": "typing"})
	bobLunch.waitFor(t, html.EscapeString(a.Nickname)+" is typing…")

	ts.mustRename(t, alice, "Alicia", "c5", "/rooms/"+lunch)

	member := `<hx-partial hx-target="#member-` + itoa64(a.ID) + `" hx-swap="outerHTML"><li id="member-` + itoa64(a.ID) + `"`
	for name, p := range map[string]*roomPeer{"Lunch": bobLunch, "Tea": bobTea} {
		got := p.waitFor(t, html.EscapeString(a.Nickname)+" is now Alicia")
		at := strings.Index(got, member)
		if at < 0 {
			t.Fatalf("bob's %s panel got no new entry for alice:\n%s", name, got)
		}
		entry := got[at:]
		entry = entry[:strings.Index(entry, "</li>")]
		if !strings.Contains(entry, `class="member-name who c5"`) || !strings.Contains(entry, `aria-label="Whisper to Alicia"`) || !strings.Contains(entry, ">Alicia</button>") {
			t.Errorf("bob's %s panel entry for alice is not Alicia in c5:\n%s", name, entry)
		}
		if whoamiRe.MatchString(got) || strings.Contains(got, `hx-target="#whoami-name"`) {
			t.Errorf("bob's %s socket got alice's header", name)
		}
	}
	// Tea is alice's room: its card in the lobby names its owner as she is now.
	for _, card := range ts.Lobby.Rooms() {
		if card.ID == tea && (card.Owner.Name != "Alicia" || card.Owner.Colour != "c5") {
			t.Errorf("the lobby's card of Tea names its owner %q %q", card.Owner.Name, card.Owner.Colour)
		}
	}
	for name, p := range map[string]*roomPeer{"Lunch": aliceLunch, "Tea": aliceTea} {
		p.waitUntil(t, "alice's own header in "+name, whoamiRe.MatchString)
	}
	got := bobLunch.waitFor(t, "Alicia is typing…")
	selector := html.EscapeString(`#message-form:has(> input[name="to"][value="` + itoa64(a.ID) + `"]) > .whisper-mode > .who`)
	if !strings.Contains(got, `hx-target="`+selector+`"`) || !strings.Contains(got, `<span class="who c5">Alicia</span>`) {
		t.Errorf("bob's whisper line to alice got no new name:\n%s", got)
	}
	// Whispering to her from now on names her as she is.
	bobLunch.send(t, map[string]any{"action": "whisper-to", "to": itoa64(a.ID)})
	bobLunch.waitFor(t, `<span class="who c5">Alicia</span><`)
}

// Messages keep the name they were sent under, in the history pages and in a replay after a
// reconnect; reactions and the members panel show people as they are now.
func TestOldMessagesKeepTheNameTheyWereSentUnder(t *testing.T) {
	ts := newTestServer(t)
	alice, bob := ts.newPerson(t), ts.newPerson(t)
	a := ts.identity(t, alice)
	oldName := a.Nickname
	room := ts.createRoom(t, bob, "History", 0, "")
	ap, bp := ts.joined(t, alice, room), ts.joined(t, bob, room)
	ap.say(t, "said before")
	bp.waitFor(t, "said before")
	bp.send(t, map[string]any{"action": "say", "text": "whispered before", "to": itoa64(a.ID)})
	ap.waitFor(t, "whispered before")
	said := seqOf(t, ts, room, bob, "said before")
	bp.send(t, map[string]any{"action": "react", "seq": itoa64(said), "emoji": "👍"})
	ap.waitFor(t, `aria-label="React with 👍"`)

	ts.mustRename(t, alice, "Alicia", "c5", "/")
	bp.waitFor(t, html.EscapeString(oldName)+" is now Alicia")
	ap.say(t, "said after")
	bp.waitFor(t, "said after")
	// Alice reacts now: the reaction names her as she is.
	ap.send(t, map[string]any{"action": "react", "seq": itoa64(said), "emoji": "👍"})
	bobName := html.EscapeString(ts.identity(t, bob).Nickname)
	bp.waitFor(t, `title="`+bobName+` and Alicia"`)

	check := func(where, got string) {
		t.Helper()
		entries := articleRe.FindAllString(got, -1)
		wantAuthor := map[string]string{
			"said before": `<span class="msg-author who ` + a.Colour + `">` + html.EscapeString(oldName) + `</span>`,
			"said after":  `<span class="msg-author who c5">Alicia</span>`,
		}
		for text, author := range wantAuthor {
			e, ok := findEntry(entries, text)
			if !ok {
				t.Errorf("%s: no entry %q", where, text)
				continue
			}
			if !strings.Contains(e, author) {
				t.Errorf("%s: %q is not shown under %s:\n%s", where, text, author, e)
			}
		}
		if e, ok := findEntry(entries, "whispered before"); !ok || !strings.Contains(e, ">"+html.EscapeString(oldName)+"</span>") || strings.Contains(e, "Alicia") {
			t.Errorf("%s: the whisper to alice does not keep her old name:\n%s", where, e)
		}
		if !strings.Contains(got, html.EscapeString(oldName)+" is now Alicia") {
			t.Errorf("%s: no rename notice", where)
		}
	}
	_, page := ts.get(t, bob, "/rooms/"+room)
	check("the room page", page)
	_, older := ts.get(t, bob, "/rooms/"+room+"/messages?before="+itoa64(lastSeq(t, ts, room, bob)+1))
	check("a history page", older)
	// Bob's reaction and alice's: their names as they are now.
	if !strings.Contains(page, `title="`+bobName+` and Alicia"`) {
		t.Errorf("the page's reaction does not name alice as Alicia:\n%s", page)
	}
	if !strings.Contains(page, `id="member-`+itoa64(a.ID)+`"`) || !strings.Contains(page, `aria-label="Whisper to Alicia"`) {
		t.Error("the members panel does not show alice as Alicia")
	}
	replay := watch(ts.dialRoom(t, bob, room, 0))
	check("a replay", replay.waitFor(t, "said after"))
}

var articleRe = regexp.MustCompile(`(?s)<article id="msg-\d+".*?</article>`)

// findEntry finds the entry holding text among the page's articles.
func findEntry(entries []string, text string) (string, bool) {
	for _, e := range entries {
		if strings.Contains(e, ">"+text+"<") {
			return e, true
		}
	}
	return "", false
}

func lastSeq(t *testing.T, ts *testServer, room string, viewer *http.Client) int64 {
	t.Helper()
	msgs, err := ts.Store.LatestMessages(context.Background(), room, ts.identity(t, viewer).ID, 1)
	if err != nil || len(msgs) == 0 {
		t.Fatalf("latest message: %v", err)
	}
	return msgs[0].Seq
}

// seqOf is the seq of the room's entry with the text body, as viewer sees the room.
func seqOf(t *testing.T, ts *testServer, room string, viewer *http.Client, body string) int64 {
	t.Helper()
	msgs, err := ts.Store.LatestMessages(context.Background(), room, ts.identity(t, viewer).ID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Body == body {
			return m.Seq
		}
	}
	t.Fatalf("no entry %q in the room", body)
	return 0
}

func itoa64(n int64) string { return fmt.Sprint(n) }

// A first visit asking for Korean gets a Korean nickname; one asking for English an English one.
func TestGeneratedNicknamesFollowTheLanguage(t *testing.T) {
	ts := newTestServer(t)
	for lang, want := range map[string]*regexp.Regexp{
		"ko-KR,ko;q=0.9,en;q=0.5": regexp.MustCompile(`^\p{Hangul}+-\p{Hangul}+-\d\d$`),
		"en-GB":                   regexp.MustCompile(`^[a-z]+-[a-z]+-\d\d$`),
		"":                        regexp.MustCompile(`^[a-z]+-[a-z]+-\d\d$`),
	} {
		for range 5 {
			id := ts.visit(t, lang)
			if !want.MatchString(id.Nickname) {
				t.Errorf("Accept-Language %q: nickname %q, want %s", lang, id.Nickname, want)
			}
			if clean, err := CleanNickname(id.Nickname); err != nil || clean != id.Nickname {
				t.Errorf("generated nickname %q is not a valid one: %v", id.Nickname, err)
			}
		}
	}
}

// visit is a first visit to the lobby with an Accept-Language header; it returns the
// identity the visitor was given.
func (ts *testServer) visit(t *testing.T, acceptLanguage string) db.Identity {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: ts.srv.Client().Transport}
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
	if acceptLanguage != "" {
		req.Header.Set("Accept-Language", acceptLanguage)
	}
	if resp, _ := ts.do(t, c, req); resp.StatusCode != http.StatusOK {
		t.Fatalf("first visit: %s", resp.Status)
	}
	return ts.identity(t, c)
}
