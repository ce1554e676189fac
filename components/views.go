// Package components holds gifchat's templ components. Components are pure functions of the
// plain view structs below; they import neither db nor handlers.
package components

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"io"
	"strconv"
	"time"

	"gifchat/vocab"
)

// Person is someone as the page shows them: a generated nickname and a palette colour class.
type Person struct {
	ID     int64
	Name   string
	Colour string
}

// RoomCard is one room in the lobby list.
type RoomCard struct {
	ID       string
	Title    string
	Private  bool
	Members  int
	Capacity int
	Owner    Person
}

// Full reports whether every place is taken.
func (r RoomCard) Full() bool { return r.Members >= r.Capacity }

// CreateRoomForm is the lobby's create form with what the user typed and the reasons it was
// refused, keyed by field name ("title", "capacity", "password", "form"). The password is
// never echoed back.
type CreateRoomForm struct {
	Title    string
	Capacity string
	Errors   map[string]string
}

// LobbyPage is everything the lobby renders.
type LobbyPage struct {
	Me    Person
	Rooms []RoomCard
	Form  CreateRoomForm
}

// GIF is an image message's file.
type GIF struct {
	URL    string
	Width  int
	Height int
}

// Message is one entry of a room's log. Seq is its place in the room's log: its DOM id
// (msg-SEQ) and data-seq, which app.js sends back as the reconnect cursor. Kind is one of
// vocab's kinds; a notice has Notice (vocab's notice kinds) and the Subject it names, and is
// put into words by NoticeText (Text only for notices older than notice kinds).
//
// Edited and Deleted are the entry's latest state; Reactions its reactions, in vocab's order.
type Message struct {
	Room      string
	Seq       int64
	Kind      string
	Author    Person
	Recipient Person
	Text      string
	GIF       *GIF
	Notice    string
	Subject   Person
	At        time.Time
	Edited    bool
	Deleted   bool
	Reactions []Reaction
	// Controls renders the edit and delete forms in the entry (pages, which work without JS);
	// live fragments leave them to app.js.
	Controls bool
}

// Reaction is one emoji's reactions to an entry: how many, who (Names, worded by WhoList as
// "A, B and 3 others"), and their ids as " 3 7 " (Reactors), for app.js to mark the viewer's
// own as pressed.
type Reaction struct {
	Emoji    string
	Count    int
	Names    []string
	Reactors string
}

// Member is someone present in a room.
type Member struct {
	Person
	Owner bool
}

// MembersDigest is a fingerprint of the members panel: who is in it, in order, under which
// name and colour, and who owns the room. It is what the panel's HTML is made of besides the
// language, which a socket shares with the page it belongs to.
func MembersDigest(ownerID int64, members []Member) string {
	h := fnv.New64a()
	var n [8]byte
	num := func(v int64) {
		binary.LittleEndian.PutUint64(n[:], uint64(v))
		h.Write(n[:])
	}
	num(ownerID)
	for _, m := range members {
		num(m.ID)
		num(int64(len(m.Name)))
		io.WriteString(h, m.Name)
		num(int64(len(m.Colour)))
		io.WriteString(h, m.Colour)
		if m.Owner {
			h.Write([]byte{1})
		} else {
			h.Write([]byte{0})
		}
	}
	return strconv.FormatUint(h.Sum64(), 36)
}

// MessageForm is the room's composer: the text being written, a refusal reason, the person
// it whispers to, if any, and the longest message the server takes (the input's maxlength).
type MessageForm struct {
	RoomID    string
	Text      string
	Error     string
	WhisperTo *Person
	MaxChars  int
}

// History is one page of a room's log with the cursor for the page before it.
type History struct {
	RoomID   string
	Messages []Message
	// OlderBefore is the seq to page back from; 0 means the log starts here.
	OlderBefore int64
}

// LastSeq is the newest seq the page shows (0 for an empty log): the socket's first cursor.
func (h History) LastSeq() int64 {
	if len(h.Messages) == 0 {
		return 0
	}
	return h.Messages[len(h.Messages)-1].Seq
}

// RoomPage is everything the room page renders. Locked and Bans are for the owner's tools
// (shown to the owner by me.css).
type RoomPage struct {
	Locked    bool
	Bans      []Person
	Me        Person
	Room      RoomCard
	History   History
	Members   []Member
	Form      MessageForm
	MaxGIF    int64
	ConnectTo string
}

// EditPage is the no-JS edit form for one of my messages, with the text and any refusal.
type EditPage struct {
	Me       Person
	RoomID   string
	Seq      int64
	Text     string
	Error    string
	MaxChars int
}

// PasswordPage asks for a private room's password.
type PasswordPage struct {
	Me    Person
	Room  RoomCard
	Error string
}

// ErrorPage is a whole-page refusal (404, full, barred, ...).
type ErrorPage struct {
	Me      Person
	Status  int
	Title   string
	Message string
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func roomDOMID(id string) string { return "room-" + id }

func msgDOMID(seq int64) string { return "msg-" + strconv.FormatInt(seq, 10) }

func roomURL(id string) string { return "/rooms/" + id }

func messageURL(room string, seq int64) string { return roomURL(room) + "/messages/" + itoa(seq) }

// NoticeText puts a notice into words, in the language the context renders in.
func NoticeText(ctx context.Context, m Message) string {
	switch m.Notice {
	case vocab.NoticeJoined, vocab.NoticeLeft, vocab.NoticeKicked, vocab.NoticeOwner, vocab.NoticeClosed,
		vocab.NoticeBanned, vocab.NoticeUnbanned, vocab.NoticeLocked, vocab.NoticeUnlocked,
		vocab.NoticePasswordChanged, vocab.NoticePasswordRemoved:
		return t(ctx, "notice."+m.Notice, "Name", m.Subject.Name)
	case vocab.NoticeRenamed:
		// The name before is the subject's (the name they had then), the name after the text.
		return t(ctx, "notice.renamed", "Name", m.Subject.Name, "New", m.Text)
	}
	return m.Text
}

// TypingText words who is typing: "A is typing…", "A and B are typing…", "A, B and 3 others
// are typing…", or nothing.
func TypingText(ctx context.Context, names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return t(ctx, "typing.one", "A", names[0])
	case 2:
		return t(ctx, "typing.two", "A", names[0], "B", names[1])
	case 3:
		return t(ctx, "typing.three", "A", names[0], "B", names[1], "C", names[2])
	}
	return t(ctx, "typing.more", "A", names[0], "B", names[1], "Count", len(names)-2)
}

// WhoList names up to three people, then counts the rest: "A", "A and B", "A, B and C",
// "A, B and 3 others".
func WhoList(ctx context.Context, names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	case 2:
		return t(ctx, "who.two", "A", names[0], "B", names[1])
	case 3:
		return t(ctx, "who.three", "A", names[0], "B", names[1], "C", names[2])
	}
	return t(ctx, "who.more", "A", names[0], "B", names[1], "Count", len(names)-2)
}
