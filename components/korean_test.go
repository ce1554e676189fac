package components

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"

	"gifchat/i18n"
	"gifchat/vocab"
)

func renderIn(t *testing.T, l i18n.Lang, c templ.Component) string {
	t.Helper()
	var b strings.Builder
	if err := c.Render(i18n.With(context.Background(), l), &b); err != nil {
		t.Fatalf("render in %s: %v", l.Code(), err)
	}
	return b.String()
}

// Hangul names, so that any Latin word left on a Korean page is the page's, not a person's.
var (
	testMina = Person{ID: 1, Name: "미나", Colour: "c1"}
	testJun  = Person{ID: 2, Name: "준", Colour: "c2"}
	testHo   = Person{ID: 3, Name: "호", Colour: "c3"}
)

func testRoomPage() RoomPage {
	at := time.Date(2026, time.May, 1, 15, 4, 0, 0, time.UTC)
	msg := func(seq int64, kind string, author Person, text string) Message {
		return Message{Room: "room0000000000001", Seq: seq, Kind: kind, Author: author, Text: text, At: at, Controls: true}
	}
	edited := msg(2, vocab.KindText, testMina, "수정한 글")
	edited.Edited = true
	deleted := msg(3, vocab.KindText, testJun, "")
	deleted.Deleted = true
	whisper := msg(4, vocab.KindWhisper, testJun, "쉿")
	whisper.Recipient = testMina
	gif := msg(5, vocab.KindGIF, testJun, "")
	gif.GIF = &GIF{URL: "/gifs/x.gif", Width: 10, Height: 10}
	reacted := msg(6, vocab.KindText, testJun, "좋아요")
	reacted.Reactions = []Reaction{{Emoji: "👍", Count: 5, Names: []string{"미나", "준", "호", "가", "나"}, Reactors: " 1 2 3 4 5 "}}
	notice := Message{Seq: 7, Kind: vocab.KindNotice, Notice: vocab.NoticeJoined, Subject: testHo, At: at}
	return RoomPage{
		Me:      testMina,
		Room:    RoomCard{ID: "room0000000000001", Title: "금요일 모임", Private: true, Members: 2, Capacity: 12, Owner: testMina},
		History: History{RoomID: "room0000000000001", OlderBefore: 1, Messages: []Message{msg(1, vocab.KindText, testJun, "안녕하세요"), edited, deleted, whisper, gif, reacted, notice}},
		Members: []Member{{Person: testMina, Owner: true}, {Person: testJun}},
		Bans:    []Person{testHo},
		Form:    MessageForm{RoomID: "room0000000000001", MaxChars: 2000, WhisperTo: &testJun},
		MaxGIF:  5 << 20,
	}
}

func testLobbyPage() LobbyPage {
	return LobbyPage{Me: testMina, Rooms: []RoomCard{
		{ID: "room0000000000001", Title: "금요일 모임", Members: 1, Capacity: 4, Owner: testJun},
		{ID: "room0000000000002", Title: "비밀 모임", Private: true, Members: 2, Capacity: 2, Owner: testHo},
	}}
}

