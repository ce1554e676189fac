package e2e

// Living messages, continued: the typing line, while you were away, and changes replayed
// after a network cut (living_test.go has the room, edit, delete and reactions).

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// watchTyping records every text the "… is typing" line shows, with the time, from now on;
// typingSeen returns them.
func (p *person) watchTyping(t *testing.T) {
	t.Helper()
	eval[chromedp.Void](t, p, `(() => {
		const el = document.getElementById('typing');
		window.e2eTyping = [[Date.now(), el.textContent]];
		new MutationObserver(() => window.e2eTyping.push([Date.now(), el.textContent]))
			.observe(el, {childList: true, subtree: true, characterData: true});
		window.e2eInputs = [];
		document.addEventListener('input', e => { if (e.target.id === 'message-input') window.e2eInputs.push(Date.now()); });
	})()`)
}

type typingChange struct {
	at   time.Time
	text string
}

func typingSeen(t *testing.T, p *person) []typingChange {
	t.Helper()
	var out []typingChange
	for _, c := range eval[[][2]any](t, p, `window.e2eTyping`) {
		ms, _ := c[0].(float64)
		text, _ := c[1].(string)
		out = append(out, typingChange{time.UnixMilli(int64(ms)), text})
	}
	return out
}

func inputTimes(t *testing.T, p *person) []time.Time {
	t.Helper()
	var out []time.Time
	for _, ms := range eval[[]float64](t, p, `window.e2eInputs`) {
		out = append(out, time.UnixMilli(int64(ms)))
	}
	return out
}

// TestTypingIndicator: while bob types, ann sees "bob is typing…" under the log; bob never sees
// his own name there; the line goes about 5 s after bob stops, and at once when he sends.
func TestTypingIndicator(t *testing.T) {
	t.Parallel()
	_, ann, bob, _, bobName := livingRoom(t, "Who types")
	line := bobName + " is typing…"
	ann.watchTyping(t)
	bob.watchTyping(t)
	typingIs := func(text string) string {
		return js(`document.getElementById('typing').textContent.trim() === ` + jsString(text))
	}

	bob.do(t, `type in "Message" without sending`, fill("Message", "hmm, let me"))
	ann.waitFor(t, fmt.Sprintf("see %q", line), typingIs(line))
	// Under the log: below it on the screen, not beside it.
	if where := eval[string](t, ann, js(`(() => {
		const log = `+messagesLog+`.getBoundingClientRect(), ty = document.getElementById('typing').getBoundingClientRect();
		const r = b => '(x ' + Math.round(b.left) + '..' + Math.round(b.right) + ', y ' + Math.round(b.top) + '..' + Math.round(b.bottom) + ')';
		return ty.top >= log.bottom - 1 && ty.left < log.right && ty.right > log.left ? '' : 'the log is at ' + r(log) + ', the typing line at ' + r(ty);
	})()`)); where != "" {
		t.Errorf("ann's typing line is not under the log: %s (screenshot %s)", where, ann.screenshot(t, "FAIL-"+sanitize(t.Name())+"-ann-typing-line"))
	} else {
		ann.screenshot(t, "room-typing")
	}

	// Gone about 5 s after bob stopped (the server forgets a typer 5 s after the signal his
	// first keystroke sent; he typed for well under a second).
	ann.waitForWithin(t, 10*time.Second, "see the typing line go after bob stops", typingIs(""))
	inputs := inputTimes(t, bob)
	seen := typingSeen(t, ann)
	if len(inputs) == 0 || len(seen) < 3 {
		t.Fatalf("recorded %d keystrokes of bob and typing lines %v for ann", len(inputs), seen)
	}
	var shown, gone time.Time
	for _, c := range seen {
		if c.text == line && shown.IsZero() {
			shown = c.at
		}
		if c.text == "" && !shown.IsZero() {
			gone = c.at
		}
	}
	first, last := inputs[0], inputs[len(inputs)-1]
	t.Logf("bob typed for %v; ann saw the line %v after his first keystroke and lost it %v after his last",
		last.Sub(first), shown.Sub(first), gone.Sub(last))
	if d := gone.Sub(first); d < 4500*time.Millisecond || d > 7*time.Second {
		t.Errorf("the line went %v after bob's first keystroke (%v after his last), want about 5 s", d, gone.Sub(last))
	}
	for _, c := range seen {
		if c.text != "" && c.text != line {
			t.Errorf("ann's typing line showed %q", c.text)
		}
	}

	// Sending ends it at once: before the message shows, well before the 5 s.
	const msg = "hmm, let me... yes"
	bob.do(t, `type the rest`, fill("Message", "... yes"))
	ann.waitFor(t, fmt.Sprintf("see %q again", line), typingIs(line))
	sentAt := time.Now()
	bob.do(t, "press Enter", fill("Message", "\r"))
	ann.seesInLog(t, msg)
	ann.waitForWithin(t, time.Second, "see the typing line gone when the message arrives", typingIs(""))
	seen = typingSeen(t, ann)
	if end := seen[len(seen)-1]; end.text != "" || end.at.Sub(sentAt) > 2*time.Second {
		t.Errorf("after bob sent, ann's line ended as %q %v after the send, want gone at once", end.text, end.at.Sub(sentAt))
	} else {
		t.Logf("the line went %v after bob pressed Enter", end.at.Sub(sentAt))
	}

	for _, c := range typingSeen(t, bob) {
		if strings.Contains(c.text, bobName) {
			t.Errorf("bob saw his own name in the typing line: %q", c.text)
		}
	}
	ann.checkConsole(t)
	bob.checkConsole(t)
}

