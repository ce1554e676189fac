package e2e

import (
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// What a person looks at, found by the names in DESIGN.md's user-visible contract, in the
// page's language (word; see contractWords).
const (
	roomsList   = `document.querySelector('[aria-label="' + word('Rooms') + '"]')`
	messagesLog = `document.querySelector('[role="log"][aria-label="' + word('Messages') + '"]')`
	membersList = `document.querySelector('[aria-label="' + word('Members') + '"]')`
)

// jsHelpers are small functions every predicate may use; they look things up the way a
// person reads the page (labels, headings, visible text).
var jsHelpers = `
const word = (en) => { const w = ` + wordsJS + `; return (w[document.documentElement.lang] || w.en)[en]; };
const labelled = (text) => {
  const l = [...document.querySelectorAll('label')].find(l => l.textContent.trim() === text);
  return l ? l.control : null;
};
const roomCard = (title) => {
  const list = ` + roomsList + `;
  if (!list) return null;
  return [...list.querySelectorAll('li')].find(li => {
    const h = li.querySelector('h1,h2,h3,h4,h5,h6');
    return h && h.textContent.trim() === title;
  }) || null;
};
const logText = () => { const l = ` + messagesLog + `; return l ? l.innerText : ''; };
const statusText = () => [...document.querySelectorAll('[role="status"]')].map(e => e.innerText).join(' ');
const messages = () => { const l = ` + messagesLog + `; return l ? [...l.querySelectorAll('[data-seq]')] : []; };
`

// js wraps an expression with the helpers in scope.
func js(expr string) string { return "(() => {" + jsHelpers + "return (" + expr + ");})()" }

// joinButton is the card's "Join" link or button for the room with this title.
func joinButton(title string) chromedp.JSPath {
	return chromedp.JSPath(js(`(() => { const c = roomCard(` + jsString(title) + `); return c ? [...c.querySelectorAll('a,button')].find(e => e.textContent.trim() === word('Join')) || null : null; })()`))
}

// fileInput is the file input labelled text.
func fileInput(label string) chromedp.JSPath {
	return chromedp.JSPath(js(`labelled(` + jsString(label) + `)`))
}

// nickname is the name the site shows the person in its header ("You are NAME", in Korean
// "내 이름: NAME"): the text of #whoami-name, which is all of the name and nothing else of
// the header (not "Change name", not the language switch).
func (p *person) nickname(t *testing.T) string {
	t.Helper()
	const whoami = `document.querySelector('header #whoami-name')`
	p.waitFor(t, "see who I am in the header", whoami+` !== null && `+whoami+`.textContent.trim() !== ''`)
	return eval[string](t, p, whoami+`.textContent.trim()`)
}

// inLobby waits until the lobby is shown: heading "GIF chat" and the room list.
func (p *person) inLobby(t *testing.T) {
	t.Helper()
	p.do(t, "see the lobby", visible("heading", p.word("GIF chat")))
	p.waitFor(t, `see the list "Rooms"`, js(roomsList+` !== null`))
}

// markPage tags the current document, so noReload can tell a live update from a reload.
func (p *person) markPage(t *testing.T) {
	t.Helper()
	eval[chromedp.Void](t, p, `window.e2eMark = true`)
}

// noReload fails the test if the page was reloaded or left since markPage.
func (p *person) noReload(t *testing.T) {
	t.Helper()
	if !eval[bool](t, p, `window.e2eMark === true`) {
		t.Errorf("%s's page was reloaded or replaced; the change should have arrived live", p.name)
	}
}

// inRoom waits until the room with this title is shown: its heading, log and composer.
func (p *person) inRoom(t *testing.T, title string) {
	t.Helper()
	p.do(t, "see the room "+title, visible("heading", title))
	p.waitFor(t, `see the log "Messages"`, js(messagesLog+` !== null`))
	p.do(t, `see the box "Message"`, visible("textbox", p.word("Message")))
}

// createRoom fills the lobby's form and lands in the new room.
func (p *person) createRoom(t *testing.T, title, password string) {
	t.Helper()
	p.do(t, "fill the create form", fill(p.word("Title"), title))
	if password != "" {
		p.do(t, "fill the room password", fill(p.word("Password (optional)"), password))
	}
	p.do(t, `press "Create room"`, click("button", p.word("Create room")))
	p.inRoom(t, title)
}

// say types a message and sends it with the button or with Enter, then waits for the
// box to be emptied and the message to show in the sender's own log.
func (p *person) say(t *testing.T, text string, withEnter bool) {
	t.Helper()
	if withEnter {
		p.do(t, "type and press Enter", fill(p.word("Message"), text+"\n"))
	} else {
		p.do(t, "type a message", fill(p.word("Message"), text))
		p.do(t, `press "Send"`, click("button", p.word("Send")))
	}
	p.waitFor(t, "see my message "+text+" in my log", js(`messages().some(m => m.innerText.includes(`+jsString(text)+`))`))
	p.waitFor(t, `see the box "Message" emptied`, js(`labelled(word("Message")) && labelled(word("Message")).value === ""`))
}

// seesInLog waits until the log shows text.
func (p *person) seesInLog(t *testing.T, text string) {
	t.Helper()
	p.waitFor(t, fmt.Sprintf("see %q in the log", text), js(`logText().includes(`+jsString(text)+`)`))
}

// seesMembers waits until the members list names everyone given.
func (p *person) seesMembers(t *testing.T, names ...string) {
	t.Helper()
	conds := make([]string, len(names))
	for i, n := range names {
		conds[i] = `l.innerText.includes(` + jsString(n) + `)`
	}
	p.waitFor(t, fmt.Sprintf("see %s in the members list", strings.Join(names, ", ")),
		js(`(() => { const l = `+membersList+`; return l !== null && `+strings.Join(conds, " && ")+`; })()`))
}

// writeAnimatedGIF writes a w×h GIF of several frames (a square moving across) and
// returns its path.
func writeAnimatedGIF(t *testing.T, w, h, frames int) string {
	t.Helper()
	pal := color.Palette{
		color.RGBA{0xff, 0xf1, 0xb8, 0xff},
		color.RGBA{0xe0, 0x3c, 0x31, 0xff},
		color.RGBA{0x1f, 0x6f, 0xeb, 0xff},
		color.RGBA{0x2d, 0xa4, 0x4e, 0xff},
	}
	anim := &gif.GIF{LoopCount: 0}
	side := h / 2
	for f := range frames {
		img := image.NewPaletted(image.Rect(0, 0, w, h), pal)
		x0 := f * (w - side) / max(frames-1, 1)
		for y := h / 4; y < h/4+side; y++ {
			for x := x0; x < x0+side; x++ {
				img.SetColorIndex(x, y, uint8(1+f%3))
			}
		}
		anim.Image = append(anim.Image, img)
		anim.Delay = append(anim.Delay, 20)
	}
	path := filepath.Join(t.TempDir(), "dance.gif")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := gif.EncodeAll(f, anim); err != nil {
		t.Fatalf("encode gif: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
