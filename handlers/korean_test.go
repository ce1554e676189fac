package handlers_test

// A browser that asks for Korean sees no English: not on the pages (lobby, room, password,
// full, not found), and not in any refusal it can provoke, over HTTP or over the room's
// socket. Each case provokes one thing and names the Korean that must say it, so that a case
// cannot pass by provoking nothing; every page, fragment and socket frame is then read for
// Latin words (koreanEye).

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"gifchat/db"
	. "gifchat/handlers"
	"gifchat/realtime"
	"gifchat/vocab"
)

const formType = "application/x-www-form-urlencoded"

// koreanCase is one request and what a Korean browser must be told.
type koreanCase struct {
	name         string
	who          *http.Client
	method, path string
	ctype, body  string      // ctype "" sends no body
	header       http.Header // more request headers (HX-Request, Origin, ...)
	status       int
	want         string // Korean that must be shown ("" for a page that only must be Korean)
}

func (ts *testServer) checkKorean(t *testing.T, k *koreanEye, cases []koreanCase) {
	t.Helper()
	for _, c := range cases {
		resp, body := ts.request(t, noRedirect(c.who), c.method, c.path, c.ctype, c.body, c.header)
		if resp.StatusCode != c.status {
			t.Errorf("%s: %s %s answered %s, want %d:\n%s", c.name, c.method, c.path, resp.Status, c.status, clipText(body, 1500))
			continue
		}
		if c.status/100 == 3 || c.status == http.StatusNoContent {
			continue // nothing to read
		}
		if lang := htmlLang(body); isWholePage(body) && lang != "ko" {
			t.Errorf("%s: <html lang=%q>, want ko", c.name, lang)
		}
		k.check(t, c.name, body, c.want)
	}
}

// koreanFrame is one socket frame and the Korean its sender must be told.
type koreanFrame struct {
	name  string
	peer  *roomPeer
	frame map[string]any
	want  string
}

func checkKoreanFrames(t *testing.T, frames []koreanFrame) {
	t.Helper()
	for _, f := range frames {
		seen := strings.Count(f.peer.received(), f.want)
		f.peer.send(t, f.frame)
		f.peer.waitCount(t, f.want, seen+1)
	}
}

// refusedIn dials a room as the person and expects a refusal: the close code, and the Korean
// shown before it and said in the close frame.
func (ts *testServer) refusedIn(t *testing.T, k *koreanEye, what string, person *http.Client, roomID string, code int, want string) {
	t.Helper()
	p := ts.dialIn(t, person, roomID, koreanBrowser)
	got, reason := p.waitClose(t)
	if got != code {
		t.Errorf("%s: the socket closed with %d %q, want %d; it was shown:\n%s", what, got, reason, code, p.received())
		return
	}
	k.check(t, what, p.received(), want)
	if !hangul.MatchString(reason) {
		t.Errorf("%s: the close frame's reason %q is not Korean", what, reason)
	}
}

func htmlLang(page string) string {
	_, rest, ok := strings.Cut(page, `<html lang="`)
	if !ok {
		return ""
	}
	lang, _, _ := strings.Cut(rest, `"`)
	return lang
}

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

