package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Messages that live (issue 17): edit, delete, react, "… is typing", and the count of what
// came while the tab was hidden. Each is shown live in a second browser, and the changes
// also after a reconnect.

// livingRoom opens a room with ann (its owner) and bob in it, and returns their names.
func livingRoom(t *testing.T, title string) (srv *testServer, ann, bob *person, annName, bobName string) {
	t.Helper()
	srv = startServer(t)
	people := newPeople(t, srv, "ann", "bob")
	ann, bob = people[0], people[1]
	ann.open(t, "/")
	ann.inLobby(t)
	ann.createRoom(t, title, "")
	bob.open(t, "/")
	bob.inLobby(t)
	bob.do(t, `press "Join"`, chromedp.Click(joinButton(title)))
	bob.inRoom(t, title)
	annName, bobName = ann.nickname(t), bob.nickname(t)
	ann.seesMembers(t, annName, bobName)
	bob.seesMembers(t, annName, bobName)
	return srv, ann, bob, annName, bobName
}

// entry is the JS expression for the log entry at seq (null if the log has none).
func entry(seq string) string {
	return messagesLog + `.querySelector('.msg[data-seq="` + seq + `"]')`
}

// seqOf waits until the person's log shows a message with this text and returns its place.
func (p *person) seqOf(t *testing.T, text string) string {
	t.Helper()
	find := `messages().find(m => m.querySelector('.msg-text') && m.querySelector('.msg-text').textContent === ` + jsString(text) + `)`
	p.waitFor(t, fmt.Sprintf("see %q in the log", text), js(find+` !== undefined`))
	return eval[string](t, p, js(find+`.dataset.seq`))
}

// byRoleIn is byRole within the element scope (a JS expression) evaluates to: the controls of
// one message rather than the first of their name in the page.
func byRoleIn(scope, role, name string) chromedp.QueryOption {
	return chromedp.ByFunc(func(ctx context.Context, t *chromedp.Target, _ *chromedp.Node) ([]cdp.NodeID, error) {
		ev, err := cdp.Call(ctx, t, runtime.Evaluate, runtime.EvaluateParams{Expression: js(scope), ObjectGroup: "e2e-scope"})
		if err != nil {
			return nil, err
		}
		defer cdp.Call(ctx, t, runtime.ReleaseObjectGroup, runtime.ReleaseObjectGroupParams{ObjectGroup: "e2e-scope"})
		if ev.ExceptionDetails != nil || ev.Result == nil || ev.Result.ObjectID == "" {
			return []cdp.NodeID{}, nil // not there (yet)
		}
		res, err := cdp.Call(ctx, t, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{ObjectID: ev.Result.ObjectID, Role: role})
		if err != nil {
			return nil, fmt.Errorf("query accessibility tree: %w", err)
		}
		var backend []cdp.BackendNodeID
		for _, ax := range res.Nodes {
			if ax.Ignored || ax.BackendDOMNodeID == 0 || ax.Name == nil {
				continue
			}
			var got string
			if json.Unmarshal(ax.Name.Value, &got) == nil && strings.EqualFold(strings.TrimSpace(got), name) {
				backend = append(backend, ax.BackendDOMNodeID)
			}
		}
		if len(backend) == 0 {
			return []cdp.NodeID{}, nil
		}
		pushed, err := cdp.Call(ctx, t, dom.PushNodesByBackendIDsToFrontend, dom.PushNodesByBackendIDsToFrontendParams{BackendNodeIDs: backend})
		if err != nil {
			return nil, fmt.Errorf("resolve accessibility nodes: %w", err)
		}
		return pushed.NodeIDs, nil
	})
}

// clickIn presses the control with this role and name inside scope.
func clickIn(scope, role, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(roleSel(role, name)+" in "+chromedp.Search(scope), byRoleIn(scope, role, name), chromedp.NodeVisible)
}

// fillIn types text into the text box with this accessible name inside scope.
func fillIn(scope, label, text string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(roleSel("textbox", label)+" in "+chromedp.Search(scope), text, byRoleIn(scope, "textbox", label))
}

// controlShown reports whether the message at seq has a button named name that the person can
// see: "in the DOM" is not enough, as me.css shows a person only their own controls.
func controlShown(t *testing.T, p *person, seq, name string) bool {
	t.Helper()
	return eval[bool](t, p, js(`(() => {
		const b = [...`+entry(seq)+`.querySelectorAll('button')].find(b => b.getAttribute('aria-label') === `+jsString(name)+`);
		if (!b) throw new Error('no button ' + `+jsString(name)+` + ' in the DOM of entry `+seq+`');
		return b.checkVisibility() && b.getClientRects().length > 0;
	})()`))
}

