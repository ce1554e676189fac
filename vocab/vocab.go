// Package vocab is the words every layer of gifchat shares: the kinds of entry in a room's
// log, the kinds of notice, the actions a browser sends over a room socket, and the kinds of
// room status. Each is defined here once; db stores them, realtime acts on them, components
// render them (as data-kind and class names that app.css and app.js key on), metrics count
// them. It imports nothing, so every package may import it.
package vocab

// Kinds of entry in a room's log (messages.kind, data-kind, the msg-KIND class).
const (
	KindText    = "text"
	KindGIF     = "gif"
	KindWhisper = "whisper"
	KindNotice  = "system" // a notice the server writes; NoticeKind says which
)

// Kinds lists every kind of entry the log shows.
var Kinds = []string{KindText, KindGIF, KindWhisper, KindNotice}

// Kinds of event that change an earlier entry (its TargetSeq) rather than show as one: each
// takes the room's next seq like any entry, so a reconnecting browser replays it in order.
const (
	KindEdit   = "edit"   // the author changed the entry's text
	KindDelete = "delete" // the author (or the room's owner) deleted the entry
	KindReact  = "react"  // someone's reaction to the entry was added or taken back
)

// Events lists every event kind.
var Events = []string{KindEdit, KindDelete, KindReact}

// Reactions is the fixed set people react with, in the order they are shown.
var Reactions = []string{"👍", "❤️", "😂", "😮", "😢", "🎉"}

// Kinds of notice (messages.notice), stored as data with the person they name and put into
// words only when shown, so a page in another language can word them its own way.
const (
	NoticeJoined = "joined" // the subject came in
	NoticeLeft   = "left"   // the subject's last socket went and stayed away
	NoticeKicked = "kicked" // the owner removed the subject
	NoticeOwner  = "owner"  // the subject is the room's owner now
	NoticeClosed = "closed" // the subject (the owner) closed the room
	// The owner's tools; the subject is whom it concerns (the banned person, or the owner).
	NoticeBanned          = "banned"
	NoticeUnbanned        = "unbanned"
	NoticeLocked          = "locked"
	NoticeUnlocked        = "unlocked"
	NoticePasswordChanged = "password-changed"
	NoticePasswordRemoved = "password-removed"
	// NoticeRenamed: the subject took another name. SubjectName is the name before (as for
	// every notice: the name the subject had then) and the entry's text (Body) the name after.
	NoticeRenamed = "renamed"
)

// Notices lists every notice kind.
var Notices = []string{NoticeJoined, NoticeLeft, NoticeKicked, NoticeOwner, NoticeClosed,
	NoticeBanned, NoticeUnbanned, NoticeLocked, NoticeUnlocked, NoticePasswordChanged, NoticePasswordRemoved, NoticeRenamed}

// Actions a browser sends over a room socket, as the "action" field of its JSON frame.
const (
	ActionSay           = "say"            // post text (whispered when "to" is set)
	ActionWhisperTo     = "whisper-to"     // switch the composer to whisper to "to"
	ActionWhisperCancel = "whisper-cancel" // back to speaking to everyone
	ActionKick          = "kick"           // owner: remove "member"
	ActionEdit          = "edit"           // change the text of your entry "seq"
	ActionDelete        = "delete"         // delete entry "seq" (yours, or any as the owner)
	ActionReact         = "react"          // toggle your reaction "emoji" to entry "seq"
	ActionTyping        = "typing"         // you are typing (sent at most every few seconds)
	ActionBan           = "ban"            // owner: remove "member" until the room closes
	ActionUnban         = "unban"          // owner: let "member" back in
	ActionLock          = "lock"           // owner: nobody new may enter
	ActionUnlock        = "unlock"         // owner: open the room again
	ActionPassword      = "password"       // owner: set the password to "text" ("" removes it)
)

// Actions lists every socket action.
var Actions = []string{ActionSay, ActionWhisperTo, ActionWhisperCancel, ActionKick, ActionEdit, ActionDelete, ActionReact, ActionTyping,
	ActionBan, ActionUnban, ActionLock, ActionUnlock, ActionPassword}

// Kinds of room status (the status-KIND class of the line above the log).
const (
	StatusError        = "error"        // an action of yours was refused
	StatusClosed       = "closed"       // the room is gone for you: closed, kicked, refused
	StatusReconnecting = "reconnecting" // set by app.js while the socket is away
)

// Statuses lists every status kind.
var Statuses = []string{StatusError, StatusClosed, StatusReconnecting}
