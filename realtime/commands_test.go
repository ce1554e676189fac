package realtime

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gifchat/db"

	"github.com/gorilla/websocket"
)

// A whisper whose text is refused (only spaces) used to be answered on the socket's reader
// goroutine, which read the hub's people map while the hub goroutine wrote it for joins and
// leaves: a fatal "concurrent map read and map write" in waiting, which -race reports. Now
// every command is checked and answered on the hub goroutine.
func TestRefusedWhispersWhilePeopleComeAndGo(t *testing.T) {
	e := newEnv(t, Config{LeaveDebounce: time.Millisecond, MaxMessageRunes: 10})
	alice, bob := e.person("alice"), e.person("bob")
	room := e.room(alice, 50, "")
	a := e.dial(alice, room.ID, 0)
	a.waitText(alice.Nickname + " joined")
	b := e.dial(bob, room.ID, 0)
	a.waitText(bob.Nickname + " joined")

	visitors := make([]db.Identity, 6)
	for i := range visitors {
		visitors[i] = e.person(fmt.Sprintf("visitor%d", i))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, v := range visitors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				s := e.dial(v, room.ID, 0)
				s.waitText(`id="members"`)
				s.conn.Close()
				<-s.closed
			}
		}()
	}
	// In rounds, so the refusals' frames stay small enough for the test socket to keep.
	const rounds, perRound = 10, 10
	for r := range rounds {
		for i := range perRound {
			// Blank text to someone present, too long a text to someone coming or going:
			// both refused, both answered with the composer and its whisper mode.
			a.send(fmt.Sprintf(`{"action":"say","text":"   ","to":"%d"}`, bob.ID))
			a.send(fmt.Sprintf(`{"action":"say","text":"%s","to":"%d"}`, "far too long for the limit", visitors[i%len(visitors)].ID))
		}
		want := (r + 1) * perRound
		a.waitFor(fmt.Sprintf("%d refusals of each kind", want), func(string) bool {
			return a.countText("Write something first") == want && a.countText("characters long; the limit is 10") == want
		})
	}
	a.say("done")
	b.waitText("done")
	close(stop)
	wg.Wait()
	for _, m := range b.messages() {
		if m.Kind == "whisper" {
			t.Fatalf("a refused whisper reached bob: %+v", m)
		}
	}
}

func TestOversizedFrameCloses1009(t *testing.T) {
	e := newEnv(t, Config{MaxFrameBytes: 1024})
	alice, bob := e.person("alice"), e.person("bob")
	room := e.room(alice, 10, "")
	a := e.dial(alice, room.ID, 0)
	b := e.dial(bob, room.ID, 0)
	a.waitText(bob.Nickname + " joined")
	a.say(strings.Repeat("x", 2000))
	if code, _ := a.waitClose(); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
	b.say("still here")
	b.waitText("still here")
}
