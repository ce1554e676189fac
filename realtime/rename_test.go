package realtime

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"gifchat/db"
	"gifchat/vocab"
)

// A rename waits for the one before it: a name being taken in a room cannot be taken there
// by someone else meanwhile, even before the first is stored.
func TestRenameWaitsForTheRenameBeforeIt(t *testing.T) {
	e := newEnv(t, Config{})
	alice, bob := e.person("alice"), e.person("bob")
	room := e.room(alice, 10, "")
	a := e.dial(alice, room.ID, 0)
	e.dial(bob, room.ID, 0)
	a.waitText(`data-member="` + strconv.FormatInt(bob.ID, 10))
	ctx := context.Background()

	saving, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		to := alice
		to.Nickname = "Zed"
		first <- e.rooms.Rename(ctx, to, func(ctx context.Context) error {
			close(saving)
			<-release
			return e.store.RenameIdentity(ctx, to.ID, to.Nickname, to.Colour)
		})
	}()
	<-saving
	second := make(chan error, 1)
	go func() {
		to := bob
		to.Nickname = "zed"
		second <- e.rooms.Rename(ctx, to, func(ctx context.Context) error {
			return e.store.RenameIdentity(ctx, to.ID, to.Nickname, to.Colour)
		})
	}()
	select {
	case err := <-second:
		t.Fatalf("bob's rename to zed finished (%v) while alice's to Zed was being stored", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("alice's rename: %v", err)
	}
	var taken *NameTaken
	if err := <-second; !errors.As(err, &taken) || taken.Name != "zed" || len(taken.Rooms) != 1 || taken.Rooms[0] != room.Title {
		t.Fatalf("bob's rename: %v, want the name taken in %q", err, room.Title)
	}
	if got, _ := e.store.IdentityByID(ctx, bob.ID); got.Nickname != bob.Nickname {
		t.Errorf("bob's refused rename was stored: %q", got.Nickname)
	}
}

// Someone whose identity was read before their rename was stored (a post or a socket in
// flight) is shown, and their message stored, under the new name.
func TestArrivalAfterARenameTakesTheNewName(t *testing.T) {
	e := newEnv(t, Config{})
	alice, bob := e.person("alice"), e.person("bob")
	room := e.room(bob, 10, "")
	b := e.dial(bob, room.ID, 0)
	b.waitText(`data-member="` + strconv.FormatInt(bob.ID, 10))
	ctx := context.Background()

	stale := alice
	to := alice
	to.Nickname, to.Colour = "Alicia", "c5"
	if err := e.rooms.Rename(ctx, to, func(ctx context.Context) error {
		return e.store.RenameIdentity(ctx, to.ID, to.Nickname, to.Colour)
	}); err != nil {
		t.Fatal(err)
	}
	msg := &db.Message{Kind: vocab.KindText, Body: "posted with an old identity"}
	if err := e.rooms.Hub(room.ID).Post(ctx, stale, msg); err != nil {
		t.Fatal(err)
	}
	b.waitText("posted with an old identity")
	if txt := b.text(); strings.Contains(txt, ">"+alice.Nickname+"<") || !strings.Contains(txt, `<span class="msg-author who c5">Alicia</span>`) {
		t.Errorf("bob's page shows the old name, or not the new one:\n%s", clip(txt))
	}
	stored, err := e.store.MessageBySeq(ctx, room.ID, msg.Seq)
	if err != nil || stored.AuthorName != "Alicia" || stored.AuthorColour != "c5" {
		t.Errorf("stored under %q %q (%v), want Alicia c5", stored.AuthorName, stored.AuthorColour, err)
	}
	for _, m := range e.rooms.Hub(room.ID).Members() {
		if m.ID == alice.ID && (m.Name != "Alicia" || m.Colour != "c5") {
			t.Errorf("the members panel holds alice as %q %q", m.Name, m.Colour)
		}
	}
}
