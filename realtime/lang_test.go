package realtime

import (
	"fmt"
	"strings"
	"testing"

	"gifchat/i18n"
)

// Each socket gets the room's fragments in its own language, and a fragment is rendered once
// per language present, not once per recipient: a mixed room costs two renders per message,
// a room read in one language one.
func TestFragmentsInEachReadersLanguage(t *testing.T) {
	e := newEnv(t, Config{})
	alice, bob, carol := e.person("alice"), e.person("bob"), e.person("carol")
	room := e.room(alice, 10, "")
	a := e.dialIn(alice, room.ID, i18n.En)
	a.waitText(alice.Nickname + " joined")
	b := e.dialIn(bob, room.ID, i18n.Ko)
	b.waitText(bob.Nickname + " 님이 들어왔습니다")
	a.waitText(bob.Nickname + " joined")
	c := e.dialIn(carol, room.ID, i18n.Ko)
	c.waitText(carol.Nickname + " 님이 들어왔습니다")
	b.waitText(carol.Nickname + " 님이 들어왔습니다")
	a.waitText(carol.Nickname + " joined")
	if strings.Contains(b.text(), " joined") || strings.Contains(a.text(), "들어왔습니다") {
		t.Fatal("a socket got a notice in the other language")
	}
	e.settle(room.ID)

	before := e.renders.Load()
	const n = 10
	for i := range n {
		a.say(fmt.Sprintf("mixed %02d", i))
	}
	for _, s := range []*sock{a, b, c} {
		s.waitFor("every message", func(string) bool { return len(s.texts("text")) == n })
	}
	e.settle(room.ID)
	// Per message: the entry in English and in Korean, and Alice's composer reset (English).
	if got := e.renders.Load() - before; got != n*3 {
		t.Fatalf("rendered %d times for %d messages to a room read in two languages, want %d", got, n, n*3)
	}
	// The times are in the reader's language too: "오전"/"오후" only in Korean.
	if !strings.Contains(b.text(), "오전") && !strings.Contains(b.text(), "오후") {
		t.Fatalf("the Korean reader's times are not Korean:\n%s", b.text())
	}
	if strings.Contains(a.text(), "오전") || strings.Contains(a.text(), "오후") {
		t.Fatal("the English reader got Korean times")
	}

	// Alice leaves: the room is read in Korean only, and one render per message is back.
	a.conn.Close()
	b.waitText(alice.Nickname + " 님이 나갔습니다")
	e.settle(room.ID)
	before = e.renders.Load()
	for i := range n {
		b.say(fmt.Sprintf("korean %02d", i))
	}
	c.waitFor("Bob's messages", func(string) bool { return len(c.texts("text")) == 2*n })
	b.waitFor("Bob's messages", func(string) bool { return len(b.texts("text")) == 2*n })
	e.settle(room.ID)
	if got := e.renders.Load() - before; got != n*2 {
		t.Fatalf("rendered %d times for %d messages in a room read in Korean only, want %d (one each and a composer reset)", got, n, n*2)
	}
}

// The typing line and a replay come in the reader's language.
func TestTypingAndReplayInReadersLanguage(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, Config{Clock: clock})
	alice, bob := e.person("alice"), e.person("bob")
	room := e.room(alice, 10, "")
	a := e.dialIn(alice, room.ID, i18n.En)
	a.waitText(alice.Nickname + " joined")
	b := e.dialIn(bob, room.ID, i18n.Ko)
	b.waitText(bob.Nickname + " 님이 들어왔습니다")
	a.send(`{"action":"typing"}`)
	b.waitText(alice.Nickname + " 님이 입력 중…")
	a.say("hello")
	b.waitFor("hello", func(string) bool { return len(b.texts("text")) == 1 })

	// A Korean reader coming back gets what they missed in Korean.
	late := e.dialWith(bob, room.ID, 0, "", i18n.Ko)
	late.waitText(alice.Nickname + " 님이 들어왔습니다")
	if strings.Contains(late.text(), " joined") {
		t.Fatalf("the replay mixed in English:\n%s", late.text())
	}
}
