package realtime

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"gifchat/db"
	"gifchat/vocab"
)

// lastSeq is the newest entry a socket has seen.
func (s *sock) lastSeq() int64 {
	msgs := s.messages()
	if len(msgs) == 0 {
		return 0
	}
	return msgs[len(msgs)-1].ID
}

// change sends an edit, delete or react frame.
func (s *sock) change(action string, seq int64, text, emoji string) {
	s.t.Helper()
	s.send(fmt.Sprintf(`{"action":%q,"seq":"%d","text":%q,"emoji":%q,"headers":{}}`, action, seq, text, emoji))
}

// replaced is the fragment that put entry seq's new state in place, the last one received.
func (s *sock) replaced(seq int64) string {
	txt := s.text()
	marker := fmt.Sprintf(`<hx-partial hx-target="#msg-%d" hx-swap="outerHTML">`, seq)
	i := strings.LastIndex(txt, marker)
	if i < 0 {
		return ""
	}
	rest := txt[i:]
	return rest[:strings.Index(rest, "</hx-partial>")]
}

func (e *testEnv) entry(room string, seq int64) db.Message {
	e.t.Helper()
	m, err := e.store.MessageBySeq(context.Background(), room, seq)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

func TestEditOwnMessageWithinTheWindow(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, Config{Clock: clock, EditWindow: 15 * time.Minute, MaxMessageRunes: 20})
	alice, bob := e.person("alice"), e.person("bob")
	room := e.room(alice, 10, "")
	a := e.dial(alice, room.ID, 0)
	b := e.dial(bob, room.ID, 0)
	a.waitText(bob.Nickname + " joined")
	a.say("helo")
	b.waitText("helo")
	seq := b.lastSeq()

	b.change(vocab.ActionEdit, seq, "mine now", "")
	b.waitText("You can only change your own messages.")
	a.change(vocab.ActionEdit, seq, "   ", "")
	a.waitText("Write something first")
	a.change(vocab.ActionEdit, seq, strings.Repeat("x", 21), "")
	a.waitText("the limit is 20")
	a.change(vocab.ActionEdit, 1, "a notice", "") // seq 1 is alice's join notice
	a.waitText("Only text messages can be edited.")

	e.settle(room.ID) // everything before (the form resets) is rendered
	before := e.renders.Load()
	a.change(vocab.ActionEdit, seq, "hello", "")
	for _, s := range []*sock{a, b} {
		s.waitFor("the edited message in place", func(string) bool { return strings.Contains(s.replaced(seq), "hello") })
	}
	for _, s := range []*sock{a, b} {
		if got := s.replaced(seq); !strings.Contains(got, `<p class="msg-text" dir="auto">hello</p>`) || !strings.Contains(got, "(edited)") {
			t.Errorf("the edit as shown: %s", got)
		}
	}
	if n := e.renders.Load() - before; n != 1 {
		t.Errorf("an edit seen by 2 sockets was rendered %d times, want once", n)
	}
	if m := e.entry(room.ID, seq); m.Body != "hello" || m.EditedAt == 0 {
		t.Errorf("stored after the edit: %q edited %d", m.Body, m.EditedAt)
	}
	// Past the window it stays as it is.
	clock.Advance(15*time.Minute + time.Second)
	a.change(vocab.ActionEdit, seq, "too late", "")
	a.waitText("Messages can be edited for 15 minutes after sending.")
	if m := e.entry(room.ID, seq); m.Body != "hello" {
		t.Errorf("an edit past the window was stored: %q", m.Body)
	}
}

