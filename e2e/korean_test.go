package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"gifchat/i18n"
)

// ko is a catalog text in Korean: what a Korean page says for key.
func ko(key string, kv ...any) string { return i18n.Ko.T(key, kv...) }

var hangul = regexp.MustCompile(`\p{Hangul}`)

// gifShown is the predicate for a loaded w×h GIF in the log whose alternative text is alt.
func gifShown(w, h int, alt string) string {
	return js(fmt.Sprintf(`[...%s.querySelectorAll('img')].some(img =>
		img.alt === %s && img.getAttribute('width') === '%d' && img.getAttribute('height') === '%d'
		&& img.complete && img.naturalWidth === %d && img.naturalHeight === %d)`, messagesLog, jsString(alt), w, h, w, h))
}

// openRoomsElsewhere creates rooms the way a Korean visitor without JS does (a plain form
// post, each from its own session), so a lobby has more than one room to show. Nobody enters
// them, so they live for the empty-room grace: enough for a screenshot.
func openRoomsElsewhere(t *testing.T, srv *testServer, rooms ...url.Values) {
	t.Helper()
	for _, form := range rooms {
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/rooms", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept-Language", korean)
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("create room %q: %v", form.Get("title"), err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("create room %q: %s, want 303 See Other", form.Get("title"), res.Status)
		}
		// Its creator says something (the no-JS form), which keeps them present for minutes:
		// a room nobody is in closes after the test server's short grace, and on a loaded
		// machine that can come before the lobby under test has shown it.
		room := res.Header.Get("Location")
		post, _ := http.NewRequest(http.MethodPost, srv.URL+room+"/messages", strings.NewReader(url.Values{"text": {"안녕하세요"}}.Encode()))
		post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		post.Header.Set("Accept-Language", korean)
		if res, err = client.Do(post); err != nil {
			t.Fatalf("post in %q: %v", form.Get("title"), err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("post in %q: %s, want 303 See Other", form.Get("title"), res.Status)
		}
	}
}

