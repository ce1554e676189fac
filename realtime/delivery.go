package realtime

import (
	"context"

	"github.com/a-h/templ"

	"gifchat/components"
	"gifchat/db"
	"gifchat/i18n"
	"gifchat/vocab"
)

// Delivery: a message is stored (which gives it the room's next seq), rendered once, and the
// same bytes are queued to every socket that may see it, in seq order.

// pendingMsg is a message accepted by the hub and waiting for the next group commit.
type pendingMsg struct {
	from   *Client     // the sending socket, whose composer is reset; nil for HTTP posts
	author db.Identity // the session's identity, never a form field
	msg    *db.Message
	done   chan error // HTTP posts: told when stored and delivered, or why not
}

// flush stores the pending messages in one transaction, then renders each once and hands
// the same bytes to every socket that may see it.
func (h *Hub) flush(ctx context.Context) {
	if len(h.pending) == 0 {
		return
	}
	batch := h.pending
	h.pending = nil
	if h.closed && !h.draining { // removed; a stopping server's room still stores (lastWords)
		for _, p := range batch {
			p.finish(ErrRoomGone)
		}
		return
	}
	msgs := make([]*db.Message, len(batch))
	for i, p := range batch {
		h.stampNames(p)
		msgs[i] = p.msg
	}
	if err := h.rooms.insert(ctx, msgs); err != nil {
		h.log.Error("persist messages", "err", err, "count", len(msgs))
		for _, p := range batch {
			if p.from != nil {
				h.sendForm(p.from, components.MessageForm{Text: p.msg.Body, Error: errNotSaved.Text(p.from.lang)}, p.msg.RecipientID)
			}
			p.finish(err)
		}
		return
	}
	for _, p := range batch {
		if _, typing := h.typers[p.author.ID]; typing {
			h.stopTyping(p.author.ID) // the line goes before the message arrives
		}
		h.fanOut(*p.msg)
		if p.from != nil {
			h.sendForm(p.from, components.MessageForm{}, p.msg.RecipientID)
		}
		p.finish(nil)
	}
}

func (p *pendingMsg) finish(err error) {
	if p.done != nil {
		p.done <- err
	}
}

// notice stores a notice naming subject and delivers it to everyone (on the hub goroutine),
// after whatever was queued for the next group commit.
func (h *Hub) notice(ctx context.Context, kind string, subject db.Identity) {
	h.flush(ctx)
	msg := noticeOf(h.id, kind, subject)
	if err := h.rooms.insert(ctx, []*db.Message{msg}); err != nil {
		h.log.Error("persist notice", "err", err, "notice", kind)
		return
	}
	h.fanOut(*msg)
}

// queueNotice puts a notice into the next group commit instead of storing it now: a join's
// notice is no message anyone waits to see acknowledged, and a crowd coming in together
// (a full room opening, a storm of fresh joins) shares commits instead of queueing one
// commit per person on the room's goroutine. The hub flushes once it has nothing else
// ready (run); a notice stored right away (notice) goes after it, so the log keeps the
// order things happened in.
func (h *Hub) queueNotice(kind string, subject db.Identity) {
	h.pending = append(h.pending, &pendingMsg{msg: noticeOf(h.id, kind, subject)})
}

func noticeOf(room, kind string, subject db.Identity) *db.Message {
	return &db.Message{RoomID: room, Kind: vocab.KindNotice, Notice: kind, SubjectID: subject.ID, SubjectName: subject.Nickname}
}

// fanOut renders a stored message once, under the names stored with it (stampNames), and
// queues the bytes for everyone who may see it.
func (h *Hub) fanOut(m db.Message) {
	if m.GIF != "" && m.GIFWidth == 0 {
		if full, err := h.rooms.store.MessageByID(context.Background(), m.ID); err == nil {
			m = full
		}
	}
	if h.cfg.Hooks.Message != nil {
		h.cfg.Hooks.Message(m.Kind)
	}
	if h.draining {
		return
	}
	f := h.render(components.MessageOOB(MessageView(m)))
	if h.rooms.clustered() && m.Seq <= h.delivered {
		// Delivered here already: committed off this goroutine (the settler's notices), it
		// was overtaken by a later entry whose gap fill read it from the database. The other
		// instances may not have it yet, so it is still published.
		h.logged(m.Seq, f, audienceOf(m))
		return
	}
	h.catchUp(m.Seq - 1) // in a cluster, what other instances committed before it goes first
	h.deliverTo(f, audienceOf(m), m.Seq)
	h.logged(m.Seq, f, audienceOf(m))
}

// deliverTo queues the fragment of the log's entry seq for the audience's sockets here (nil:
// everyone's). A socket that already has seq (in a cluster, its page or replay may show
// entries not yet delivered here) is skipped.
func (h *Hub) deliverTo(frag *frag, audience []int64, seq int64) {
	send := func(c *Client) {
		if seq > c.has {
			c.send(frag)
		}
	}
	if audience != nil {
		for _, id := range audience {
			if p := h.people[id]; p != nil {
				for c := range p.sockets {
					send(c)
				}
			}
		}
		return
	}
	h.eachSocket(send)
}

// sendForm resets or re-shows one socket's composer; whisperTo (if present) keeps whisper
// mode on.
func (h *Hub) sendForm(c *Client, f components.MessageForm, whisperTo int64) {
	if h.draining {
		return
	}
	f.RoomID, f.MaxChars = h.id, h.cfg.MaxMessageRunes
	if p := h.people[whisperTo]; whisperTo != 0 && p != nil {
		who := PersonView(p.identity)
		f.WhisperTo = &who
	}
	c.send(h.render(components.ComposerOOB(f)))
}

// errNotSaved is a message the database would not take.
var errNotSaved = refusal("errors.message.not_saved")

// refuseFrame tells one socket why what it sent was not done, in its language.
func (h *Hub) refuseFrame(c *Client, why error) {
	if h.draining {
		return
	}
	c.send(h.render(components.RoomStatusOOB(vocab.StatusError, Reason(c.lang, why))))
}

// render prepares a component for its recipients: it is rendered once per language they read,
// when the first of them needs it, and the bytes are shared by all who read that language.
func (h *Hub) render(c templ.Component) *frag {
	return &frag{comp: c, render: h.renderIn}
}

func (h *Hub) renderIn(l i18n.Lang, c templ.Component) []byte {
	b, err := renderIn(l, c)
	if err != nil {
		h.log.Error("render", "err", err)
		return nil
	}
	if h.cfg.Hooks.Render != nil {
		h.cfg.Hooks.Render()
	}
	return b
}