func TestDeleteRules(t *testing.T) {
	e := newEnv(t, Config{})
	alice, bob, carol := e.person("alice"), e.person("bob"), e.person("carol")
	room := e.room(alice, 10, "") // alice owns it
	a := e.dial(alice, room.ID, 0)
	b := e.dial(bob, room.ID, 0)
	c := e.dial(carol, room.ID, 0)
	a.waitText(bob.Nickname + " joined") // the handshake returns before the join is done
	a.waitText(carol.Nickname + " joined")
	b.say("words of bob")
	a.waitText("words of bob")
	bobs := a.lastSeq()
	c.waitText("words of bob")
	c.send(fmt.Sprintf(`{"action":"say","text":"psst bob","to":"%d"}`, bob.ID))
	b.waitText("psst bob")
	whisper := b.lastSeq()

	c.change(vocab.ActionDelete, bobs, "", "")
	c.waitText("You can only delete your own messages.")
	a.change(vocab.ActionDelete, whisper, "", "") // the owner cannot see it, so cannot delete it
	a.waitText("That message is no longer there.")
	b.change(vocab.ActionDelete, whisper, "", "") // its recipient is not its sender
	b.waitText("You can only delete your own messages.")
	a.change(vocab.ActionDelete, 1, "", "")
	a.waitText("Notices cannot be deleted.")

	a.change(vocab.ActionDelete, bobs, "", "") // the owner deletes anyone's
	for _, s := range []*sock{a, b, c} {
		s.waitFor("bob's message deleted", func(string) bool { return strings.Contains(s.replaced(bobs), "message deleted") })
	}
	if m := e.entry(room.ID, bobs); !m.Deleted || m.Body != "" {
		t.Errorf("stored after delete: %+v", m)
	}
	c.change(vocab.ActionDelete, whisper, "", "")
	b.waitFor("the whisper deleted", func(string) bool { return strings.Contains(b.replaced(whisper), "message deleted") })
	c.waitFor("the whisper deleted", func(string) bool { return strings.Contains(c.replaced(whisper), "message deleted") })
	a.say("sync")
	a.waitText("sync")
	if strings.Contains(a.text(), fmt.Sprintf(`#msg-%d"`, whisper)) {
		t.Error("the owner was told about a whisper between two others")
	}
	// Gone is gone: no edit, no reaction, no second delete.
	b.change(vocab.ActionReact, bobs, "", "👍")
	b.waitText("That message is no longer there.")
}

func TestReactionsToggleAndCount(t *testing.T) {
	e := newEnv(t, Config{})
	alice, bob, carol := e.person("alice"), e.person("bob"), e.person("carol")
	room := e.room(alice, 10, "")
	a := e.dial(alice, room.ID, 0)
	b := e.dial(bob, room.ID, 0)
	c := e.dial(carol, room.ID, 0)
	a.waitText(bob.Nickname + " joined") // the handshake returns before the join is done
	a.waitText(carol.Nickname + " joined")
	a.say("react to me")
	c.waitText("react to me")
	seq := c.lastSeq()

	e.settle(room.ID) // everything before (alice's form reset) is rendered
	before := e.renders.Load()
	b.change(vocab.ActionReact, seq, "", "👍")
	a.waitFor("bob's 👍", func(string) bool { return strings.Contains(a.replaced(seq), `React with 👍`) })
	c.change(vocab.ActionReact, seq, "", "👍")
	a.waitFor("two 👍", func(string) bool {
		return strings.Contains(a.replaced(seq), fmt.Sprintf(`data-reactors=" %d %d "`, bob.ID, carol.ID))
	})
	got := a.replaced(seq)
	if !strings.Contains(got, `title="`+bob.Nickname+" and "+carol.Nickname+`"`) || !strings.Contains(got, `<span class="reaction-count">2</span>`) {
		t.Errorf("two reactions shown as: %s", got)
	}
	if n := e.renders.Load() - before; n != 2 {
		t.Errorf("2 reactions seen by 3 sockets were rendered %d times, want 2", n)
	}
	b.change(vocab.ActionReact, seq, "", "👍") // taken back
	a.waitFor("one 👍 left", func(string) bool {
		return strings.Contains(a.replaced(seq), fmt.Sprintf(`data-reactors=" %d "`, carol.ID))
	})
	b.change(vocab.ActionReact, seq, "", "💩")
	b.waitText("unknown reaction")
	if m := e.entry(room.ID, seq); len(m.Reactions) != 1 || m.Reactions[0].IdentityID != carol.ID {
		t.Errorf("stored reactions: %+v", m.Reactions)
	}
}