// The pages in Korean say Korean words where the English ones say the contract's words; the
// English words are what DESIGN.md's contract names (the browser suite finds controls by them).
func TestPagesSpeakTheirLanguage(t *testing.T) {
	cases := []struct {
		name   string
		c      templ.Component
		ko, en []string
	}{
		{"lobby", Lobby(testLobbyPage()),
			[]string{`<html lang="ko">`, ">GIF 채팅</h1>", `aria-label="방 목록"`, ">들어가기<", ">제목<", ">정원<", ">비밀번호 (선택)<", ">방 만들기<", ">비공개<", ">가득 참<",
				`방장 <span class="who c2">준</span>`, "정원 4명 중 1명 참여 중", "<title>로비 · GIF 채팅</title>"},
			[]string{`<html lang="en">`, ">GIF chat</h1>", `aria-label="Rooms"`, ">Join<", ">Title<", ">Capacity<", ">Password (optional)<", ">Create room<", ">Private<", ">Full<",
				`by <span class="who c2">준</span>`, "1 of 4 places taken", "<title>Lobby · GIF chat</title>"}},
		{"room list, empty", RoomList(nil),
			[]string{"아직 방이 없습니다"}, []string{"No rooms yet. Create the first one."}},
		{"room", Room(testRoomPage()),
			[]string{">나가기<", `aria-label="메시지"`, ">메시지</label>", ">보내기<", ">GIF 올리기<", `aria-label="참여자"`, `aria-label="준 님에게 귓속말하기"`,
				`aria-label="준 님 내보내기"`, `aria-label="준 님 차단하기"`, `aria-label="호 님 차단 풀기"`, ">방 잠그기<", ">비밀번호 바꾸기<", ">방 삭제<", ">정원 12명<",
				">오후 3:04<", ">(수정됨)<", ">삭제된 메시지입니다<", `준 님이 보낸 GIF`, `<span class="who c1">미나</span> 님에게 귓속말`, `<span class="who c2">준</span> 님에게 귓속말하는 중`,
				`aria-label="👍 반응 남기기"`, `aria-label="반응 추가"`, `aria-label="메시지 수정"`, `aria-label="메시지 삭제"`, ">이전 메시지 불러오기<", "호 님이 들어왔습니다",
				`data-text-new-messages="새 메시지"`, `data-text-reconnecting="연결이 끊겼습니다. 다시 연결하는 중…"`, `data-text-progress="{name} 올리는 중 – {percent}%"`,
				`data-text-too-big="파일 크기가 {size}입니다. GIF는 {max}까지 올릴 수 있습니다."`},
			[]string{">Leave<", `aria-label="Messages"`, ">Message</label>", ">Send<", ">Upload GIF<", `aria-label="Members"`, `aria-label="Whisper to 준"`,
				`aria-label="Kick 준"`, `aria-label="Ban 준"`, `aria-label="Unban 호"`, ">Lock room<", ">Change password<", ">Delete room<", ">12 places<",
				">15:04<", ">(edited)<", ">message deleted<", `alt="GIF from 준"`, `whispers to <span class="who c1">미나</span>`, `Whispering to <span class="who c2">준</span>`,
				`aria-label="React with 👍"`, `aria-label="Add reaction"`, `aria-label="Edit message"`, `aria-label="Delete message"`, ">Load older messages<", "호 joined",
				`data-text-new-messages="New messages"`, `data-text-reconnecting="Connection lost. Reconnecting…"`, `data-text-progress="Uploading {name} – {percent}%"`}},
		{"room, locked, start of the log", OwnerTools(true, true),
			[]string{">방 잠금 풀기<", ">비밀번호 없애기<"}, []string{">Unlock room<", ">Remove password<"}},
		{"history start", HistoryPage(History{RoomID: "r"}),
			[]string{"이 방의 대화는 여기서 시작합니다."}, []string{"This is the beginning of the room."}},
		{"password", PasswordForm(PasswordPage{Me: testMina, Room: testLobbyPage().Rooms[1]}),
			[]string{">비밀번호</label>", ">입장<", "비공개 방입니다"}, []string{">Password</label>", ">Enter<", "This room is private."}},
		{"confirm delete", ConfirmDelete(testMina, testLobbyPage().Rooms[0]),
			[]string{"“금요일 모임” 방을 삭제할까요?", "<title>금요일 모임 삭제 · GIF 채팅</title>", ">취소<"}, []string{"Delete “금요일 모임”?", "<title>Delete 금요일 모임 · GIF chat</title>", ">Cancel<"}},
		{"edit page", EditMessagePage(EditPage{Me: testMina, RoomID: "r", Seq: 1, Text: "글", MaxChars: 2000}),
			[]string{"<h1>메시지 수정</h1>", ">저장<"}, []string{"<h1>Edit message</h1>", ">Save<"}},
		{"room closed", RoomClosedOOB("방이 닫혔습니다."),
			[]string{">로비로 돌아가기<"}, []string{">Back to the lobby<"}},
	}
	for _, c := range cases {
		ko, en := renderIn(t, i18n.Ko, c.c), renderIn(t, i18n.En, c.c)
		for i, want := range c.ko {
			if !strings.Contains(ko, want) {
				t.Errorf("%s in Korean lacks %q", c.name, want)
			}
			if i < len(c.en) && strings.Contains(ko, c.en[i]) {
				t.Errorf("%s in Korean still says %q", c.name, c.en[i])
			}
		}
		for _, want := range c.en {
			if !strings.Contains(en, want) {
				t.Errorf("%s in English lacks %q", c.name, want)
			}
		}
	}
}

var (
	hiddenParts  = regexp.MustCompile(`(?s)<script.*?</script>|<style.*?</style>|<!--.*?-->|<template[^>]*>|</template>`)
	visibleAttr  = regexp.MustCompile(`\s(?:aria-label|title|alt|placeholder|data-text-[a-z-]+)="([^"]*)"`)
	tags         = regexp.MustCompile(`<[^>]*>`)
	placeholders = regexp.MustCompile(`\{[a-z]+\}`)
	latinWord    = regexp.MustCompile(`[A-Za-z]{2,}`)
)