func TestKoreanBrowserSeesNoEnglish(t *testing.T) {
	ts := newTestServer(t,
		withConfig(Config{MaxRoomsPerPerson: 3, MaxRooms: 4, MaxGIFBytes: 16 << 10, MaxGIFBytesPerRoom: 20 << 10, MaxLobbyStreamsPerPerson: 1}),
		withRealtimeConfig(realtime.Config{MaxMessageRunes: 50, MaxTabsPerRoom: 2, EditWindow: time.Second}))
	gs := &gifTestServer{testServer: ts, gifs: ts.GIFs}
	k := newKoreanEye()
	person := func() (*http.Client, db.Identity) {
		c := ts.newPersonIn(t, koreanBrowser)
		id := ts.identity(t, c)
		k.allowName(id.Nickname)
		return c, id
	}
	owner, _ := person()
	member, memberID := person()
	guest, _ := person()
	late, lateID := person()

	// Rooms: the owner may have 3, the server 4.
	pub := ts.createRoom(t, owner, "금요일 모임", 0, "")
	priv := ts.createRoom(t, owner, "비밀 모임", 0, "비밀번호1234")
	small := ts.createRoom(t, owner, "작은 방", 2, "")
	ts.createRoom(t, member, "다른 방", 0, "")

	o := ts.dialIn(t, owner, pub, koreanBrowser)
	o.waitFor(t, memberPanel)
	m := ts.dialIn(t, member, pub, koreanBrowser)
	m.waitFor(t, memberPanel)
	if resp, body := ts.postForm(t, noRedirect(owner), "/rooms/"+pub+"/messages", url.Values{"text": {"안녕하세요"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("owner's post: %s\n%s", resp.Status, body)
	}
	if resp, body := gs.uploadGIF(t, owner, pub, "고양이.gif", testGIF(t, 8, 8, 2, 1)); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("owner's GIF: %s\n%s", resp.Status, body)
	}
	m.waitFor(t, "msg-gif")
	var ownersText, ownersGIF, notice int64
	msgs, err := ts.Store.LatestMessages(context.Background(), pub, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range msgs {
		switch msg.Kind {
		case vocab.KindText:
			ownersText = msg.Seq
		case vocab.KindGIF:
			ownersGIF = msg.Seq
		case vocab.KindNotice:
			notice = msg.Seq
		}
	}
	if ownersText == 0 || ownersGIF == 0 || notice == 0 {
		t.Fatalf("the room's log lacks a text, a GIF or a notice: %+v", msgs)
	}
	seq := func(n int64) string { return fmt.Sprint(n) }

	// Pages and HTTP refusals that need no socket.
	gifBody := func(parts ...gifPart) (string, string) {
		b, ctype := multipartBody(t, parts...)
		return string(b), ctype
	}
	notGIF, notGIFType := gifBody(gifPart{"gif", "글.gif", []byte("이건 GIF가 아닙니다")})
	empty, emptyType := gifBody(gifPart{"gif", "빈.gif", nil})
	pathName, pathType := gifBody(gifPart{"gif", "../고양이.gif", testGIF(t, 8, 8, 1, 2)})
	twoFiles, twoType := gifBody(gifPart{"gif", "하나.gif", testGIF(t, 8, 8, 1, 3)}, gifPart{"gif", "둘.gif", testGIF(t, 8, 8, 1, 4)})
	noFile, noFileType := gifBody(gifPart{"to", "-", nil})
	badTo, badToType := gifBody(gifPart{"to", "-", []byte("누구")}, gifPart{"gif", "귓속말.gif", testGIF(t, 8, 8, 1, 5)})
	goneTo, goneToType := gifBody(gifPart{"to", "-", []byte("999999")}, gifPart{"gif", "귓속말.gif", testGIF(t, 8, 8, 1, 6)})
	big, bigType := gifBody(gifPart{"gif", "큰.gif", paddedGIF(t, 17<<10)})
	fits, fitsType := gifBody(gifPart{"gif", "알맞은.gif", paddedGIF(t, 12<<10)})
	good, goodType := gifBody(gifPart{"gif", "강아지.gif", testGIF(t, 8, 8, 1, 7)})
	scripted := http.Header{"X-Requested-With": {"XMLHttpRequest"}}
	crossSite := http.Header{"Origin": {"http://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}
	zeros := strings.Repeat("0", 64)

	ts.checkKorean(t, k, []koreanCase{
		{name: "lobby", who: guest, method: "GET", path: "/", status: 200},
		{name: "room page", who: member, method: "GET", path: "/rooms/" + pub, status: 200, want: "금요일 모임"},
		{name: "password page", who: guest, method: "GET", path: "/rooms/" + priv, status: 200, want: "비밀 모임"},
		{name: "not found", who: guest, method: "GET", path: "/없는/페이지", status: 404, want: "페이지를 찾을 수 없습니다"},
		{name: "room not found", who: guest, method: "GET", path: "/rooms/aaaaaaaaaaaaaaaa", status: 404, want: "페이지를 찾을 수 없습니다"},
		{name: "own message's edit page", who: owner, method: "GET", path: "/rooms/" + pub + "/messages/" + seq(ownersText) + "/edit", status: 200},
		{name: "delete confirmation", who: owner, method: "POST", path: "/rooms/" + small + "/delete", ctype: formType, status: 200, want: "작은 방"},

		// The create form: each field's errors, as a page and as htmx's fragment.
		{name: "create: no title", who: guest, method: "POST", path: "/rooms", ctype: formType, body: form("title", " "), status: 422, want: "방 제목을 입력해 주세요."},
		{name: "create: no title (htmx)", who: guest, method: "POST", path: "/rooms", ctype: formType, body: form("title", ""), header: htmxHeader, status: 422, want: "방 제목을 입력해 주세요."},
		{name: "create: title too long", who: guest, method: "POST", path: "/rooms", ctype: formType, body: form("title", strings.Repeat("가", 61)), status: 422, want: "제목이 61자입니다"},
		{name: "create: control characters", who: guest, method: "POST", path: "/rooms", ctype: formType, body: form("title", "방\x07"), status: 422, want: "제어 문자"},
		{name: "create: text direction", who: guest, method: "POST", path: "/rooms", ctype: formType, body: form("title", "방\u202e"), status: 422, want: "텍스트 방향 제어 문자"},
		{name: "create: capacity not a number", who: guest, method: "POST", path: "/rooms", ctype: formType, body: form("title", "방", "capacity", "열"), status: 422, want: "정원은 정수로"},
		{name: "create: capacity out of range", who: guest, method: "POST", path: "/rooms", ctype: formType, body: form("title", "방", "capacity", "1"), status: 422, want: "정원은 2명에서 100명 사이"},
		{name: "create: short password", who: guest, method: "POST", path: "/rooms", ctype: formType, body: form("title", "방", "password", "짧은"), status: 422, want: "비밀번호는 6자 이상"},
		{name: "create: long password", who: guest, method: "POST", path: "/rooms", ctype: formType, body: form("title", "방", "password", strings.Repeat("가", 25)), status: 422, want: "최대 72바이트"},
		{name: "create: rooms owned", who: owner, method: "POST", path: "/rooms", ctype: formType, body: form("title", "네 번째 방"), status: 422, want: "이미 방 3개를"},
		{name: "create: server full", who: guest, method: "POST", path: "/rooms", ctype: formType, body: form("title", "다섯 번째 방"), status: 503, want: "이미 방이 4개"},
		{name: "create: unreadable form", who: guest, method: "POST", path: "/rooms", ctype: formType, body: "title=%zz", status: 400, want: "양식을 읽을 수 없습니다."},
		{name: "create: too large", who: guest, method: "POST", path: "/rooms", ctype: formType, body: form("title", strings.Repeat("가", 30<<10)), status: 413, want: "64 KiB"},
		{name: "create: from another site", who: guest, method: "POST", path: "/rooms", ctype: formType, body: form("title", "방"), header: crossSite, status: 403, want: "다른 사이트에서 온 요청"},

		// The password page.
		{name: "enter: wrong password", who: guest, method: "POST", path: "/rooms/" + priv + "/enter", ctype: formType, body: form("password", "틀린비밀번호"), status: 401, want: "비밀번호가 틀렸습니다."},

		// Messages without JS.
		{name: "post: too long", who: member, method: "POST", path: "/rooms/" + pub + "/messages", ctype: formType, body: form("text", strings.Repeat("말", 51)), status: 422, want: "메시지가 51자입니다"},
		{name: "post: empty", who: member, method: "POST", path: "/rooms/" + pub + "/messages", ctype: formType, body: form("text", " \u200b "), status: 422, want: "먼저 내용을 입력해 주세요"},
		{name: "post: not text", who: member, method: "POST", path: "/rooms/" + pub + "/messages", ctype: formType, body: "text=%FF%FE", status: 422, want: "올바른 텍스트가 아닙니다"},
		{name: "post: not admitted", who: guest, method: "POST", path: "/rooms/" + priv + "/messages", ctype: formType, body: form("text", "안녕"), status: 403, want: ""},
		{name: "edit: no such message", who: member, method: "GET", path: "/rooms/" + pub + "/messages/99999/edit", status: 404, want: "메시지를 찾을 수 없습니다"},
		{name: "edit: not yours", who: member, method: "POST", path: "/rooms/" + pub + "/messages/" + seq(ownersText) + "/edit", ctype: formType, body: form("text", "고친 글"), status: 422, want: "직접 보낸 메시지만 바꿀 수 있습니다."},
		{name: "edit: a GIF", who: member, method: "POST", path: "/rooms/" + pub + "/messages/" + seq(ownersGIF) + "/edit", ctype: formType, body: form("text", "고친 글"), status: 422, want: "텍스트 메시지만 수정할 수 있습니다."},
		{name: "edit: empty", who: owner, method: "POST", path: "/rooms/" + pub + "/messages/" + seq(ownersText) + "/edit", ctype: formType, body: form("text", ""), status: 422, want: "먼저 내용을 입력해 주세요"},
		{name: "delete: not yours", who: member, method: "POST", path: "/rooms/" + pub + "/messages/" + seq(ownersText) + "/delete", ctype: formType, status: 403, want: "직접 보낸 메시지만 삭제할 수 있습니다."},
		{name: "delete: a notice", who: owner, method: "POST", path: "/rooms/" + pub + "/messages/" + seq(notice) + "/delete", ctype: formType, status: 403, want: "알림은 삭제할 수 없습니다."},
		{name: "history: no such page", who: member, method: "GET", path: "/rooms/" + pub + "/messages?before=" + url.QueryEscape("어제"), status: 400, want: "그 기록 페이지를 찾을 수 없습니다."},
		{name: "delete room: not the owner", who: member, method: "POST", path: "/rooms/" + pub + "/delete", ctype: formType, status: 403, want: "방장만 방을 삭제할 수 있습니다."},

		// GIF uploads, as upload.js sends them (a status fragment) and as the plain form does (a page).
		{name: "gif: not a GIF", who: member, method: "POST", path: "/rooms/" + pub + "/gifs", ctype: notGIFType, body: notGIF, header: scripted, status: 415, want: "GIF 파일이 아닙니다."},
		{name: "gif: not a GIF (no JS)", who: member, method: "POST", path: "/rooms/" + pub + "/gifs", ctype: notGIFType, body: notGIF, status: 415, want: "GIF를 올리지 못했습니다"},
		{name: "gif: empty", who: member, method: "POST", path: "/rooms/" + pub + "/gifs", ctype: emptyType, body: empty, header: scripted, status: 400, want: "빈 파일입니다."},
		{name: "gif: a path", who: member, method: "POST", path: "/rooms/" + pub + "/gifs", ctype: pathType, body: pathName, header: scripted, status: 400, want: "파일 이름에 경로가"},
		{name: "gif: two files", who: member, method: "POST", path: "/rooms/" + pub + "/gifs", ctype: twoType, body: twoFiles, header: scripted, status: 400, want: "한 번에 하나씩"},
		{name: "gif: no file", who: member, method: "POST", path: "/rooms/" + pub + "/gifs", ctype: noFileType, body: noFile, header: scripted, status: 400, want: "올릴 GIF를 골라 주세요."},
		{name: "gif: not a file upload", who: member, method: "POST", path: "/rooms/" + pub + "/gifs", ctype: formType, body: form("gif", "고양이"), header: scripted, status: 400, want: "파일 올리기 양식으로"},
		{name: "gif: unreadable recipient", who: member, method: "POST", path: "/rooms/" + pub + "/gifs", ctype: badToType, body: badTo, header: scripted, status: 400, want: "귓속말을 받을 사람을"},
		{name: "gif: whisper to someone gone", who: member, method: "POST", path: "/rooms/" + pub + "/gifs", ctype: goneToType, body: goneTo, header: scripted, status: 409, want: "귓속말을 보내지 못했습니다. GIF를 올리지 못했습니다."},
		{name: "gif: too large", who: member, method: "POST", path: "/rooms/" + pub + "/gifs", ctype: bigType, body: big, header: scripted, status: 413, want: "GIF 최대 크기인 16 KiB"},
		{name: "gif: fits", who: member, method: "POST", path: "/rooms/" + pub + "/gifs", ctype: fitsType, body: fits, header: scripted, status: 204},
		{name: "gif: room not found", who: member, method: "POST", path: "/rooms/aaaaaaaaaaaaaaaa/gifs", ctype: goodType, body: good, header: scripted, status: 404, want: "방을 찾을 수 없거나"},
		{name: "gif: private room not entered", who: guest, method: "POST", path: "/rooms/" + priv + "/gifs", ctype: goodType, body: good, header: scripted, status: 403, want: "글을 올리기 전에 비밀번호를"},
		{name: "gif: no such GIF", who: guest, method: "GET", path: "/gifs/" + zeros + ".gif", status: 404, want: "GIF를 찾을 수 없습니다"},
	})
	// The room's quota: 12 KiB of its 20 are taken; another 12 KiB GIF does not fit.
	fits2, fits2Type := gifBody(gifPart{"gif", "하나더.gif", paddedGIF(t, 12<<10+7)})
	ts.checkKorean(t, k, []koreanCase{
		{name: "gif: over the room's quota", who: member, method: "POST", path: "/rooms/" + pub + "/gifs", ctype: fits2Type, body: fits2, header: scripted, status: 413, want: "방 한도 20 KiB 중"},
	})
	// An upload larger than any request may be, its length unknown until it is read.
	huge, hugeType := multipartBody(t, gifPart{"메모", "-", make([]byte, 100<<10)}, gifPart{"gif", "아주큰.gif", testGIF(t, 8, 8, 1, 8)})
	resp, body := gs.upload(t, member, pub, huge, hugeType, true, true)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("gif: a chunked upload past the limit answered %s:\n%s", resp.Status, body)
	}
	k.check(t, "gif: chunked past the limit", body, "받을 수 있는 크기")

	// The password back-off: five wrong passwords are free (one was tried above), then
	// the room makes the next one wait.
	for range 5 {
		ts.request(t, guest, "POST", "/rooms/"+priv+"/enter", formType, form("password", "또틀린비밀번호"), nil)
	}
	ts.checkKorean(t, k, []koreanCase{
		{name: "enter: backing off", who: guest, method: "POST", path: "/rooms/" + priv + "/enter", ctype: formType, body: form("password", "또틀린비밀번호"), status: 429, want: "틀린 비밀번호가 너무 많이"},
	})

	// The lobby stream over its cap (one per person here).
	ts.openLobbyStream(t, guest)
	ts.checkKorean(t, k, []koreanCase{
		{name: "lobby stream over the cap", who: guest, method: "GET", path: "/rooms/events", header: htmxHeader, status: 429, want: "이미 탭 1개에서 로비를"},
	})

	// Refusals over the socket, to the one who sent the frame.
	checkKoreanFrames(t, []koreanFrame{
		{"say: too long", m, map[string]any{"action": "say", "text": strings.Repeat("말", 51)}, "메시지가 51자입니다"},
		{"say: empty", m, map[string]any{"action": "say", "text": "   "}, "먼저 내용을 입력해 주세요"},
		{"say: whisper to someone gone", m, map[string]any{"action": "say", "text": "쉿", "to": "999999"}, "상대가 방을 나가서 귓속말을 보내지 못했습니다."},
		{"say: whisper to oneself", m, map[string]any{"action": "say", "text": "쉿", "to": fmt.Sprint(memberID.ID)}, "자기 자신에게는 귓속말을 보낼 수 없습니다."},
		{"whisper-to: someone gone", m, map[string]any{"action": "whisper-to", "to": "999999"}, "그 사람은 이제 이 방에 없습니다."},
		{"whisper-to: oneself", m, map[string]any{"action": "whisper-to", "to": fmt.Sprint(memberID.ID)}, "자기 자신에게는 귓속말을"},
		{"kick: not the owner", m, map[string]any{"action": "kick", "member": fmt.Sprint(memberID.ID)}, "방장만 다른 사람을 내보낼 수 있습니다."},
		{"lock: not the owner", m, map[string]any{"action": "lock"}, "방장만 할 수 있습니다."},
		{"unban: not the owner", m, map[string]any{"action": "unban", "member": "1"}, "방장만 할 수 있습니다."},
		{"password: not the owner", m, map[string]any{"action": "password", "text": "새비밀번호1234"}, "방장만 할 수 있습니다."},
		{"edit: not yours", m, map[string]any{"action": "edit", "seq": seq(ownersText), "text": "고친 글"}, "직접 보낸 메시지만 바꿀 수 있습니다."},
		{"edit: gone", m, map[string]any{"action": "edit", "seq": "99999", "text": "고친 글"}, "그 메시지는 이제 없습니다."},
		{"delete: not yours", m, map[string]any{"action": "delete", "seq": seq(ownersText)}, "직접 보낸 메시지만 삭제할 수 있습니다."},
		{"delete: a notice", m, map[string]any{"action": "delete", "seq": seq(notice)}, "알림은 삭제할 수 없습니다."},
		{"react: a notice", m, map[string]any{"action": "react", "seq": seq(notice), "emoji": vocab.Reactions[0]}, "알림에는 반응을 남길 수 없습니다."},
		{"frame: unknown action", m, map[string]any{"action": "춤추기"}, "알 수 없는 동작입니다."},
		{"frame: unknown reaction", m, map[string]any{"action": "react", "seq": seq(ownersText), "emoji": "🐙"}, "알 수 없는 반응입니다."},
		{"frame: bad id", m, map[string]any{"action": "kick", "member": "누구"}, "번호가 잘못되었습니다."},
		{"frame: unknown field", m, map[string]any{"action": "say", "text": "안녕", "색깔": "빨강"}, "알 수 없는 항목이 있습니다."},
		{"kick: oneself", o, map[string]any{"action": "kick", "member": fmt.Sprint(ts.identity(t, owner).ID)}, "자기 자신은 내보낼 수 없습니다."},
		{"kick: someone gone", o, map[string]any{"action": "kick", "member": "999999"}, "그 사람은 이제 이 방에 없습니다."},
		{"unban: not banned", o, map[string]any{"action": "unban", "member": fmt.Sprint(memberID.ID)}, "그 사람은 차단되어 있지 않습니다."},
		{"password: too short", o, map[string]any{"action": "password", "text": "짧은"}, "방 비밀번호는 6자에서 72자 사이여야 합니다."},
	})
	// A binary frame, and an edit past the edit window (a second here).
	seen := strings.Count(m.received(), "텍스트 메시지만 받습니다.")
	m.conn.SetWriteDeadline(time.Now().Add(peerWait))
	if err := m.conn.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	m.waitCount(t, "텍스트 메시지만 받습니다.", seen+1)
	m.say(t, "고칠 글")
	m.waitFor(t, "고칠 글")
	var mine int64
	if msgs, err := ts.Store.LatestMessages(context.Background(), pub, memberID.ID, 100); err == nil {
		for _, msg := range msgs {
			if msg.Body == "고칠 글" {
				mine = msg.Seq
			}
		}
	}
	time.Sleep(1100 * time.Millisecond)
	checkKoreanFrames(t, []koreanFrame{
		{"edit: past the window", m, map[string]any{"action": "edit", "seq": seq(mine), "text": "고친 글"}, "메시지는 보낸 뒤 1초 동안만 수정할 수 있습니다."},
	})

	// Too many tabs in one room (two here).
	m2 := ts.dialIn(t, member, pub, koreanBrowser)
	m2.waitFor(t, memberPanel)
	ts.refusedIn(t, k, "a third tab", member, pub, realtime.CloseTooMany, "이미 이 방을 탭 2개에서 열어 두었습니다")

	// Private, gone and full rooms.
	ts.refusedIn(t, k, "socket: private room not entered", guest, priv, realtime.CloseNeedsPassword, "비공개 방입니다. 먼저 비밀번호를 입력해 주세요.")
	ts.refusedIn(t, k, "socket: no such room", guest, "aaaaaaaaaaaaaaaa", realtime.CloseRoomGone, "방을 찾을 수 없거나 방이 닫혔습니다.")
	os := ts.dialIn(t, owner, small, koreanBrowser)
	os.waitFor(t, memberPanel)
	ms := ts.dialIn(t, member, small, koreanBrowser)
	ms.waitFor(t, memberPanel)
	ts.checkKorean(t, k, []koreanCase{
		{name: "full page", who: guest, method: "GET", path: "/rooms/" + small, status: 409, want: "자리 2개가 모두 찼습니다"},
		{name: "gif: room full", who: guest, method: "POST", path: "/rooms/" + small + "/gifs", ctype: goodType, body: good, header: scripted, status: 409, want: "방이 가득 차서"},
	})
	ts.refusedIn(t, k, "socket: room full", guest, small, realtime.CloseFull, "방이 가득 찼습니다.")

	// The owner closes the small room: its members are told.
	ts.checkKorean(t, k, []koreanCase{
		{name: "delete room", who: owner, method: "POST", path: "/rooms/" + small + "/delete", ctype: formType, body: form("confirm", "yes"), status: 303},
	})
	ms.waitFor(t, "방장이 방을 닫았습니다.")
	if code, reason := ms.waitClose(t); code != realtime.CloseRoomGone || !hangul.MatchString(reason) {
		t.Errorf("a member of a closed room: closed with %d %q, want %d and a Korean reason", code, reason, realtime.CloseRoomGone)
	}

	// Locked: nobody new may enter.
	checkKoreanFrames(t, []koreanFrame{{"lock", o, map[string]any{"action": "lock"}, "방을 잠갔습니다"}})
	ts.checkKorean(t, k, []koreanCase{
		{name: "locked page", who: late, method: "GET", path: "/rooms/" + pub, status: 403, want: "방장이 방을 잠가서 새로 들어올 수 없습니다."},
		{name: "gif: locked room", who: late, method: "POST", path: "/rooms/" + pub + "/gifs", ctype: goodType, body: good, header: scripted, status: 403, want: "방장이 방을 잠가서"},
	})
	ts.refusedIn(t, k, "socket: locked room", late, pub, realtime.CloseLocked, "방장이 방을 잠가서 새로 들어올 수 없습니다.")
	checkKoreanFrames(t, []koreanFrame{{"unlock", o, map[string]any{"action": "unlock"}, "잠금을 풀었습니다"}})

	// Banned: told on the socket, on the page and on the next socket.
	l := ts.dialIn(t, late, pub, koreanBrowser)
	l.waitFor(t, memberPanel)
	o.send(t, map[string]any{"action": "ban", "member": fmt.Sprint(lateID.ID)})
	l.waitFor(t, "방장이 이 방에서 차단했습니다.")
	if code, reason := l.waitClose(t); code != realtime.CloseKicked || !hangul.MatchString(reason) {
		t.Errorf("a banned socket: closed with %d %q, want %d and a Korean reason", code, reason, realtime.CloseKicked)
	}
	ts.checkKorean(t, k, []koreanCase{
		{name: "banned page", who: late, method: "GET", path: "/rooms/" + pub, status: 403, want: "방장이 이 방에서 차단했습니다."},
	})
	ts.refusedIn(t, k, "socket: banned", late, pub, realtime.CloseKicked, "방장이 이 방에서 차단했습니다.")

	// Kicked: out for ten minutes, and told so everywhere.
	o.send(t, map[string]any{"action": "kick", "member": fmt.Sprint(memberID.ID)})
	m.waitFor(t, "방장이 내보냈습니다. 10분 후에 다시 들어올 수 있습니다.")
	m2.waitFor(t, "방장이 내보냈습니다. 10분 후에 다시 들어올 수 있습니다.")
	if code, reason := m.waitClose(t); code != realtime.CloseKicked || !hangul.MatchString(reason) {
		t.Errorf("a kicked socket: closed with %d %q, want %d and a Korean reason", code, reason, realtime.CloseKicked)
	}
	ts.checkKorean(t, k, []koreanCase{
		{name: "kicked page", who: member, method: "GET", path: "/rooms/" + pub, status: 403, want: "10분 후에 다시 들어올 수 있습니다."},
		{name: "gif: kicked", who: member, method: "POST", path: "/rooms/" + pub + "/gifs", ctype: goodType, body: good, header: scripted, status: 403, want: "10분 후에 다시 들어올 수 있습니다."},
	})
	ts.refusedIn(t, k, "socket: kicked", member, pub, realtime.CloseKicked, "10분 후에 다시 들어올 수 있습니다.")

	// Everything the sockets were sent, refusals and all, is Korean.
	for name, p := range map[string]*roomPeer{"owner's socket": o, "member's socket": m, "member's second tab": m2, "banned socket": l, "small room's socket": os} {
		k.check(t, name, p.received(), "")
	}

	// The server stopping: posts are told to try again, sockets to come back.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Rooms.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if code, reason := o.waitClose(t); code != websocket.CloseServiceRestart || !hangul.MatchString(reason) {
		t.Errorf("a socket at shutdown: closed with %d %q, want 1012 and a Korean reason", code, reason)
	}
	ts.checkKorean(t, k, []koreanCase{
		{name: "post while restarting", who: owner, method: "POST", path: "/rooms/" + pub + "/messages", ctype: formType, body: form("text", "늦었다"), status: 503, want: "서버를 다시 시작하는 중"},
		{name: "gif while restarting", who: owner, method: "POST", path: "/rooms/" + pub + "/gifs", ctype: goodType, body: good, header: scripted, status: 503, want: "서버를 다시 시작하는 중이라 GIF를"},
	})
}

// Rate limits and connection caps, said in Korean: each limit is one token here, so the
// second try of anything is refused.
func TestKoreanRateLimits(t *testing.T) {
	ts := newLimitedServer(t, RateLimitConfig{AddressFactor: 100, Rates: only(map[string]string{
		ActionSay: "1/m:1", ActionControl: "1/m:1", ActionCreateRoom: "1/m:1", ActionUpload: "1/m:1", ActionConnect: "1/m:2", ActionEnter: "1/m:1",
	})}, withConfig(Config{MaxSocketsPerPerson: 1}))
	gs := &gifTestServer{testServer: ts.testServer, gifs: ts.GIFs}
	k := newKoreanEye()
	owner, poster := ts.newPersonIn(t, koreanBrowser), ts.newPersonIn(t, koreanBrowser)
	for _, c := range []*http.Client{owner, poster} {
		k.allowName(ts.identity(t, c).Nickname)
	}
	room := ts.createRoom(t, owner, "빠른 방", 0, "")
	locked := ts.createRoom(t, poster, "잠긴 방", 0, "비밀번호1234")

	p := ts.dialIn(t, poster, room, koreanBrowser)
	p.waitFor(t, memberPanel)
	ts.refusedIn(t, k, "socket: one person's cap", poster, room, realtime.CloseTooMany, "이미 방이나 탭 1개가 연결되어")
	ts.refusedIn(t, k, "socket: connecting too often", poster, room, realtime.CloseTryAgain, "한꺼번에 너무 많이 연결했습니다")

	if resp, body := ts.postForm(t, noRedirect(poster), "/rooms/"+room+"/messages", url.Values{"text": {"첫 글"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("first post: %s\n%s", resp.Status, body)
	}
	if resp, body := gs.uploadGIF(t, poster, room, "첫.gif", testGIF(t, 8, 8, 1, 1)); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("first GIF: %s\n%s", resp.Status, body)
	}
	var first int64
	if msgs, err := ts.Store.LatestMessages(context.Background(), room, 0, 100); err == nil {
		for _, msg := range msgs {
			if msg.Body == "첫 글" {
				first = msg.Seq
			}
		}
	}
	good, goodType := multipartBody(t, gifPart{"gif", "둘째.gif", testGIF(t, 8, 8, 1, 2)})
	ts.checkKorean(t, k, []koreanCase{
		{name: "rate: messages (no JS)", who: poster, method: "POST", path: "/rooms/" + room + "/messages", ctype: formType, body: form("text", "둘째 글"), status: 429, want: "메시지를 너무 빨리 보내고 있습니다"},
		{name: "rate: edits (no JS)", who: poster, method: "POST", path: fmt.Sprintf("/rooms/%s/messages/%d/edit", room, first), ctype: formType, body: form("text", "고친 글"), status: 429, want: "메시지를 너무 빨리 보내고 있습니다"},
		{name: "rate: rooms", who: poster, method: "POST", path: "/rooms", ctype: formType, body: form("title", "또 방"), status: 429, want: "방을 너무 빨리 만들고 있습니다"},
		{name: "rate: rooms (htmx)", who: poster, method: "POST", path: "/rooms", ctype: formType, body: form("title", "또 방"), header: htmxHeader, status: 429, want: "방을 너무 빨리 만들고 있습니다"},
		{name: "rate: GIFs", who: poster, method: "POST", path: "/rooms/" + room + "/gifs", ctype: goodType, body: string(good), header: http.Header{"X-Requested-With": {"XMLHttpRequest"}}, status: 429, want: "GIF를 너무 빨리 올리고 있습니다"},
		{name: "enter: first wrong password", who: owner, method: "POST", path: "/rooms/" + locked + "/enter", ctype: formType, body: form("password", "틀린비밀번호"), status: 401, want: "비밀번호가 틀렸습니다."},
		{name: "rate: passwords", who: owner, method: "POST", path: "/rooms/" + locked + "/enter", ctype: formType, body: form("password", "틀린비밀번호"), status: 429, want: "비밀번호를 너무 많이 시도했습니다"},
	})
	p.send(t, map[string]any{"action": "whisper-cancel"}) // the one action allowed; the next is refused
	checkKoreanFrames(t, []koreanFrame{
		{"rate: messages (socket)", p, map[string]any{"action": "say", "text": "셋째 글"}, "메시지를 너무 빨리 보내고 있습니다"},
		{"rate: other actions", p, map[string]any{"action": "whisper-cancel"}, "한꺼번에 너무 많은 동작을 했습니다"},
	})
	ts.checkKorean(t, k, []koreanCase{
		{name: "rate: deletes (no JS)", who: poster, method: "POST", path: fmt.Sprintf("/rooms/%s/messages/%d/delete", room, first), ctype: formType, status: 429, want: "조금 천천히 해 주세요"},
	})
	k.check(t, "the poster's socket", p.received(), "")

	// New visitors from one address: two may come, the third is asked to wait.
	vs := newLimitedServer(t, RateLimitConfig{AddressFactor: 1, Rates: only(map[string]string{ActionNewSession: "1/m:2"})})
	vs.newPersonIn(t, koreanBrowser)
	vs.newPersonIn(t, koreanBrowser)
	stranger := &http.Client{Transport: langTransport{vs.srv.Client().Transport, koreanBrowser}, Timeout: 30 * time.Second}
	vs.checkKorean(t, k, []koreanCase{
		{name: "rate: new visitors", who: stranger, method: "GET", path: "/", status: 429, want: "새 방문자가 너무 많습니다"},
	})
}

// A refusal sent to several sockets at once (the room closed, a person kicked with a tab in
// each language) reaches each socket in its own language.
func TestRefusalToSeveralSocketsInEachOnesLanguage(t *testing.T) {
	ts := newTestServer(t)
	owner, member := ts.newPersonIn(t, "en-US"), ts.newPersonIn(t, koreanBrowser)
	room := ts.createRoom(t, owner, "Both", 0, "")
	o := ts.dialIn(t, owner, room, "en-US")
	o.waitFor(t, memberPanel)
	ko := ts.dialIn(t, member, room, koreanBrowser)
	ko.waitFor(t, memberPanel)
	en := ts.dialIn(t, member, room, "en-US") // the same person's other tab, in English
	en.waitFor(t, memberPanel)
	o.send(t, map[string]any{"action": "kick", "member": fmt.Sprint(ts.identity(t, member).ID)})
	ko.waitFor(t, "방장이 내보냈습니다. 10분 후에 다시 들어올 수 있습니다.")
	en.waitFor(t, "You were removed by the owner. You can come back in 10 minutes.")
	if strings.Contains(ko.received(), "You were removed") || strings.Contains(en.received(), "방장이") {
		t.Error("a tab was told of its kick in the other tab's language")
	}
	_, koReason := ko.waitClose(t)
	_, enReason := en.waitClose(t)
	if koReason != "방장이 내보냄" || enReason != "removed by the owner" {
		t.Errorf("close reasons %q and %q, want each in its tab's language", koReason, enReason)
	}

	second := ts.newPersonIn(t, koreanBrowser)
	ko2 := ts.dialIn(t, second, room, koreanBrowser)
	ko2.waitFor(t, memberPanel)
	if resp, body := ts.postForm(t, noRedirect(owner), "/rooms/"+room+"/delete", url.Values{"confirm": {"yes"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %s\n%s", resp.Status, body)
	}
	ko2.waitFor(t, "방장이 방을 닫았습니다.")
	o.waitFor(t, "This room was closed by its owner.")
}