func TestTypingLine(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, Config{Clock: clock, TypingFor: 5 * time.Second})
	alice, bob, carol := e.person("alice"), e.person("bob"), e.person("carol")
	room := e.room(alice, 10, "")
	a := e.dial(alice, room.ID, 0)
	b := e.dial(bob, room.ID, 0)
	c := e.dial(carol, room.ID, 0)
	a.waitText(bob.Nickname + " joined") // the handshake returns before the join is done
	a.waitText(carol.Nickname + " joined")
	typing := `{"action":"typing","seq":"","emoji":"","text":""}`
	line := func(s string) string {
		return `<hx-partial hx-target="#typing" hx-swap="innerHTML">` + s + `</hx-partial>`
	}

	b.send(typing)
	a.waitText(line(bob.Nickname + " is typing…"))
	c.waitText(line(bob.Nickname + " is typing…"))
	c.send(typing)
	a.waitText(line(bob.Nickname + " and " + carol.Nickname + " are typing…"))
	b.waitText(line(carol.Nickname + " is typing…"))
	c.waitText(line(bob.Nickname + " is typing…"))
	if strings.Contains(b.text(), line(bob.Nickname+" is typing…")) || strings.Contains(b.text(), "and "+carol.Nickname) {
		t.Errorf("bob was shown his own typing:\n%s", clip(b.text()))
	}
	// Someone already on the line who signals again changes nothing: nothing is rendered or
	// sent, and they stay on it TypingFor from this signal.
	e.settle(room.ID)
	before := e.renders.Load()
	clock.Advance(3 * time.Second)
	b.send(typing)
	e.settle(room.ID)
	if n := e.renders.Load() - before; n != 0 {
		t.Errorf("a signal from someone already typing was rendered %d times, want 0", n)
	}
	clock.Advance(time.Second) // 4 s after both started: carol's line lasts to 5 s, bob's to 8 s
	e.settle(room.ID)
	// A newcomer sees at once who is typing.
	dave := e.person("dave")
	d := e.dial(dave, room.ID, 0)
	d.waitText(line(bob.Nickname + " and " + carol.Nickname + " are typing…"))
	// Sending ends typing at once, before the message arrives.
	b.say("done typing")
	a.waitText("done typing")
	txt := a.text()
	if i, j := strings.LastIndex(txt, line(carol.Nickname+" is typing…")), strings.Index(txt, "done typing"); i < 0 || i > j {
		t.Errorf("bob's line did not go before his message:\n%s", clip(txt))
	}
	// TypingFor after carol's last signal, her line goes too.
	clock.Advance(5 * time.Second)
	e.settle(room.ID)
	a.waitFor("nobody typing", func(txt string) bool { return strings.HasSuffix(strings.TrimSpace(txt), line("")) })
}

// A browser that was away gets the edits, deletions and reactions it missed, in their latest
// state, once each, after the entries it missed.
func TestReconnectReplaysChanges(t *testing.T) {
	e := newEnv(t, Config{LeaveDebounce: time.Minute})
	alice, bob := e.person("alice"), e.person("bob")
	room := e.room(alice, 10, "")
	a := e.dial(alice, room.ID, 0)
	b := e.dial(bob, room.ID, 0)
	a.waitText(bob.Nickname + " joined")
	a.say("first")
	a.say("second")
	b.waitText("second")
	first, second := b.lastSeq()-1, b.lastSeq()
	b.conn.Close()

	a.change(vocab.ActionEdit, first, "first, edited", "")
	a.waitFor("the edit", func(string) bool { return strings.Contains(a.replaced(first), "first, edited") })
	a.change(vocab.ActionReact, first, "", "🎉")
	a.waitFor("the reaction", func(string) bool { return strings.Contains(a.replaced(first), "🎉") })
	a.change(vocab.ActionDelete, second, "", "")
	a.waitFor("the deletion", func(string) bool { return strings.Contains(a.replaced(second), "message deleted") })
	a.say("third")
	a.waitText("third")

	b2 := e.dial(bob, room.ID, second)
	b2.waitText("third")
	got := b2.text()
	if n := strings.Count(got, fmt.Sprintf(`hx-target="#msg-%d"`, first)); n != 1 {
		t.Errorf("the changed first entry was put in place %d times, want once:\n%s", n, clip(got))
	}
	if r := b2.replaced(first); !strings.Contains(r, "first, edited") || !strings.Contains(r, "(edited)") || !strings.Contains(r, "🎉") {
		t.Errorf("the first entry after the reconnect: %s", r)
	}
	if r := b2.replaced(second); !strings.Contains(r, "message deleted") {
		t.Errorf("the second entry after the reconnect: %s", r)
	}
	if i, j := strings.Index(got, ">third<"), strings.Index(got, fmt.Sprintf(`hx-target="#msg-%d"`, first)); i < 0 || j < i {
		t.Errorf("the changes came before the new entry they follow in the log:\n%s", clip(got))
	}
}
