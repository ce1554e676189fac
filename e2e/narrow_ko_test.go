package e2e

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chromedp/chromedp"

	"gifchat/handlers"
	"gifchat/i18n"
)

// Long Korean, as a class writes it: a nickname as long as one may be, room titles past 40
// characters with and without spaces, and a message with a run of text typed without spaces
// and a long laugh. word-break: keep-all keeps a Korean word whole, so a run with no space is
// one word as wide as it is long: the layout must still wrap it inside 360 px.
const (
	narrowName        = "수줍은바다코끼리와복슬복슬한왜가리의단짝친구에요"
	narrowTitle       = "기말고사대비밤샘코딩스터디와움짤나눔을함께하는삼학년이반과사반친구들의아주긴방이름"
	narrowSpacedTitle = "하루 종일 아무것도 하지 않는 고양이를 지켜보며 서로 위로하는 집사들의 작고 소중한 모임 삼학년 이반 지부"
)

var narrowMessage = "안녕하세요! 오늘 기말고사 대비 밤샘 스터디는 몇 시에 시작하나요? " +
	"띄어쓰기없이길게이어쓴문장도화면밖으로삐져나가지않고잘줄바꿈되어야합니다정말로요 " +
	strings.Repeat("ㅋ", 60)

// narrowPhone is the 360 × 740 phone the layout is checked on.
var narrowPhone = chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile)

// narrowLayout is what a page at 360 px shows of itself: how wide it scrolls, and where the
// header's name and language switch are, each as "ok" or why not.
type narrowLayout struct {
	ScrollWidth int    `json:"scrollWidth"`
	Name        string `json:"name"`
	Switch      string `json:"switch"`
}

// narrowLayoutJS measures narrowLayout. A header control counts as shown when it has a size,
// lies inside the viewport's width and is what the page shows at its centre (not covered).
// The switch shows only the language to switch to at this width (the current one is hidden).
const narrowLayoutJS = `(() => {
	const shown = (el, minWidth) => {
		if (!el) return 'missing';
		const r = el.getBoundingClientRect(), s = getComputedStyle(el);
		if (s.visibility === 'hidden' || r.height === 0 || r.width < minWidth) return 'too small: ' + r.width + '×' + r.height;
		if (r.left < 0 || r.right > innerWidth) return 'outside the viewport: ' + r.left + '…' + r.right;
		const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
		if (!top || !(el === top || el.contains(top))) return 'covered by ' + (top ? top.outerHTML.slice(0, 80) : 'nothing');
		return 'ok';
	};
	const other = document.querySelector('header .lang-switch a:not([aria-current])');
	return {
		scrollWidth: document.documentElement.scrollWidth,
		name: shown(document.querySelector('header #whoami-name'), 24),
		switch: shown(other, 16) + (other ? ' (' + other.textContent.trim() + ')' : ''),
	};
})()`

// fits360 checks that the page does not scroll sideways at 360 px and that the header still
// shows the person's name and the switch to English; it saves a screenshot as name.
func (p *person) fits360(t *testing.T, where, name string) {
	t.Helper()
	got := eval[narrowLayout](t, p, narrowLayoutJS)
	if got.ScrollWidth > 360 {
		t.Errorf("%s at 360 px scrolls sideways: scrollWidth %d", where, got.ScrollWidth)
	}
	if got.Name != "ok" {
		t.Errorf("%s at 360 px: the name in the header is not shown: %s", where, got.Name)
	}
	if want := "ok (" + i18n.En.Name() + ")"; got.Switch != want {
		t.Errorf("%s at 360 px: the language switch shows %q, want %q", where, got.Switch, want)
	}
	p.screenshot(t, name)
}

// TestKoreanFits360: a Korean visitor on a 360 px phone, with the longest nickname allowed, a
// room whose title is 41 Hangul characters with no space, a long message, and a lobby with
// long titles: no page (the /me form, the room, the lobby) scrolls sideways, and the header
// keeps the name and the switch.
func TestKoreanFits360(t *testing.T) {
	t.Parallel()
	if n := utf8.RuneCountInString(narrowName); n != handlers.MaxNickname {
		t.Fatalf("the nickname has %d characters, want the most allowed (%d)", n, handlers.MaxNickname)
	}
	for _, title := range []string{narrowTitle, narrowSpacedTitle} {
		if n := utf8.RuneCountInString(strings.ReplaceAll(title, " ", "")); n < 40 {
			t.Fatalf("%q has %d Hangul characters, want 40 or more", title, n)
		}
	}
	srv := startServer(t)
	ann := newVisitors(t, srv, visitor{name: "ann", acceptLang: korean})[0]
	ann.do(t, "hold the phone: 360 × 740", narrowPhone)

	ann.open(t, "/me")
	ann.rename(t, narrowName, "c9")
	ann.inLobby(t)
	if got := ann.nickname(t); got != narrowName {
		t.Fatalf("after saving /me ann is %q, want %q", got, narrowName)
	}
	ann.open(t, "/me")
	ann.do(t, `see the box "Nickname"`, visible("textbox", ann.word("Nickname")))
	ann.fits360(t, "the /me form", "me-ko-360")

	ann.open(t, "/")
	ann.inLobby(t)
	ann.createRoom(t, narrowTitle, "")
	ann.say(t, narrowMessage, false)
	ann.fits360(t, "the room", "room-ko-360")

	// The lobby in a second tab, so the room (ann is in it) stays in the list; another class
	// opens a room with a long title with spaces.
	lobby := ann.newTab(t, "ann-lobby")
	lobby.do(t, "hold the phone: 360 × 740", narrowPhone)
	lobby.open(t, "/")
	lobby.inLobby(t)
	openRoomsElsewhere(t, srv, url.Values{"title": {narrowSpacedTitle}, "capacity": {"30"}})
	for _, title := range []string{narrowTitle, narrowSpacedTitle} {
		lobby.waitFor(t, "see "+title+" in the list", js(`roomCard(`+jsString(title)+`) !== null`))
	}
	lobby.fits360(t, "the lobby", "lobby-ko-360")

	ann.checkConsole(t)
	lobby.checkConsole(t)
}
