package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/accessibility"
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
