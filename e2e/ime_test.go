package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// What an input method does to the focused field, through the DevTools protocol: compose
// shows a syllable still being put together (compositionstart/update), commit ends the
// composition with the finished text (compositionend), and plain text is typed as committed.

func compose(text string) chromedp.Action[chromedp.Void] {
	n := int64(len([]rune(text)))
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, input.ImeSetComposition, input.ImeSetCompositionParams{Text: text, SelectionStart: n, SelectionEnd: n})
		return err
	})
}

func commit(text string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, input.InsertText, input.InsertTextParams{Text: text})
		return err
	})
}

// enterKey presses and releases Enter with this key code: 13 is a plain Enter; 229 is what
// browsers give a key the input method handled.
func enterKey(keyCode int64) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: "Enter", Code: "Enter",
			WindowsVirtualKeyCode: keyCode, NativeVirtualKeyCode: keyCode, Text: "\r", UnmodifiedText: "\r"}
		if _, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, down); err != nil {
			return err
		}
		up := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyUp, Key: "Enter", Code: "Enter",
			WindowsVirtualKeyCode: keyCode, NativeVirtualKeyCode: keyCode}
		_, err := cdp.Call(ctx, tg, input.DispatchKeyEvent, up)
		return err
	})
}

// TestHangulIMEEnter: the Enter that ends a Hangul composition only commits the syllable; it
// sends nothing, and the field then holds the whole text, once. The next Enter sends it all,
// once. Checked the two ways browsers deliver that Enter, and for a click on Send while a
// syllable is open (which commits it, then sends).
func TestHangulIMEEnter(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	people := newVisitors(t, srv, visitor{name: "ann", acceptLang: korean}, visitor{name: "bob", acceptLang: korean})
	ann, bob := people[0], people[1]
	const title = "한글 입력 시험"
	ann.open(t, "/")
	ann.inLobby(t)
	ann.createRoom(t, title, "")
	bob.open(t, "/")
	bob.inLobby(t)
	bob.do(t, `press "`+bob.word("Join")+`"`, chromedp.Click(joinButton(title)))
	bob.inRoom(t, title)
	ann.seesMembers(t, ann.nickname(t), bob.nickname(t))

	// Everything after this message in the log is what the input method let through.
	const mark = "시작합니다"
	ann.say(t, mark, true)
	bob.seesInLog(t, mark)
	sentAfterMark := js(`(() => {
		const text = m => m.querySelector('.msg-text') ? m.querySelector('.msg-text').textContent : m.innerText.trim();
		const all = messages(), i = all.findIndex(m => text(m) === ` + jsString(mark) + `);
		return i < 0 ? [] : all.slice(i + 1).map(text);
	})()`)
	box := ann.word("Message")
	field := js(`labelled(` + jsString(box) + `).value`)
	var sent []string

	for _, c := range []struct {
		how, typed, composing string
		endComposition        []chromedp.Action[chromedp.Void]
	}{
		// Chrome: the keydown of that Enter comes while the syllable is still open (isComposing).
		{"Enter during the composition", "안녕하세", "요", []chromedp.Action[chromedp.Void]{enterKey(13), commit("요")}},
		// Safari: the composition ends first, then a keydown for Enter with key code 229.
		{"Enter with key code 229 after the composition", "반갑습니", "다", []chromedp.Action[chromedp.Void]{commit("다"), enterKey(229)}},
	} {
		whole := c.typed + c.composing
		ann.do(t, "focus the message box", click("textbox", box))
		ann.do(t, "type "+c.typed+" and start composing "+c.composing, commit(c.typed), compose("ㅇ"), compose(c.composing))
		ann.do(t, c.how, c.endComposition...)
		// A person's next Enter comes a moment later, not within the browser's own burst; by
		// then a wrongly sent half would have emptied the box and be on its way.
		ann.do(t, "pause as a person does", chromedp.Sleep(300*time.Millisecond))
		if got := eval[string](t, ann, field); got != whole {
			t.Fatalf("%s: the box holds %q, want %q; the log since the mark shows %q", c.how, got, whole, eval[[]string](t, ann, sentAfterMark))
		}
		ann.do(t, "press Enter", enterKey(13))
		sent = append(sent, whole)
		for _, p := range []*person{ann, bob} {
			p.seesInLog(t, whole)
			if got := eval[[]string](t, p, sentAfterMark); !slices.Equal(got, sent) {
				t.Fatalf("after %s, %s's log shows %q since the mark, want %q", c.how, p.name, got, sent)
			}
		}
		ann.waitFor(t, "see the box emptied", field+` === ""`)
	}

	// A click on Send while a syllable is still open: the syllable is committed, then sent.
	ann.do(t, "focus the message box", click("textbox", box))
	ann.do(t, "type and keep the last syllable open", commit("고마워"), compose("ㅇ"), compose("요"))
	ann.do(t, `press "`+ann.word("Send")+`"`, click("button", ann.word("Send")))
	sent = append(sent, "고마워요")
	for _, p := range []*person{ann, bob} {
		p.seesInLog(t, "고마워요")
		if got := eval[[]string](t, p, sentAfterMark); !slices.Equal(got, sent) {
			t.Fatalf("after a click on Send, %s's log shows %q since the mark, want %q", p.name, got, sent)
		}
	}
	ann.waitFor(t, "see the box emptied", field+` === ""`)
	ann.checkConsole(t)
	bob.checkConsole(t)
}