// reactionJS is the JS expression for the emoji's reaction under the entry at seq (not the
// picker's button of the same name), or null.
func reactionJS(seq, emoji string) string {
	return `[...` + entry(seq) + `.querySelectorAll('.reactions button')].find(b => !b.closest('#reaction-picker') && b.getAttribute('aria-label') === ` + jsString("React with "+emoji) + `) || null`
}

type reactionState struct {
	Count   string `json:"count"`
	Pressed string `json:"pressed"`
	Title   string `json:"title"`
}

func (p *person) reaction(t *testing.T, seq, emoji string) *reactionState {
	t.Helper()
	return eval[*reactionState](t, p, js(`(() => {
		const b = `+reactionJS(seq, emoji)+`;
		if (!b) return null;
		const c = b.querySelector('.reaction-count');
		return {count: c ? c.textContent.trim() : '', pressed: b.getAttribute('aria-pressed') || '', title: b.title};
	})()`))
}

// TestEditOwnMessage: ann edits her message in place; bob sees the new text marked "(edited)"
// without reloading, and never has an edit control on ann's message.
func TestEditOwnMessage(t *testing.T) {
	t.Parallel()
	_, ann, bob, _, _ := livingRoom(t, "Second thoughts")
	const before, after = "See you at 7", "See you at 8 instead"

	ann.say(t, before, true)
	seq := ann.seqOf(t, before)
	if bob.seqOf(t, before) != seq {
		t.Fatalf("bob's log shows %q at another place than ann's", before)
	}
	bob.markPage(t)

	// Who sees which control (me.css): ann her own edit and delete; bob, not the owner,
	// neither on ann's message, though both are in his DOM.
	if !controlShown(t, ann, seq, "Edit message") || !controlShown(t, ann, seq, "Delete message") {
		t.Error(`ann does not see "Edit message" and "Delete message" on her own message`)
	}
	if controlShown(t, bob, seq, "Edit message") {
		t.Error(`bob sees an "Edit message" button on ann's message`)
	}
	if controlShown(t, bob, seq, "Delete message") {
		t.Error(`bob (not the owner) sees a "Delete message" button on ann's message`)
	}

	ann.do(t, `press "Edit message" on her message`, clickIn(entry(seq), "button", "Edit message"))
	ann.waitFor(t, "see the text become a box holding it, focused and selected", js(`(() => {
		const i = document.activeElement;
		return i && i.closest('.msg[data-seq="`+seq+`"]') !== null && i.value === `+jsString(before)+`
			&& i.selectionStart === 0 && i.selectionEnd === i.value.length;
	})()`))
	// The whole text is selected, so typing replaces it, as in any text box.
	ann.do(t, "type the new text", fillIn(entry(seq), "Edited message", after))
	if got := eval[string](t, ann, js(`document.activeElement.value`)); got != after {
		t.Fatalf("the edit box holds %q after typing, want %q", got, after)
	}
	ann.do(t, "press Enter", fillIn(entry(seq), "Edited message", "\r"))

	for _, p := range []*person{bob, ann} {
		p.waitFor(t, "see the new text marked (edited) in place", js(`(() => {
			const m = `+entry(seq)+`;
			return m !== null && m.querySelector('.msg-text').textContent === `+jsString(after)+`
				&& m.querySelector('.msg-text').checkVisibility()
				&& m.innerText.includes('(edited)') && m.querySelector('input') === null;
		})()`))
		if n := eval[int](t, p, js(`messages().filter(m => m.innerText.includes(`+jsString(before)+`)).length`)); n != 0 {
			t.Errorf("%s's log still shows the old text %d times", p.name, n)
		}
		if n := eval[int](t, p, js(`messages().filter(m => m.dataset.seq === "`+seq+`").length`)); n != 1 {
			t.Errorf("%s's log shows the edited message %d times, want once", p.name, n)
		}
	}
	bob.noReload(t)
	if controlShown(t, bob, seq, "Edit message") {
		t.Error(`after the edit bob sees an "Edit message" button on ann's message`)
	}
	if !controlShown(t, ann, seq, "Edit message") {
		t.Error(`after the edit ann no longer sees "Edit message" on her message`)
	}
	bob.screenshot(t, "room-edited")
	ann.checkConsole(t)
	bob.checkConsole(t)
}

