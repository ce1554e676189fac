package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gifchat/cluster/proctest"
)

// TestClusterChatGoesOnAfterAnInstanceIsKilled (issue 14, item 7): two instances of gifchat
// as real processes on one PostgreSQL and NATS, cmd/proxy in front, two browsers that only
// ever talk to the proxy. They chat across the instances, the instance holding Bob's socket
// is killed with SIGKILL, Bob's page reconnects through the proxy to the other instance on
// its own, and the conversation goes on: both see what is said after the kill, and nothing
// said before it is lost or shown twice.
//
// Landing on different instances: the proxy deals every request (page, script, socket) to
// the instances in turn, so where a browser's socket lands depends on how many requests came
// before. The test does not steer the proxy; it reads where each socket is from the
// connection rows the instances share (proctest's InstanceOf) and, while both are on the same
// instance, reloads Bob's page (with one more request through the proxy every other time, so
// the turn moves on however many requests a page load makes) until his socket is on the other.
func TestClusterChatGoesOnAfterAnInstanceIsKilled(t *testing.T) {
	t.Parallel()
	chromiumPath(t) // skip (or fail under CI) before building anything
	c := proctest.Start(t, proctest.Options{RateLimits: true})
	srv := &testServer{URL: c.URL}
	people := newPeople(t, srv, "ann", "bob")
	ann, bob := people[0], people[1]
	const title = "Across instances"

	ann.open(t, "/")
	ann.inLobby(t)
	ann.createRoom(t, title, "")
	room := eval[string](t, ann, `document.getElementById('room').dataset.room`)
	bob.open(t, "/rooms/"+room)
	bob.inRoom(t, title)
	annName, bobName := ann.nickname(t), bob.nickname(t)
	ann.seesInLog(t, bobName+" joined")
	annID := eval[int64](t, ann, `Number(document.getElementById('room').dataset.me)`)
	bobID := eval[int64](t, bob, `Number(document.getElementById('room').dataset.me)`)

	annOn := socketOn(t, c, room, annID, "")
	bobOn := socketOn(t, c, room, bobID, "")
	reloads := 0
	for try := 1; bobOn == annOn; try++ {
		if try > 8 {
			t.Fatalf("bob's socket stayed on %s, with ann's, over 8 reloads", bobOn)
		}
		if try%2 == 0 {
			resp, err := http.Get(c.URL + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		bob.do(t, "reload the room", chromedp.Reload())
		reloads++
		bob.inRoom(t, title)
		bobOn = socketOn(t, c, room, bobID, "")
	}
	t.Logf("ann's socket is on instance %s, bob's on %s (after %d reloads)", annOn, bobOn, reloads)

	var said []string
	talk := func(p, other *person, text string) {
		t.Helper()
		p.say(t, text, true)
		other.seesInLog(t, text)
		said = append(said, text)
	}
	talk(ann, bob, "Hello Bob, from the other instance")
	talk(bob, ann, "Hello Ann, I hear you across the cluster")
	talk(ann, bob, "Let us see what a crash does")

	lastSeq := eval[int](t, bob, js(`Math.max(...messages().map(m => Number(m.dataset.seq)))`))
	panel := eval[string](t, bob, js(`document.getElementById("members-digest").dataset.digest`))
	c.Instance(bobOn).Kill(t)
	killedAt := time.Now()
	// The page notices its socket is gone and comes back by itself, asking for what came
	// after the last entry it shows, and saying which members panel it shows: htmx retries
	// after about half a second, and the proxy fails over from the dead instance at once.
	socketOn(t, c, room, bobID, annOn)
	t.Logf("bob's page was back, on instance %s, %v after the kill", annOn, time.Since(killedAt).Round(time.Millisecond))
	bob.waitFor(t, "see the reconnecting notice gone", js(`!/reconnecting/i.test(statusText())`))
	if !bob.noted(fmt.Sprintf("websocket ws://%s/rooms/%s/ws?after=%d&panel=%s created", c.Proxy.Addr, room, lastSeq, panel)) {
		t.Errorf("bob's page did not reconnect through the proxy with ?after=%d&panel=%s", lastSeq, panel)
	}

	talk(bob, ann, "Still here, now on the surviving instance")
	talk(ann, bob, "Nothing lost on my side")
	talk(bob, ann, "Nor on mine")

	for _, p := range people {
		order := eval[[]int](t, p, js(`[`+quoteAll(said)+`].map(s => messages().findIndex(m => m.innerText.includes(s)))`))
		counts := eval[[]int](t, p, js(`[`+quoteAll(said)+`].map(s => messages().filter(m => m.innerText.includes(s)).length)`))
		for i := range said {
			if counts[i] != 1 {
				t.Errorf("%s sees %q %d times, want once", p.name, said[i], counts[i])
			}
			if i > 0 && order[i] <= order[i-1] {
				t.Errorf("%s sees %q before %q", p.name, said[i], said[i-1])
			}
		}
		if dups := eval[[]string](t, p, js(`messages().map(m => m.dataset.seq).filter((id, i, all) => all.indexOf(id) !== i)`)); len(dups) > 0 {
			t.Errorf("%s's log shows entries more than once: %v", p.name, dups)
		}
	}

	// Once the dead instance's rows are reaped (lease), Bob is still in the room, on one
	// instance, and nobody was told he left or joined again: he moved, he did not leave.
	lease, debounce := c.Opts.Lease, c.Opts.LeaveDebounce
	deadline := time.Now().Add(lease + debounce + 5*time.Second)
	for !slices.Equal(c.InstanceOf(t, room, bobID), []string{annOn}) {
		if time.Now().After(deadline) {
			t.Fatalf("bob's sockets are on %v %v after the kill, want only %s", c.InstanceOf(t, room, bobID), time.Since(killedAt), annOn)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(debounce + time.Second) // a leave would be announced by now
	for _, p := range people {
		for _, notice := range []string{bobName + " left", annName + " left"} {
			if eval[bool](t, p, js(`logText().includes(`+jsString(notice)+`)`)) {
				t.Errorf("%s sees %q: a move to another instance made a leave", p.name, notice)
			}
		}
		if n := eval[int](t, p, js(`messages().filter(m => m.innerText.includes(`+jsString(bobName+" joined")+`)).length`)); n != 1 {
			t.Errorf("%s sees %q %d times, want once", p.name, bobName+" joined", n)
		}
	}
	talk(ann, bob, fmt.Sprintf("Goodbye, %s", bobName))
	ann.checkConsole(t)
	bob.checkConsole(t)
}

// socketOn waits until the person has exactly one socket in the room, or, with want, one on
// want (a killed instance's row stays until its lease runs out), and returns its instance.
func socketOn(t *testing.T, c *proctest.Cluster, room string, id int64, want string) string {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		on := c.InstanceOf(t, room, id)
		if want == "" && len(on) == 1 {
			return on[0]
		}
		if want != "" && slices.Contains(on, want) {
			return want
		}
		if time.Now().After(deadline) {
			t.Fatalf("person %d has sockets on %v, want one on %q", id, on, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// noted reports whether the person's timeline has an entry ending with what.
func (p *person) noted(what string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.ContainsFunc(p.timeline, func(line string) bool { return strings.HasSuffix(line, what) })
}
