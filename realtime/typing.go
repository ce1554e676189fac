package realtime

import (
	"context"
	"time"

	"gifchat/components"
	"gifchat/vocab"
)

// "… is typing": a person's typing signal is never stored and never leaves the room; the line
// under the log names who is typing, to everyone but themselves. It goes out at most every
// TypingEvery per person and is gone TypingFor after their last signal or when they send.

// typer is someone typing now.
type typer struct {
	name    string
	started int64 // order of starting, so the line's names keep their order
	sent    time.Time
	expiry  Timer
}

// typingCmd is a person's "I am typing" signal.
type typingCmd struct{}

func (typingCmd) action() string { return vocab.ActionTyping }
func (typingCmd) batched() bool  { return false }

func (typingCmd) run(_ context.Context, h *Hub, from *Client) {
	id := from.identity.ID
	now := h.cfg.Clock.Now()
	t := h.typers[id]
	if t != nil {
		t.expiry.Stop()
	} else {
		h.typingSeq++
		t = &typer{name: from.identity.Nickname, started: h.typingSeq}
		h.typers[id] = t
	}
	t.expiry = h.cfg.Clock.AfterFunc(h.cfg.TypingFor, func() {
		h.do(func() {
			if h.typers[id] == t {
				h.stopTyping(id)
			}
		})
	})
	if now.Sub(t.sent) >= h.cfg.TypingEvery {
		t.sent = now
		h.sendTyping()
	}
}

// stopTyping takes someone off the typing line (they sent, left, or stopped).
func (h *Hub) stopTyping(id int64) {
	t := h.typers[id]
	if t == nil {
		return
	}
	t.expiry.Stop()
	delete(h.typers, id)
	h.sendTyping()
}

// sendTyping sends the typing line: one rendering for those not typing, and one for each
// typer without their own name (at most 1 + typers renderings, never one per socket).
func (h *Hub) sendTyping() {
	ids := make([]int64, 0, len(h.typers))
	for id := range h.typers {
		ids = append(ids, id)
	}
	slicesSortByStart(ids, h.typers)
	names := func(except int64) []string {
		var out []string
		for _, id := range ids {
			if id != except {
				out = append(out, h.typers[id].name)
			}
		}
		return out
	}
	everyone := h.render(components.TypingOOB(components.TypingText(names(0))))
	own := map[int64][]byte{}
	for _, id := range ids {
		own[id] = h.render(components.TypingOOB(components.TypingText(names(id))))
	}
	for id, p := range h.people {
		frag := everyone
		if f, typing := own[id]; typing {
			frag = f
		}
		for c := range p.sockets {
			c.enqueue(frag)
		}
	}
}

func slicesSortByStart(ids []int64, typers map[int64]*typer) {
	for i := 1; i < len(ids); i++ {
		for j := i; j > 0 && typers[ids[j]].started < typers[ids[j-1]].started; j-- {
			ids[j], ids[j-1] = ids[j-1], ids[j]
		}
	}
}