// TestDeleteOwnMessage: ann deletes her message; both logs show "message deleted" in its place.
func TestDeleteOwnMessage(t *testing.T) {
	t.Parallel()
	_, ann, bob, _, _ := livingRoom(t, "Oops room")
	const first, oops, last = "first words", "a message sent by mistake", "last words"
	ann.say(t, first, true)
	ann.say(t, oops, true)
	ann.say(t, last, true)
	seq := ann.seqOf(t, oops)
	bob.seqOf(t, last)
	bob.markPage(t)

	ann.do(t, `press "Delete message" on her message`, clickIn(entry(seq), "button", "Delete message"))
	for _, p := range []*person{bob, ann} {
		p.waitFor(t, `see "message deleted" in the message's place`, js(`(() => {
			const m = `+entry(seq)+`;
			return m !== null && m.innerText.includes('message deleted') && !m.innerText.includes(`+jsString(oops)+`);
		})()`))
		if logText := eval[string](t, p, js(`logText()`)); strings.Contains(logText, oops) {
			t.Errorf("%s's log still shows the deleted text", p.name)
		}
		// In its place: between the messages before and after it, once.
		order := eval[[]string](t, p, js(`messages().filter(m => m.dataset.kind === 'text').map(m => m.querySelector('.msg-text').textContent)`))
		if want := []string{first, "message deleted", last}; strings.Join(order, "|") != strings.Join(want, "|") {
			t.Errorf("%s's text messages read %q, want %q", p.name, order, want)
		}
	}
	bob.noReload(t)
	bob.screenshot(t, "room-deleted")
	ann.checkConsole(t)
	bob.checkConsole(t)
}

// TestReactions: bob reacts 👍 to ann's message through the picker; both see it counted,
// pressed for bob only, named for ann; bob pressing it again takes it back.
func TestReactions(t *testing.T) {
	t.Parallel()
	_, ann, bob, _, bobName := livingRoom(t, "Thumbs")
	const text = "Who is in for pizza?"
	ann.say(t, text, true)
	seq := ann.seqOf(t, text)
	bob.seqOf(t, text)
	bob.markPage(t)

	bob.do(t, `press "Add reaction" on ann's message`, clickIn(entry(seq), "button", "Add reaction"))
	picker := `[...document.querySelectorAll('[role="group"]')].find(g => g.getAttribute('aria-label') === 'Pick a reaction' && g.checkVisibility()) || null`
	bob.waitFor(t, `see the picker "Pick a reaction"`, js(picker+` !== null`))
	bob.screenshot(t, "room-reaction-picker")
	bob.do(t, `press "React with 👍" in the picker`, clickIn(picker, "button", "React with 👍"))

	shows := func(p *person, pressed string) {
		t.Helper()
		p.waitFor(t, "see a 👍 reaction counted 1, aria-pressed="+pressed, js(`(() => {
			const b = `+reactionJS(seq, "👍")+`;
			return b !== null && b.checkVisibility() && b.querySelector('.reaction-count').textContent.trim() === '1'
				&& b.getAttribute('aria-pressed') === `+jsString(pressed)+`;
		})()`))
	}
	shows(bob, "true")
	shows(ann, "false")
	if r := ann.reaction(t, seq, "👍"); r == nil || !strings.Contains(r.Title, bobName) {
		t.Errorf("ann's 👍 reaction has title %+v, want it to name %s", r, bobName)
	}
	if eval[bool](t, bob, js(picker+` !== null`)) {
		t.Error("the picker stays open after picking")
	}
	for _, p := range []*person{ann, bob} {
		if n := eval[int](t, p, js(`[...`+entry(seq)+`.querySelectorAll('.reactions button')].filter(b => !b.closest('#reaction-picker') && b.classList.contains('reaction')).length`)); n != 1 {
			t.Errorf("%s sees %d reactions under the message, want 1", p.name, n)
		}
	}
	bob.screenshot(t, "room-reacted")

	bob.do(t, `press the 👍 reaction again`, clickIn(entry(seq)+`.querySelector('.reactions')`, "button", "React with 👍"))
	for _, p := range []*person{bob, ann} {
		p.waitFor(t, "see the 👍 reaction gone", js(reactionJS(seq, "👍")+` === null`))
	}
	bob.noReload(t)
	ann.checkConsole(t)
	bob.checkConsole(t)
}

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
