package realtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gifchat/components"
	"gifchat/db"
	"gifchat/vocab"
)

// What a browser asks for over a room socket. A socket's reader only decodes a frame into a
// command (ids parsed once, here) and hands it to the hub; every check and every effect runs
// on the hub's goroutine. Adding an action is one row in actions, one command type with its
// run, and its control in components.

// Frame is what a browser sends over a room socket: htmx 4 serialises the form's fields at
// the top level, merges hx-vals, and adds a "headers" object.
type Frame struct {
	Action  string          `json:"action"`
	Text    string          `json:"text"`
	To      string          `json:"to"`
	Member  string          `json:"member"`
	Seq     string          `json:"seq"`
	Emoji   string          `json:"emoji"`
	Headers json.RawMessage `json:"headers"`
}

// command is one decoded request, run on the hub goroutine.
type command interface {
	// action is the vocab action it came as, for rate limits ("" for none).
	action() string
	// batched reports whether the command joins the next group commit (a message) rather
	// than running on its own, after the messages before it are stored.
	batched() bool
	// run checks and does it; from is the socket it came from, nil for HTTP posts.
	run(ctx context.Context, h *Hub, from *Client)
}

// actions is the one table from a socket action to the decoder of its command.
var actions = map[string]func(Frame) (command, error){
	vocab.ActionSay: func(f Frame) (command, error) {
		to, err := optionalID(f.To)
		return &sayCmd{text: f.Text, to: to}, err
	},
	vocab.ActionWhisperTo: func(f Frame) (command, error) {
		to, err := parseID(f.To)
		return whisperToCmd{to: to}, err
	},
	vocab.ActionWhisperCancel: func(Frame) (command, error) { return whisperCancelCmd{}, nil },
	vocab.ActionKick: func(f Frame) (command, error) {
		member, err := parseID(f.Member)
		return removeCmd{member: member}, err
	},
	vocab.ActionEdit: func(f Frame) (command, error) {
		seq, err := parseID(f.Seq)
		return changeCmd{editCmd{seq: seq, text: f.Text}}, err
	},
	vocab.ActionDelete: func(f Frame) (command, error) {
		seq, err := parseID(f.Seq)
		return changeCmd{deleteCmd{seq: seq}}, err
	},
	vocab.ActionReact: func(f Frame) (command, error) {
		seq, err := parseID(f.Seq)
		if err == nil && !slices.Contains(vocab.Reactions, f.Emoji) {
			return nil, errUnknownReaction
		}
		return changeCmd{reactCmd{seq: seq, emoji: f.Emoji}}, err
	},
	vocab.ActionTyping: func(Frame) (command, error) { return typingCmd{}, nil },
	vocab.ActionBan: func(f Frame) (command, error) {
		member, err := parseID(f.Member)
		return removeCmd{member: member, ban: true}, err
	},
	vocab.ActionUnban: func(f Frame) (command, error) {
		member, err := parseID(f.Member)
		return unbanCmd{member: member}, err
	},
	vocab.ActionLock:     func(Frame) (command, error) { return lockCmd{locked: true}, nil },
	vocab.ActionUnlock:   func(Frame) (command, error) { return lockCmd{locked: false}, nil },
	vocab.ActionPassword: func(f Frame) (command, error) { return passwordCmd{password: f.Text}, nil },
}

// ErrFrame is what every decoding refusal matches (errors.Is); the refusal says why.
var ErrFrame = errors.New("that message could not be read")

// frameRefusal is a frame that could not be read, and why (errors.frame.*).
func frameRefusal(key string, args ...any) *Refusal {
	return &Refusal{Key: "errors.frame." + key, Args: args, kind: ErrFrame}
}

var (
	errUnknownReaction = frameRefusal("unknown_reaction")
	errTextOnly        = refusal("errors.frame.text_only")
)

// DecodeFrame parses one client frame strictly: a UTF-8 JSON object with known fields.
func DecodeFrame(data []byte) (Frame, error) {
	var f Frame
	if !utf8.Valid(data) {
		return f, frameRefusal("not_utf8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &ute):
			return Frame{}, frameRefusal("wrong_type", "Field", ute.Field)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return Frame{}, frameRefusal("unknown_field")
		default:
			return Frame{}, frameRefusal("not_object")
		}
	}
	if dec.More() {
		return Frame{}, frameRefusal("trailing_data")
	}
	return f, nil
}

// decodeCommand turns a client frame into its command. Its errors are refusals that match
// ErrFrame, safe to show the sender.
func decodeCommand(data []byte) (command, error) {
	f, err := DecodeFrame(data)
	if err != nil {
		return nil, err
	}
	decode := actions[f.Action]
	switch {
	case f.Action == "":
		return nil, frameRefusal("no_action")
	case decode == nil:
		return nil, frameRefusal("unknown_action")
	}
	cmd, err := decode(f)
	if errors.Is(err, ErrFrame) {
		return nil, err
	}
	if err != nil {
		return nil, frameRefusal("bad_id")
	}
	return cmd, nil
}

func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, errors.New("bad id")
	}
	return id, nil
}

// optionalID is parseID where "" means none (0).
func optionalID(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	return parseID(s)
}

// receive hands one frame from a socket to its hub (called on the socket's reader).
func (h *Hub) receive(c *Client, data []byte) {
	cmd, err := decodeCommand(data)
	if err != nil {
		cmd = refuseCmd{err}
	}
	h.submit(c, cmd)
}

