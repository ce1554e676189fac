package realtime

import (
	"regexp"
	"strings"
	"testing"
)

const (
	wholePanel = `<hx-partial hx-target="#members" hx-swap="outerHTML">`
	itemAdded  = `<hx-partial hx-target="#members" hx-swap="beforeend">`
)

var digestTag = regexp.MustCompile(`id="members-digest" hidden data-digest="([0-9a-z]+)"`)

// lastDigest is the fingerprint the socket's page would now show: the last one it was sent.
func lastDigest(t *testing.T, s *sock) string {
	t.Helper()
	m := digestTag.FindAllStringSubmatch(s.text(), -1)
	if len(m) == 0 {
		t.Fatalf("no members fingerprint received:\n%s", clip(s.text()))
	}
	return m[len(m)-1][1]
}

// A page says which members panel it shows (?panel=): a socket coming back to an unchanged
// room gets no panel, a newcomer whose page is current gets only its own item, and anything
// else (a stale or missing fingerprint) the whole panel. Every fingerprint sent describes
// the panel the page then shows: the same as the whole panel's at that moment.
func TestPanelSentOnlyWhenThePageLacksIt(t *testing.T) {
	e := newEnv(t, Config{})
	owner, bob, carol := e.person("owner"), e.person("bob"), e.person("carol")
	room := e.room(owner, 10, "")
	o := e.dial(owner, room.ID, 0)
	o.waitText(owner.Nickname + " joined")
	if !strings.Contains(o.text(), wholePanel) {
		t.Fatalf("a socket that gave no fingerprint got no panel:\n%s", clip(o.text()))
	}
	b := e.dial(bob, room.ID, 0)
	o.waitText(bob.Nickname + " joined")
	withBob := lastDigest(t, o)
	if withBob != lastDigest(t, b) {
		t.Fatalf("owner's page has fingerprint %s after bob's item, bob's whole panel %s", withBob, lastDigest(t, b))
	}

	// Bob opens a second tab on the panel he shows: nothing to send.
	tab := e.dialShowing(bob, room.ID, o.lastSeq(), withBob)
	o.say("after the tab")
	tab.waitText("after the tab")
	if s := tab.text(); strings.Contains(s, wholePanel) || strings.Contains(s, "members-digest") {
		t.Errorf("a socket whose page shows the room's panel was sent one:\n%s", clip(s))
	}

	// Carol's page was rendered with bob and the owner: she gets her own item only, as
	// everyone else does, and the fingerprint that goes with it.
	c := e.dialShowing(carol, room.ID, 0, withBob)
	o.waitText(carol.Nickname + " joined")
	c.waitFor("carol's own item", func(s string) bool { return strings.Contains(s, itemAdded) && strings.Contains(s, carol.Nickname) })
	if strings.Contains(c.text(), wholePanel) {
		t.Errorf("a newcomer whose page was current got the whole panel:\n%s", clip(c.text()))
	}
	withCarol := lastDigest(t, o)
	if got := lastDigest(t, c); got != withCarol || withCarol == withBob {
		t.Errorf("after carol's join: her page %s, the owner's %s (before: %s)", got, withCarol, withBob)
	}
	fresh := e.dial(carol, room.ID, o.lastSeq())
	fresh.waitFor("the whole panel", func(s string) bool { return strings.Contains(s, wholePanel) })
	if got := lastDigest(t, fresh); got != withCarol {
		t.Errorf("the whole panel's fingerprint %s, the one sent with carol's item %s", got, withCarol)
	}

	// A page that missed a change, or says something that is no fingerprint, gets it all.
	for _, stale := range []string{withBob, "not-a-digest", strings.Repeat("z", 40)} {
		s := e.dialShowing(bob, room.ID, o.lastSeq(), stale)
		s.waitFor("the whole panel", func(s string) bool { return strings.Contains(s, wholePanel) })
		if got := lastDigest(t, s); got != withCarol {
			t.Errorf("panel=%q: sent fingerprint %s, want %s", stale, got, withCarol)
		}
	}

	// A leave: the others' fingerprint follows.
	c.conn.Close()
	fresh.conn.Close()
	o.waitFor("carol leaving", func(s string) bool { return lastDigest(t, o) == withBob })
}

func TestPanelDigestParam(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "3k9x0a": "3k9x0a", "3K9X": "", "abc-1": "", "1234567890abc": "1234567890abc",
		"1234567890abcd": "", "<script>": "",
	} {
		if got := panelDigestParam(in); got != want {
			t.Errorf("panelDigestParam(%q) = %q, want %q", in, got, want)
		}
	}
}