// TestKoreanScenario follows a visitor whose browser asks for Korean through a room's whole
// life (lobby, create, chat, GIF, leave) together with one whose browser asks for English:
// every event reaches each of them in their own language, and the Korean pages show no
// English word that nobody typed. It also takes the README's Korean screenshots.
func TestKoreanScenario(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	people := newVisitors(t, srv, visitor{name: "ann", acceptLang: korean}, visitor{name: "bob"})
	ann, bob := people[0], people[1]
	const title = "금요일 움짤방"
	const annSays = "안녕하세요! 움짤 구경하러 오셨어요?"
	const bobSays = "Hi! I came for the GIFs"
	const w, h = 120, 80
	gifPath := writeAnimatedGIF(t, w, h, 6)
	var annName, bobName string

	t.Run("the lobby in each one's language", func(t *testing.T) {
		ann.open(t, "/")
		bob.open(t, "/")
		if got := ann.pageLang(t); got != "ko" {
			t.Fatalf(`a browser asking for ko-KR gets <html lang=%q>, want "ko"`, got)
		}
		if got := bob.pageLang(t); got != "en" {
			t.Fatalf(`a browser asking for en-US gets <html lang=%q>, want "en"`, got)
		}
		ann.inLobby(t)
		bob.inLobby(t)
		annName, bobName = ann.nickname(t), bob.nickname(t)
		if !hangul.MatchString(annName) {
			t.Errorf("the Korean visitor's generated nickname %q has no Hangul", annName)
		}
		ann.speaksOnly(t, "the empty lobby", annName)
		srv.waitLobbyStreams(t, 2, ann, bob)
		ann.createRoom(t, title, "")
		bob.waitFor(t, "see the Korean room in the list, by ann", js(`roomCard(`+jsString(title)+`) !== null && roomCard(`+jsString(title)+`).innerText.includes(`+jsString("by "+annName)+`)`))
		bob.speaksOnly(t, "the lobby", bobName, annName, title)
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("joins, chat and a GIF, each in its reader's language", func(t *testing.T) {
		bob.do(t, `press "Join"`, chromedp.Click(joinButton(title)))
		bob.inRoom(t, title)
		ann.seesInLog(t, ko("notice.joined", "Name", annName))
		ann.seesInLog(t, ko("notice.joined", "Name", bobName))
		bob.seesInLog(t, annName+" joined")
		bob.seesInLog(t, bobName+" joined")
		ann.seesMembers(t, annName, bobName)
		bob.seesMembers(t, annName, bobName)

		ann.say(t, annSays, true)
		bob.seesInLog(t, annSays)
		bob.say(t, bobSays, false)
		ann.seesInLog(t, bobSays)

		ann.do(t, `pick a GIF with "`+ann.word("Upload GIF")+`"`, chromedp.SetUploadFiles(fileInput(ann.word("Upload GIF")), []string{gifPath}))
		ann.waitFor(t, "see my GIF, described in Korean", gifShown(w, h, ko("msg.gif_alt", "Name", annName)))
		bob.waitFor(t, "see ann's GIF, described in English", gifShown(w, h, "GIF from "+annName))

		ann.speaksOnly(t, "the room", annName, bobName, bobSays)
		bob.speaksOnly(t, "the room", annName, bobName, title, annSays)
		// Tall enough that the log shows the whole conversation, for the README.
		ann.do(t, "make the window taller", chromedp.EmulateViewport(1280, 860))
		ann.screenshot(t, "room-ko")
		ann.do(t, "put the window back", chromedp.ResetViewport())
		ann.checkConsole(t)
		bob.checkConsole(t)
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("leaving, and the notices of it in history", func(t *testing.T) {
		ann.do(t, `follow "`+ann.word("Leave")+`"`, click("link", ann.word("Leave")))
		ann.inLobby(t)
		bob.seesInLog(t, annName+" left")
		bob.seesInLog(t, bobName+" is now the owner")
		// Notices are data: coming back, ann reads the same two in Korean.
		ann.waitFor(t, "see the room in the list, now bob's", js(`roomCard(`+jsString(title)+`) !== null && roomCard(`+jsString(title)+`).innerText.includes(`+jsString(ko("lobby.owned_by", "Name", bobName))+`)`))
		ann.do(t, `press "`+ann.word("Join")+`"`, chromedp.Click(joinButton(title)))
		ann.inRoom(t, title)
		ann.seesInLog(t, ko("notice.left", "Name", annName))
		ann.seesInLog(t, ko("notice.owner", "Name", bobName))
		ann.speaksOnly(t, "the room's history", annName, bobName, bobSays)

		ann.do(t, `follow "`+ann.word("Leave")+`"`, click("link", ann.word("Leave")))
		ann.inLobby(t)
		more := []string{"밤샘 코딩 모임 — 과제 마감 전까지 같이 달려요", "3학년 2반 단톡방"}
		openRoomsElsewhere(t, srv,
			url.Values{"title": {more[0]}, "capacity": {"30"}},
			url.Values{"title": {more[1]}, "capacity": {"6"}, "password": {"우리반 비밀"}})
		for _, title := range more {
			ann.waitFor(t, "see "+title+" in the list", js(`roomCard(`+jsString(title)+`) !== null`))
		}
		ann.waitFor(t, "see the room in the list with bob alone in it", js(`roomCard(`+jsString(title)+`) !== null && roomCard(`+jsString(title)+`).innerText.includes(`+jsString(ko("lobby.count", "N", 1, "Max", 10))+`)`))
		ann.speaksOnly(t, "the lobby", annName, bobName)
		ann.do(t, "size the window as the English screenshots", chromedp.EmulateViewport(1280, 860))
		ann.screenshot(t, "lobby-ko")
		ann.checkConsole(t)
		bob.checkConsole(t)
	})
}

// TestLanguageSwitch: the header's switch is a plain link, so it works with scripts off; the
// choice outlives a reload and wins over the browser's Accept-Language, and the switch goes
// back to the page it was on.
func TestLanguageSwitch(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	ann := newVisitors(t, srv, visitor{name: "ann", acceptLang: korean})[0]
	ann.do(t, "turn scripts off", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	ann.open(t, "/")
	ann.inLobby(t)
	name := ann.nickname(t)
	ann.speaksOnly(t, "the lobby", name)
	// A page that is not there says so in Korean too (with status 404, which chromium notes).
	ann.allow(`status of 404`)
	ann.open(t, "/rooms/no-such-room")
	ann.do(t, "see the not-found page", visible("link", ko("nav.back_to_lobby")))
	ann.speaksOnly(t, "the not-found page", name)

	for _, step := range []struct {
		from, link string
		to         i18n.Lang
	}{
		{"/", "English", i18n.En},
		{"/me", "한국어", i18n.Ko},
		{"/me", "English", i18n.En},
	} {
		ann.open(t, step.from)
		ann.do(t, `follow "`+step.link+`"`, click("link", step.link))
		ann.lang = step.to
		for _, when := range []string{"after the switch", "after a reload"} {
			if when == "after a reload" {
				ann.do(t, "reload", chromedp.Reload())
			}
			if got := ann.location(t); got != srv.URL+step.from {
				t.Errorf("%s from %s ann is at %s, want back at %s", when, step.from, got, step.from)
			}
			if step.from == "/" {
				ann.inLobby(t)
			} else {
				ann.do(t, `see the box "Nickname"`, visible("textbox", ann.word("Nickname")))
			}
			ann.speaksOnly(t, step.from+" "+when, name)
			if eval[bool](t, ann, `typeof htmx !== 'undefined'`) {
				t.Fatalf("%s from %s the page's scripts ran: the test meant them off", when, step.from)
			}
		}
	}
	ann.checkConsole(t)
}

// location is the address of the person's page.
func (p *person) location(t *testing.T) string {
	t.Helper()
	return eval[string](t, p, `location.href`)
}