// allowedOnKoreanPages are the Latin words a Korean page may show: the language switch names
// English in English, a GIF is a GIF, and file sizes have their units.
var allowedOnKoreanPages = map[string]bool{"English": true, "GIF": true, "MiB": true, "KiB": true}

// A Korean page has no English left: neither in its text nor in what a screen reader says
// nor in what the scripts will write (the people and rooms here have Hangul names).
func TestKoreanPagesHaveNoEnglish(t *testing.T) {
	for name, c := range map[string]templ.Component{
		"lobby":          Lobby(testLobbyPage()),
		"empty lobby":    Lobby(LobbyPage{Me: testMina}),
		"room":           Room(testRoomPage()),
		"password":       PasswordForm(PasswordPage{Me: testMina, Room: testLobbyPage().Rooms[1], Error: "비밀번호가 틀렸습니다."}),
		"confirm delete": ConfirmDelete(testMina, testLobbyPage().Rooms[0]),
		"edit page":      EditMessagePage(EditPage{Me: testMina, RoomID: "r", Seq: 1, Text: "글", MaxChars: 2000}),
		"error page":     ErrorView(ErrorPage{Me: testMina, Status: 404, Title: "찾을 수 없음", Message: "없는 방입니다."}),
	} {
		page := hiddenParts.ReplaceAllString(renderIn(t, i18n.Ko, c), "")
		var said []string
		for _, m := range visibleAttr.FindAllStringSubmatch(page, -1) {
			said = append(said, m[1])
		}
		said = append(said, tags.ReplaceAllString(page, " "))
		for _, s := range said {
			for _, w := range latinWord.FindAllString(placeholders.ReplaceAllString(s, ""), -1) {
				if !allowedOnKoreanPages[w] {
					t.Errorf("%s in Korean says %q (in %q)", name, w, strings.TrimSpace(s))
				}
			}
		}
	}
}

// missingKey is what a page shows for a message the catalogs lack: its id.
var missingKey = regexp.MustCompile(`\b(?:lobby|room|history|msg|reaction|members|composer|upload|owner|password|delete_room|viewer|gallery)\.[a-z_]+(?:\.[a-z_-]+)*\b`)

// The gallery, every framed page and every state, has every word it asks for in both
// languages, and shows Korean in Korean.
func TestGalleryInBothLanguages(t *testing.T) {
	me := Person{ID: 7, Name: "brisk-otter-17", Colour: "c7"}
	for _, l := range i18n.All {
		pages := map[string]string{"gallery": renderIn(t, l, Gallery(me, true))}
		for _, name := range GalleryFrames {
			if c, ok := GalleryFrame(i18n.With(context.Background(), l), name, me); ok {
				pages[name] = renderIn(t, l, c)
			}
		}
		for name, page := range pages {
			for _, id := range missingKey.FindAllString(hiddenParts.ReplaceAllString(page, ""), -1) {
				if !strings.HasSuffix(id, ".js") && !strings.HasSuffix(id, ".css") && !strings.HasSuffix(id, ".templ") {
					t.Errorf("%s in %s shows the key %q: the catalog lacks it", name, l.Code(), id)
				}
			}
		}
		gallery := pages["gallery"]
		if want := "/dev/components/room?lang=" + l.Code(); !strings.Contains(gallery, `src="`+want+`"`) {
			t.Errorf("the %s gallery does not ask its frames for its language (%s)", l.Code(), want)
		}
	}
	ko := renderIn(t, i18n.Ko, Gallery(me, false))
	for _, want := range []string{"컴포넌트 갤러리", "금요일 움짤 파티", "하루 종일 아무것도 하지 않는 고양이", `href="/dev/components?lang=en"`, `src="/dev/components/room"`} {
		if !strings.Contains(ko, want) {
			t.Errorf("the Korean gallery lacks %q", want)
		}
	}
}

func TestMeCSSSaysYouInTheViewersLanguage(t *testing.T) {
	for l, want := range map[i18n.Lang]string{i18n.En: `content: " (you)";`, i18n.Ko: `content: " (나)";`} {
		var b strings.Builder
		if err := MeCSS(&b, 42, l); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), want) || !strings.Contains(b.String(), `data-author="42"`) {
			t.Errorf("me.css in %s lacks %s:\n%s", l.Code(), want, b.String())
		}
	}
	// A catalog's words cannot end the CSS string or the rule.
	if got, want := cssString("a\"b\\c\n</style>"), `"a\"b\\c\a \3c /style\3e "`; got != want {
		t.Errorf("cssString = %s, want %s", got, want)
	}
}
