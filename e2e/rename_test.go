package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// newTab opens another tab in the person's browser: the same person (same session), a
// second page, whose console is watched too.
func (p *person) newTab(t *testing.T, name string) *person {
	t.Helper()
	tab := &person{name: name, srv: p.srv, lang: p.lang}
	ctx, cancel := chromedp.NewContext(p.ctx, chromedp.WithListener(tab.onEvent))
	tab.ctx = ctx
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("%s: open a tab: %v", name, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			tab.report(t)
		}
		cancel()
	})
	return tab
}

// retype replaces what the text box labelled label holds with text.
func (p *person) retype(t *testing.T, label, text string) {
	t.Helper()
	eval[chromedp.Void](t, p, js(`labelled(`+jsString(label)+`).value = ""`))
	p.do(t, "type "+text+" into "+label, fill(label, text))
}

// rename fills /me (the person's tab is on it) with a nickname and a colour, and saves.
func (p *person) rename(t *testing.T, nickname, colourKey string) {
	t.Helper()
	p.do(t, `see the box "Nickname"`, visible("textbox", p.word("Nickname")))
	p.retype(t, p.word("Nickname"), nickname)
	p.do(t, `see the group "Colour"`, visible("group", p.word("Colour")))
	colour := p.lang.T("people.colour." + colourKey)
	p.do(t, "choose "+colour, click("radio", colour))
	p.do(t, `press "Save"`, click("button", p.word("Save")))
}

// authorOf is who the person's log says sent the message with this text.
func authorOf(t *testing.T, p *person, text string) string {
	t.Helper()
	return eval[string](t, p, js(`(() => {
		const m = messages().find(m => m.querySelector('.msg-text') && m.querySelector('.msg-text').textContent === `+jsString(text)+`);
		return m ? m.querySelector('.msg-author').textContent.trim() : '(no such message)';
	})()`))
}

// TestRenameLiveAndInHistory: Ann renames herself on /me in one tab; in the room, open in
// another tab of hers and in Bob's (Korean) browser, the members panel, her header and a
// notice show it at once, each notice in its reader's language. Messages keep the name they
// were sent under, also after a reload. Bob cannot take her new name, in any case.
func TestRenameLiveAndInHistory(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	people := newVisitors(t, srv, visitor{name: "ann"}, visitor{name: "bob", acceptLang: korean})
	ann, bob := people[0], people[1]
	const title = "Name day"
	const newName = "Annie Rose"
	const before, after = "Sent before the rename", "Sent after the rename"

	ann.open(t, "/")
	ann.inLobby(t)
	ann.createRoom(t, title, "")
	bob.open(t, "/")
	bob.inLobby(t)
	bob.do(t, `press "`+bob.word("Join")+`"`, chromedp.Click(joinButton(title)))
	bob.inRoom(t, title)
	oldName, bobName := ann.nickname(t), bob.nickname(t)
	ann.seesMembers(t, oldName, bobName)
	bob.seesMembers(t, oldName, bobName)
	ann.say(t, before, false)
	bob.seesInLog(t, before)

	colourKey := "c5"
	if eval[bool](t, ann, `document.getElementById('whoami-name').classList.contains('c5')`) {
		colourKey = "c9"
	}
	annMe := ann.newTab(t, "ann's second tab")
	annMe.open(t, "/")
	annMe.do(t, `follow "Change name"`, click("link", "Change name"))
	ann.markPage(t)
	bob.markPage(t)
	annMe.rename(t, newName, colourKey)
	annMe.inLobby(t) // the form goes back to the page it was opened from
	if got := annMe.nickname(t); got != newName {
		t.Errorf("after saving, ann's header says %q, want %q", got, newName)
	}

	// Live in the room: Bob's members panel and notice (in Korean), Ann's header and notice.
	bob.do(t, "see the whisper button under ann's new name", visible("button", bob.lang.T("members.whisper_to", "Name", newName)))
	bob.waitFor(t, "see ann's old name gone from the members", js(`!`+membersList+`.innerText.includes(`+jsString(oldName)+`)`))
	bob.waitFor(t, "see ann's new colour", js(`[...`+membersList+`.querySelectorAll('.member-name')].some(b => b.textContent.trim() === `+jsString(newName)+` && b.classList.contains(`+jsString(colourKey)+`))`))
	bob.seesInLog(t, bob.lang.T("notice.renamed", "Name", oldName, "New", newName))
	ann.seesInLog(t, oldName+" is now "+newName)
	ann.waitFor(t, "see my header say my new name", `document.getElementById('whoami-name').textContent.trim() === `+jsString(newName))
	ann.noReload(t)
	bob.noReload(t)

	ann.say(t, after, true)
	bob.seesInLog(t, after)
	for _, p := range []*person{ann, bob} {
		p.do(t, "reload the room", chromedp.Reload())
		p.inRoom(t, title)
		p.seesInLog(t, after)
		if got := authorOf(t, p, before); got != oldName {
			t.Errorf("after a reload %s sees %q sent by %q, want the name it was sent under, %q", p.name, before, got, oldName)
		}
		if got := authorOf(t, p, after); got != newName {
			t.Errorf("after a reload %s sees %q sent by %q, want %q", p.name, after, got, newName)
		}
	}
	ann.screenshot(t, "room-renamed")

	// Bob, in Korean, tries Ann's new name in capitals from another tab, while his first is
	// still in the room with her: refused, with the room named, and nothing changes.
	bobMe := bob.newTab(t, "bob's second tab")
	bobMe.allow(`status of 409`)
	bobMe.open(t, "/")
	bobMe.do(t, `follow "`+bob.word("Change name")+`"`, click("link", bob.word("Change name")))
	bobMe.rename(t, strings.ToUpper(newName), "c0")
	reason := bob.lang.T("people.error.taken", "Name", strings.ToUpper(newName),
		"Rooms", bob.lang.T("people.room", "Title", title), "Count", 1)
	bobMe.waitFor(t, "see why the name is refused", js(`document.body.innerText.includes(`+jsString(reason)+`)`))
	bobMe.do(t, `see the box "Nickname" still there`, visible("textbox", bob.word("Nickname")))
	bobMe.speaksOnly(t, "the refused form", bobName, strings.ToUpper(newName), title)
	bobMe.screenshot(t, "me-taken-ko")
	if got := bobMe.nickname(t); got != bobName {
		t.Errorf("after the refusal bob's header says %q, want his name unchanged, %q", got, bobName)
	}
	bobMe.open(t, "/")
	if got := bobMe.nickname(t); got != bobName {
		t.Errorf("after the refusal bob's header on the next page says %q, want %q", got, bobName)
	}
	ann.seesMembers(t, newName, bobName)
	// Only the rename's own notice: "… is now the owner" may come too, if a slow reload kept
	// Ann away past the leave debounce.
	if eval[bool](t, ann, js(`logText().includes(`+jsString(bobName+" is now "+strings.ToUpper(newName))+`)`)) {
		t.Error("a refused rename left a notice in the room")
	}
	for _, p := range []*person{ann, annMe, bob, bobMe} {
		p.checkConsole(t)
	}
}