// setWindowHidden minimises (or restores) the person's browser window, which hides (or shows)
// their tab: document.visibilityState and visibilitychange follow, and the page keeps
// running and receiving. (Chromium 156 has no Emulation.setPageVisibility, and
// Page.setWebLifecycleState "frozen" stops the page's scripts and, once "active" again,
// leaves it hidden: neither fits a tab in the background.)
func (p *person) setWindowHidden(t *testing.T, hidden bool) {
	t.Helper()
	state := browser.WindowStateNormal
	if hidden {
		state = browser.WindowStateMinimized
	}
	p.do(t, "set the window "+string(state), chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		c := chromedp.FromContext(p.ctx)
		w, err := chromedp.CallBrowser(ctx, browser.GetWindowForTarget, browser.GetWindowForTargetParams{TargetID: c.Target.TargetID})
		if err != nil {
			return err
		}
		_, err = chromedp.CallBrowser(ctx, browser.SetWindowBounds, browser.SetWindowBoundsParams{WindowID: w.WindowID, Bounds: &browser.Bounds{WindowState: state}})
		return err
	}))
	want := "visible"
	if hidden {
		want = "hidden"
	}
	p.waitFor(t, "see the tab "+want, `document.visibilityState === `+jsString(want))
}

// TestUnreadWhileAway: while ann's tab is hidden bob sends two messages; her tab title counts
// them and a "New messages" divider sits before the first; back on the tab, the count goes.
func TestUnreadWhileAway(t *testing.T) {
	t.Parallel()
	_, ann, bob, _, _ := livingRoom(t, "Away team")
	bob.say(t, "before you left", true)
	ann.seesInLog(t, "before you left")
	title := eval[string](t, ann, `document.title`)
	if strings.HasPrefix(title, "(") {
		t.Fatalf("ann's title counts unread messages before she left: %q", title)
	}
	ann.markPage(t)

	ann.setWindowHidden(t, true)
	const one, two = "first while you were away", "second while you were away"
	bob.say(t, one, true)
	bob.say(t, two, false)
	ann.seesInLog(t, two)
	ann.waitFor(t, `see the title start with "(2) "`, `document.title === `+jsString("(2) "+title))
	divider := js(`(() => {
		const ds = document.querySelectorAll('#new-divider');
		if (ds.length !== 1) return 'dividers: ' + ds.length;
		const d = ds[0], next = d.nextElementSibling;
		if (d.getAttribute('role') !== 'separator') return 'role ' + d.getAttribute('role');
		if (d.textContent.trim() !== 'New messages') return 'text ' + d.textContent;
		if (!d.checkVisibility()) return 'not visible';
		if (!next || !next.matches('.msg[data-seq]') || next.querySelector('.msg-text').textContent !== ` + jsString(one) + `) return 'before ' + (next ? next.innerText : 'nothing');
		return 'ok';
	})()`)
	if got := eval[string](t, ann, divider); got != "ok" {
		t.Errorf(`ann's "New messages" divider is not right before the first unread message: %s`, got)
	}

	ann.setWindowHidden(t, false)
	ann.waitFor(t, "see the title's count gone", `document.title === `+jsString(title))
	ann.noReload(t)
	eval[chromedp.Void](t, ann, `document.getElementById('new-divider') && document.getElementById('new-divider').scrollIntoView({block: 'center'})`)
	ann.screenshot(t, "room-new-divider")
	t.Logf(`back on the tab ann's divider is %s`, map[bool]string{true: "still shown", false: "gone"}[eval[bool](t, ann, `document.getElementById('new-divider') !== null`)])
	ann.checkConsole(t)
	bob.checkConsole(t)
}

