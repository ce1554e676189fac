package realtime

import (
	"cmp"
	"context"
	"slices"

	"gifchat/components"
	"gifchat/vocab"
)

// "… is typing": a person's typing signal is never stored and never leaves the room; the line
// under the log names who is typing, to everyone but themselves. The line changes only when
// someone starts or stops: a person's further signals (app.js sends one at most every 3 s
// while they type) only keep them on it, until TypingFor after the last one or until they
// send.

// typer is someone typing now.
type typer struct {
	name    string
	started int64 // order of starting, so the line's names keep their order
	expiry  Timer
}

// typingCmd is a person's "I am typing" signal.
type typingCmd struct{}

func (typingCmd) action() string { return vocab.ActionTyping }
func (typingCmd) batched() bool  { return false }

func (typingCmd) run(_ context.Context, h *Hub, from *Client) {
	h.typing(from.identity.ID, from.identity.Nickname)
	h.publishTyping(from.identity.ID, from.identity.Nickname)
}

// typing puts someone on the typing line, or keeps them on it, for TypingFor.
func (h *Hub) typing(id int64, name string) {
	t := h.typers[id]
	starting := t == nil
	if starting {
		h.typingSeq++
		t = &typer{name: name, started: h.typingSeq}
		h.typers[id] = t
	} else {
		t.expiry.Stop()
	}
	t.expiry = h.cfg.Clock.AfterFunc(h.cfg.TypingFor, func() {
		h.do(func() {
			if h.typers[id] == t {
				h.stopTyping(id)
			}
		})
	})
	if starting {
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
	h.publishTyping(id, "")
}

// sendTyping sends the typing line: one rendering for those not typing, and one for each
// typer without their own name (at most 1 + typers renderings, never one per socket).
func (h *Hub) sendTyping() {
	ids := h.typerIDs()
	names := func(except int64) []string {
		var out []string
		for _, id := range ids {
			if id != except {
				out = append(out, h.typers[id].name)
			}
		}
		return out
	}
	everyone := h.render(components.TypingOOB(names(0)))
	own := map[int64]*frag{}
	for _, id := range ids {
		own[id] = h.render(components.TypingOOB(names(id)))
	}
	for id, p := range h.people {
		frag := everyone
		if f, typing := own[id]; typing {
			frag = f
		}
		for c := range p.sockets {
			c.send(frag)
		}
	}
}

// typingLineFor is the line a newcomer sees at once (someone may be typing as they arrive).
func (h *Hub) typingLineFor(c *Client) {
	if len(h.typers) == 0 {
		return
	}
	var names []string
	for _, id := range h.typerIDs() {
		if id != c.identity.ID {
			names = append(names, h.typers[id].name)
		}
	}
	c.send(h.render(components.TypingOOB(names)))
}

// typerIDs lists who is typing in the order they started.
func (h *Hub) typerIDs() []int64 {
	ids := make([]int64, 0, len(h.typers))
	for id := range h.typers {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b int64) int { return cmp.Compare(h.typers[a].started, h.typers[b].started) })
	return ids
}
