package e2e

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestWhisperAndKick: the owner clicks a member to whisper, and only that member sees it;
// only the owner sees the kick buttons; a kicked member is told why and loses the composer.
func TestWhisperAndKick(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	people := newPeople(t, srv, "ann", "bob", "cat")
	ann, bob, cat := people[0], people[1], people[2]
	const title = "Back room"

	ann.open(t, "/")
	ann.inLobby(t)
	ann.createRoom(t, title, "")
	for _, p := range []*person{bob, cat} {
		p.open(t, "/")
		p.inLobby(t)
		p.do(t, `press "Join"`, chromedp.Click(joinButton(title)))
		p.inRoom(t, title)
	}
	annName, bobName, catName := ann.nickname(t), bob.nickname(t), cat.nickname(t)
	ann.seesMembers(t, annName, bobName, catName)
	cat.seesMembers(t, annName, bobName, catName)

	// Only the owner sees kick buttons.
	ann.do(t, `see "Kick `+bobName+`"`, visible("button", "Kick "+bobName))
	if eval[bool](t, bob, js(`[...`+membersList+`.querySelectorAll('button')].some(b => /^Kick/.test(b.getAttribute('aria-label') || '') && b.offsetParent !== null)`)) {
		t.Fatal("a member who is not the owner sees kick buttons")
	}

	// Whisper: click bob's name, the composer says so, send.
	ann.do(t, "click bob's name", click("button", "Whisper to "+bobName))
	ann.waitFor(t, `see "Whispering to"`, js(`document.querySelector('#message-form') && document.querySelector('#message-form').innerText.includes('Whispering to')`))
	ann.say(t, "psst, only for bob", false)
	bob.seesInLog(t, "psst, only for bob")
	bob.seesInLog(t, "whispers to")
	ann.do(t, `press "Cancel whisper"`, click("button", "Cancel whisper"))
	ann.waitFor(t, "see the composer back to normal", js(`!document.querySelector('#message-form').innerText.includes('Whispering to')`))
	ann.say(t, "hello everyone", false)
	cat.seesInLog(t, "hello everyone")
	if eval[bool](t, cat, js(`logText().includes('psst')`)) {
		t.Fatal("a whisper reached a third person")
	}
	ann.screenshot(t, "room-whisper")

	// Kick: cat is told, loses the composer; the others see the notice and the list shrink.
	ann.do(t, `press "Kick `+catName+`"`, click("button", "Kick "+catName))
	cat.waitFor(t, `see "removed by the owner"`, js(`document.body.innerText.includes('removed by the owner')`))
	cat.waitFor(t, "lose the message box", js(`labelled("Message") === null`))
	bob.seesInLog(t, catName+" was removed by the owner")
	bob.waitFor(t, "see cat leave the members list", js(`!`+membersList+`.innerText.includes(`+jsString(catName)+`)`))
	cat.screenshot(t, "room-kicked")
	ann.checkConsole(t)
	bob.checkConsole(t)
}