// TestChangesReplayAfterReconnect: while bob is offline ann edits, deletes and reacts; when
// he is back his log shows each change, and each message once.
func TestChangesReplayAfterReconnect(t *testing.T) {
	t.Parallel()
	srv, ann, bob, annName, bobName := livingRoom(t, "Catch up")
	const toEdit, edited, toDelete, toReact = "meet at the station", "meet at the bridge", "bring cash", "bring snacks"
	for _, s := range []string{toEdit, toDelete, toReact} {
		ann.say(t, s, true)
	}
	editSeq, deleteSeq, reactSeq := ann.seqOf(t, toEdit), ann.seqOf(t, toDelete), ann.seqOf(t, toReact)
	bob.seqOf(t, toReact)

	bob.markPage(t)
	session := bob.session(t)
	bob.netCut.Store(true)
	bob.setOffline(t, true)
	t.Logf("closed %d of bob's connections", srv.conns.cut(session))
	bob.waitFor(t, "see a reconnecting notice", js(`/reconnecting/i.test(statusText())`))
	ann.seesInLog(t, bobName+" left")

	ann.do(t, `press "Edit message"`, clickIn(entry(editSeq), "button", "Edit message"))
	ann.do(t, "type the new text", fillIn(entry(editSeq), "Edited message", edited))
	ann.do(t, `press "Save"`, clickIn(entry(editSeq), "button", "Save"))
	ann.waitFor(t, "see her edit", js(entry(editSeq)+`.innerText.includes(`+jsString(edited)+`)`))
	ann.do(t, `press "Delete message"`, clickIn(entry(deleteSeq), "button", "Delete message"))
	ann.waitFor(t, "see her message deleted", js(entry(deleteSeq)+`.innerText.includes('message deleted')`))
	ann.do(t, `press "Add reaction"`, clickIn(entry(reactSeq), "button", "Add reaction"))
	ann.do(t, `press "React with 🎉"`, clickIn(`document.getElementById('reaction-picker')`, "button", "React with 🎉"))
	ann.waitFor(t, "see her 🎉", js(reactionJS(reactSeq, "🎉")+` !== null`))
	if eval[bool](t, bob, js(`logText().includes(`+jsString(edited)+`) || logText().includes('message deleted') || (`+reactionJS(reactSeq, "🎉")+`) !== null`)) {
		t.Fatal("bob's log changed while bob was offline: the cut did not cut")
	}

	bob.setOffline(t, false)
	// htmx retries with a doubling backoff; the attempt after the network returns may come
	// ~10 s later.
	bob.waitForWithin(t, 25*time.Second, "see the edit, the deletion and the reaction after reconnecting", js(`(() => {
		const e = `+entry(editSeq)+`, d = `+entry(deleteSeq)+`, r = `+reactionJS(reactSeq, "🎉")+`;
		return e && e.querySelector('.msg-text').textContent === `+jsString(edited)+` && e.innerText.includes('(edited)')
			&& d && d.innerText.includes('message deleted') && !d.innerText.includes(`+jsString(toDelete)+`)
			&& r !== null && r.querySelector('.reaction-count').textContent.trim() === '1';
	})()`))
	bob.waitFor(t, "see the reconnecting notice gone", js(`!/reconnecting/i.test(statusText())`))
	bob.noReload(t)
	if r := bob.reaction(t, reactSeq, "🎉"); r == nil || r.Pressed != "false" || !strings.Contains(r.Title, annName) {
		t.Errorf("bob's 🎉 reaction is %+v, want not pressed and naming %s", r, annName)
	}
	for _, p := range []*person{ann, bob} {
		if dups := eval[[]string](t, p, js(`messages().map(m => m.dataset.seq).filter((id, i, all) => all.indexOf(id) !== i)`)); len(dups) > 0 {
			t.Errorf("%s's log shows message ids more than once: %v", p.name, dups)
		}
		for _, s := range []string{edited, toReact} {
			if n := eval[int](t, p, js(`messages().filter(m => m.innerText.includes(`+jsString(s)+`)).length`)); n != 1 {
				t.Errorf("%s's log shows %q %d times, want once", p.name, s, n)
			}
		}
		for _, s := range []string{toEdit, toDelete} {
			if eval[bool](t, p, js(`logText().includes(`+jsString(s)+`)`)) {
				t.Errorf("%s's log still shows %q", p.name, s)
			}
		}
	}
	bob.checkConsole(t)
	bob.netCut.Store(false)
	ann.say(t, "welcome back", true)
	bob.seesInLog(t, "welcome back")
	bob.screenshot(t, "room-changes-replayed")
	ann.checkConsole(t)
	bob.checkConsole(t)
}
