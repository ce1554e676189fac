// Package e2e checks gifchat the way people use it: real chromium browsers (one per person,
// each with its own profile and so its own session) against the real handler on a real
// port. Every check is phrased as what a person sees: headings, labels, button names,
// visible text. Any console error, uncaught exception or JavaScript dialog fails the test,
// which also catches Content-Security-Policy breakage.
//
// Screenshots for people to look at are written to e2e/artifacts/ (git-ignored).
package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestLobbyChatReconnectLeave follows two people through a room's whole life, watched
// from a third lobby: a new room shows up live, they talk, one drops off the network
// and misses nothing, both leave, and the empty room goes away.
func TestLobbyChatReconnectLeave(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	people := newPeople(t, srv, "ann", "bob", "cat")
	ann, bob, cat := people[0], people[1], people[2]
	const title = "Friday GIFs"

	t.Run("a new room appears in another lobby without reload", func(t *testing.T) {
		ann.open(t, "/")
		bob.open(t, "/")
		ann.inLobby(t)
		bob.inLobby(t)
		srv.waitLobbyStreams(t, 2, ann, bob)
		bob.markPage(t)
		ann.createRoom(t, title, "")
		bob.waitFor(t, "see the new room in the list", js(`roomCard(`+jsString(title)+`) !== null`))
		bob.noReload(t)
		bob.screenshot(t, "lobby")
		bob.do(t, "switch to dark mode", colorScheme("dark"))
		bob.screenshot(t, "lobby-dark")
		bob.do(t, "switch back to light mode", colorScheme(""))
		ann.checkConsole(t)
		bob.checkConsole(t)
	})
	if t.Failed() {
		t.FailNow()
	}

	var annName, bobName string
	t.Run("both enter and talk", func(t *testing.T) {
		bob.do(t, `press "Join"`, chromedp.Click(joinButton(title)))
		bob.inRoom(t, title)
		annName, bobName = ann.nickname(t), bob.nickname(t)

		// Join notices: each sees the other arrive, and the joiner sees their own.
		ann.seesInLog(t, annName+" joined")
		ann.seesInLog(t, bobName+" joined")
		bob.seesInLog(t, bobName+" joined")
		ann.seesMembers(t, annName, bobName)
		bob.seesMembers(t, annName, bobName)

		ann.say(t, "Hello from Ann, sent with the button", false)
		bob.seesInLog(t, "Hello from Ann, sent with the button")
		bob.say(t, "Hi Ann, sent with Enter", true)
		ann.seesInLog(t, "Hi Ann, sent with Enter")

		ann.screenshot(t, "room")
		ann.do(t, "switch to dark mode", colorScheme("dark"))
		ann.screenshot(t, "room-dark")
		ann.do(t, "switch back to light mode", colorScheme(""))
		ann.do(t, "narrow the window to 360 px", chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile))
		ann.waitFor(t, "see the page fit 360 px without sideways scrolling",
			`document.documentElement.scrollWidth <= 360`)
		ann.screenshot(t, "room-360")
		ann.do(t, "widen the window again", chromedp.ResetViewport())
		ann.checkConsole(t)
		bob.checkConsole(t)
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("after a network cut every message shows, in order, once", func(t *testing.T) {
		session := bob.session(t)
		bob.netCut.Store(true)
		bob.setOffline(t, true)
		cutAt := time.Now()
		// Offline emulation may leave an open WebSocket alone; the server closing bob's
		// connections is what a dropped network does to them.
		closed := srv.conns.cut(session)
		t.Logf("closed %d of bob's connections", closed)
		// Bob is told his connection is gone; the server notices too (after its leave
		// debounce), so the cut is real.
		bob.waitFor(t, "see a reconnecting notice", js(`/reconnecting/i.test(statusText())`))
		ann.seesInLog(t, bobName+" left")

		var sent []string
		for i := 1; i <= 5; i++ {
			text := fmt.Sprintf("While you were away, number %d", i)
			ann.say(t, text, i%2 == 0)
			sent = append(sent, text)
		}
		if got := eval[bool](t, bob, js(`logText().includes(`+jsString(sent[0])+`)`)); got {
			t.Fatal("bob's log showed a message sent while bob was offline: the cut did not cut")
		}
		bob.screenshot(t, "room-offline")

		bob.setOffline(t, false)
		t.Logf("bob was offline for %v", time.Since(cutAt).Round(time.Millisecond))
		// htmx retries with a doubling backoff (0.5 s, 1 s, 2 s, 4 s, 8 s, ±30 %), so the
		// attempt after the network returns may come up to ~10 s later: allow for that.
		bob.waitForWithin(t, 25*time.Second, "see all five messages after reconnecting",
			js(`[`+quoteAll(sent)+`].every(s => logText().includes(s))`))
		// In order, once: by position among the log's messages, and no message id twice.
		order := eval[[]int](t, bob, js(`[`+quoteAll(sent)+`].map(s => messages().findIndex(m => m.innerText.includes(s)))`))
		counts := eval[[]int](t, bob, js(`[`+quoteAll(sent)+`].map(s => messages().filter(m => m.innerText.includes(s)).length)`))
		for i := range sent {
			if counts[i] != 1 {
				t.Errorf("bob sees %q %d times, want once", sent[i], counts[i])
			}
			if i > 0 && order[i] <= order[i-1] {
				t.Errorf("bob sees %q before %q", sent[i], sent[i-1])
			}
		}
		for _, p := range []*person{ann, bob} {
			if dups := eval[[]string](t, p, js(`messages().map(m => m.dataset.seq).filter((id, i, all) => all.indexOf(id) !== i)`)); len(dups) > 0 {
				t.Errorf("%s's log shows message ids more than once: %v", p.name, dups)
			}
		}
		bob.seesInLog(t, bobName+" joined")
		// The members panel is right on both pages, and both carry the same fingerprint of
		// it (bob's from his whole panel, ann's from the items added and removed since):
		// the next reconnect of either skips the panel only if it is the room's.
		ann.seesMembers(t, annName, bobName)
		bob.seesMembers(t, annName, bobName)
		digest := js(`document.getElementById("members-digest").dataset.digest`)
		ann.waitFor(t, "see the same panel fingerprint as bob", js(`document.getElementById("members-digest").dataset.digest === `+jsString(eval[string](t, bob, digest))))
		// The "reconnecting" notice goes away once the room is back.
		bob.waitFor(t, "see the reconnecting notice gone", js(`!/reconnecting/i.test(statusText())`))
		bob.checkConsole(t)
		bob.netCut.Store(false)
		ann.say(t, "Welcome back", true)
		bob.seesInLog(t, "Welcome back")
		ann.checkConsole(t)
		bob.checkConsole(t)
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("when both leave the room disappears from a third lobby", func(t *testing.T) {
		cat.open(t, "/")
		cat.inLobby(t)
		srv.waitLobbyStreams(t, 1, cat)
		cat.waitFor(t, "see the room in the list", js(`roomCard(`+jsString(title)+`) !== null`))
		cat.markPage(t)
		ann.do(t, `follow "Leave"`, click("link", "Leave"))
		ann.inLobby(t)
		bob.closeTab(t)
		gone := js(`roomCard(` + jsString(title) + `) === null`)
		cat.waitForWithin(t, testEmptyRoomGrace+stepTimeout, "see the empty room disappear after the grace", gone)
		cat.noReload(t)
		ann.waitForWithin(t, testEmptyRoomGrace+stepTimeout, "see the empty room disappear after the grace", gone)
		ann.checkConsole(t)
		cat.checkConsole(t)
	})
}

// TestGIFUpload: a GIF picked by one person shows as an image in the other's log.
func TestGIFUpload(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	people := newPeople(t, srv, "ann", "bob")
	ann, bob := people[0], people[1]
	const title = "Dancing pixels"
	const w, h = 120, 80
	gifPath := writeAnimatedGIF(t, w, h, 6)

	ann.open(t, "/")
	ann.inLobby(t)
	ann.createRoom(t, title, "")
	bob.open(t, "/")
	bob.inLobby(t)
	bob.do(t, `press "Join"`, chromedp.Click(joinButton(title)))
	bob.inRoom(t, title)
	ann.seesMembers(t, ann.nickname(t), bob.nickname(t))

	ann.do(t, `pick a GIF with "Upload GIF"`, chromedp.SetUploadFiles(fileInput("Upload GIF"), []string{gifPath}))
	shown := js(`(() => {
		const img = ` + messagesLog + `.querySelector('img');
		return img !== null && img.getAttribute('width') === '` + fmt.Sprint(w) + `' && img.getAttribute('height') === '` + fmt.Sprint(h) + `'
			&& img.complete && img.naturalWidth === ` + fmt.Sprint(w) + ` && img.naturalHeight === ` + fmt.Sprint(h) + `;
	})()`)
	bob.waitFor(t, fmt.Sprintf("see the GIF in the log as a loaded %d×%d image", w, h), shown)
	ann.waitFor(t, fmt.Sprintf("see my GIF in my log as a loaded %d×%d image", w, h), shown)
	bob.screenshot(t, "room-gif")
	ann.checkConsole(t)
	bob.checkConsole(t)
}

// TestPrivateRoom: a private room asks for its password; a wrong one is refused with a
// reason, the right one lets the person in.
func TestPrivateRoom(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	people := newPeople(t, srv, "ann", "bob")
	ann, bob := people[0], people[1]
	const title = "Secret den"

	ann.open(t, "/")
	ann.inLobby(t)
	ann.createRoom(t, title, "open sesame")

	bob.open(t, "/")
	bob.inLobby(t)
	bob.do(t, `press "Join"`, chromedp.Click(joinButton(title)))
	bob.do(t, "see the room's name on the password page", visible("heading", title))
	bob.do(t, `see the box "Password"`, visible("textbox", "Password"))
	if eval[bool](t, bob, js(messagesLog+` !== null`)) {
		t.Fatal("the password page shows the room's messages")
	}

	// The refusal page comes with status 401, which chromium notes in the console.
	bob.allow(`status of 401 .*/enter\)$`)
	bob.do(t, "type a wrong password", fill("Password", "open says me"))
	bob.do(t, `press "Enter"`, click("button", "Enter"))
	bob.waitFor(t, `see "wrong password"`, `/wrong password/i.test(document.body.innerText)`)
	if eval[bool](t, bob, js(messagesLog+` !== null`)) {
		t.Fatal("a wrong password let bob see the room's messages")
	}
	bob.screenshot(t, "password-wrong")

	bob.do(t, "type the right password", fill("Password", "open sesame"))
	bob.do(t, `press "Enter"`, click("button", "Enter"))
	bob.inRoom(t, title)
	ann.seesMembers(t, ann.nickname(t), bob.nickname(t))
	ann.checkConsole(t)
	bob.checkConsole(t)
}

// TestHostileTextShowsAsText: markup typed into a title or a message is shown as the
// characters typed; nothing runs and no dialog opens.
func TestHostileTextShowsAsText(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	people := newPeople(t, srv, "ann", "bob")
	ann, bob := people[0], people[1]
	const title = `<img src=x onerror=alert(1)><script>alert(2)</script>`
	const message = `look: <img src=x onerror=alert(1)> and <script>alert(2)</script>!`

	ann.open(t, "/")
	bob.open(t, "/")
	ann.inLobby(t)
	bob.inLobby(t)
	srv.waitLobbyStreams(t, 2)
	ann.createRoom(t, title, "")
	if got := eval[string](t, ann, `document.querySelector('h1').textContent.trim()`); got != title {
		t.Errorf("the room's heading reads %q, want the title as typed %q", got, title)
	}
	bob.waitFor(t, "see the room listed under its literal title", js(`roomCard(`+jsString(title)+`) !== null`))
	if n := eval[int](t, bob, js(roomsList+`.querySelectorAll('img, script').length`)); n != 0 {
		t.Errorf("the room list contains %d img/script elements made from the title", n)
	}

	bob.do(t, `press "Join"`, chromedp.Click(joinButton(title)))
	bob.inRoom(t, title)
	ann.seesMembers(t, ann.nickname(t), bob.nickname(t))
	ann.say(t, message, false)
	bob.seesInLog(t, message)
	for _, p := range []*person{ann, bob} {
		if n := eval[int](t, p, js(messagesLog+`.querySelectorAll('img[src="x"], script').length`)); n != 0 {
			t.Errorf("%s's log contains %d img/script elements made from a message", p.name, n)
		}
		if got := eval[string](t, p, `document.title`); !strings.Contains(got, title) {
			t.Errorf("%s's tab title is %q, want it to contain the literal room title", p.name, got)
		}
	}
	bob.screenshot(t, "room-hostile-text")
	ann.checkConsole(t)
	bob.checkConsole(t)
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = jsString(s)
	}
	return strings.Join(q, ",")
}

// TestLiveWithSlowScripts: on a slow network the htmx extensions arrive after htmx itself;
// the lobby must still update live and the room must still connect.
func TestLiveWithSlowScripts(t *testing.T) {
	t.Parallel()
	srv := startServer(t, slowPaths(regexp.MustCompile(`^/static/hx-(ws|sse)\.`), 300*time.Millisecond))
	people := newPeople(t, srv, "ann", "bob")
	ann, bob := people[0], people[1]
	const title = "Slow line"

	ann.open(t, "/")
	bob.open(t, "/")
	ann.inLobby(t)
	bob.inLobby(t)
	srv.waitLobbyStreams(t, 2, ann, bob)
	ann.createRoom(t, title, "")
	bob.waitFor(t, "see the new room in the list", js(`roomCard(`+jsString(title)+`) !== null`))
	bob.do(t, `press "Join"`, chromedp.Click(joinButton(title)))
	bob.inRoom(t, title)
	ann.seesMembers(t, ann.nickname(t), bob.nickname(t))
	bob.say(t, "Made it through", true)
	ann.seesInLog(t, "Made it through")
	ann.checkConsole(t)
	bob.checkConsole(t)
}

// TestBrowserProblemsAreCaught checks the suite's own net: an inline script refused by
// the Content-Security-Policy, an uncaught exception and a dialog must each be recorded,
// or a green suite would prove nothing about them.
func TestBrowserProblemsAreCaught(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	ann := newPeople(t, srv, "ann")[0]
	ann.open(t, "/")
	ann.inLobby(t)
	for _, c := range []struct{ what, inject, want string }{
		{"CSP violation", `const s = document.createElement('script'); s.textContent = 'window.x = 1'; document.body.append(s)`, "Content Security Policy"},
		{"uncaught exception", `setTimeout(() => { throw new Error('boom') })`, "boom"},
		{"dialog", `setTimeout(() => alert('hi'))`, "dialog"},
	} {
		eval[chromedp.Void](t, ann, c.inject)
		ann.waitFor(t, "let the page act", `true`)
		deadline := time.Now().Add(stepTimeout)
		for {
			ann.mu.Lock()
			got := strings.Join(ann.problems, "\n")
			ann.mu.Unlock()
			if strings.Contains(got, c.want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a %s in the page was not recorded; recorded: %q", c.what, got)
			}
			time.Sleep(20 * time.Millisecond)
		}
		ann.mu.Lock()
		ann.problems = nil
		ann.mu.Unlock()
	}
}