// dispatch runs one command on the hub goroutine: frames from a socket that has left or
// was kicked are dropped; a socket's action is rate-limited; a command that is not a
// message runs after the messages before it are stored, so effects keep arrival order.
func (h *Hub) dispatch(ctx context.Context, in inbound) {
	if in.from != nil {
		// A stopping room stores what its sockets sent before they went (lastWords): the
		// reader queues its last frames before it leaves, but the hub may see the leave first.
		if !h.attached(in.from) && !(h.draining && in.from.hub == h) {
			return
		}
		if a := in.cmd.action(); a != "" && h.cfg.Hooks.Allow != nil {
			if err := h.cfg.Hooks.Allow(in.from.identity.ID, a); err != nil {
				h.refuseFrame(in.from, err)
				return
			}
		}
	}
	if !in.cmd.batched() {
		h.flush(ctx)
	}
	in.cmd.run(ctx, h, in.from)
}

// sayCmd posts text to the room, or whispers it to one person present.
type sayCmd struct {
	text string // as typed: cleaned on the hub
	to   int64  // whisper recipient; 0 speaks to everyone
}

func (sayCmd) action() string { return vocab.ActionSay }
func (sayCmd) batched() bool  { return true }

func (s *sayCmd) run(_ context.Context, h *Hub, from *Client) {
	text, err := CleanText(s.text, h.cfg.MaxMessageRunes)
	if err != nil {
		h.sendForm(from, components.MessageForm{Text: s.text, Error: Reason(from.lang, err)}, s.to)
		return
	}
	msg := &db.Message{RoomID: h.id, AuthorID: from.identity.ID, Kind: vocab.KindText, Body: text}
	if s.to != 0 {
		switch _, here := h.people[s.to]; {
		case s.to == from.identity.ID:
			h.sendForm(from, components.MessageForm{Text: text, Error: ErrWhisperToSelf.Text(from.lang)}, 0)
			return
		case !here:
			h.sendForm(from, components.MessageForm{Text: text, Error: ErrWhisperGone.Text(from.lang)}, 0)
			return
		}
		msg.Kind, msg.RecipientID = vocab.KindWhisper, s.to
	}
	h.pending = append(h.pending, &pendingMsg{from: from, author: from.identity, msg: msg})
}

// postCmd is a message that did not come from a socket (the no-JS form, a GIF upload).
type postCmd struct {
	author db.Identity
	msg    *db.Message
	done   chan error // told when stored and delivered, or why not
}

func (postCmd) action() string { return "" } // the handler has rate-limited the request
func (postCmd) batched() bool  { return true }

// Whispers posted over HTTP (a GIF in whisper mode) are refused as the socket's are; no
// socket closes for them, so they carry no close code.
var (
	ErrWhisperToSelf = refusal("errors.whisper.self")
	ErrWhisperGone   = refusal("errors.whisper.gone")
)

func (p *postCmd) run(ctx context.Context, h *Hub, _ *Client) {
	p.msg.RoomID, p.msg.AuthorID = h.id, p.author.ID
	if p.msg.Kind == vocab.KindWhisper {
		if _, here := h.people[p.msg.RecipientID]; p.msg.RecipientID == p.author.ID || !here {
			if p.msg.RecipientID == p.author.ID {
				p.done <- ErrWhisperToSelf
			} else {
				p.done <- ErrWhisperGone
			}
			return
		}
	}
	h.postedWithoutSocket(ctx, p.author)
	h.pending = append(h.pending, &pendingMsg{author: p.author, msg: p.msg, done: p.done})
}

// Post stores and delivers a message that did not come from a socket, and waits until it
// is stored and fanned out. The caller has checked Admit.
func (h *Hub) Post(ctx context.Context, author db.Identity, msg *db.Message) error {
	done := make(chan error, 1)
	return h.await(ctx, &postCmd{author: author, msg: msg, done: done}, done)
}

// await queues a command from an HTTP request and waits for its outcome, which the command
// sends on done. Once queued, the outcome is waited for whatever ctx does: the caller must
// know whether, say, its message was stored.
func (h *Hub) await(ctx context.Context, cmd command, done chan error) error {
	select {
	case h.inbox <- inbound{cmd: cmd}:
	case <-h.done:
		return ErrRoomGone
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-h.done:
		select {
		case err := <-done:
			return err
		default:
			return ErrRoomGone // queued after the hub's last look at its inbox: never run
		}
	}
}

// whisperToCmd switches the sender's composer to whisper to someone present.
type whisperToCmd struct{ to int64 }

func (whisperToCmd) action() string { return vocab.ActionWhisperTo }
func (whisperToCmd) batched() bool  { return false }

func (w whisperToCmd) run(_ context.Context, h *Hub, from *Client) {
	switch _, here := h.people[w.to]; {
	case !here:
		h.sendForm(from, components.MessageForm{Error: errNotHere.Text(from.lang)}, 0)
	case w.to == from.identity.ID:
		h.sendForm(from, components.MessageForm{Error: ErrWhisperToSelf.Text(from.lang)}, 0)
	default:
		h.sendForm(from, components.MessageForm{}, w.to)
	}
}

// whisperCancelCmd switches the sender's composer back to the whole room.
type whisperCancelCmd struct{}

func (whisperCancelCmd) action() string { return vocab.ActionWhisperCancel }
func (whisperCancelCmd) batched() bool  { return false }

func (whisperCancelCmd) run(_ context.Context, h *Hub, from *Client) {
	h.sendForm(from, components.MessageForm{}, 0)
}

// refuseCmd answers a frame that could not be read.
type refuseCmd struct{ why error }

func (refuseCmd) action() string { return "" }
func (refuseCmd) batched() bool  { return false }

func (r refuseCmd) run(_ context.Context, h *Hub, from *Client) { h.refuseFrame(from, r.why) }
