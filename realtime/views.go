package realtime

import (
	"strconv"
	"time"

	"gifchat/components"
	"gifchat/db"
	"gifchat/vocab"
)

// GIFURL is where a stored GIF is served.
func GIFURL(sha string) string { return "/gifs/" + sha + ".gif" }

// PersonView turns an identity into what pages show.
func PersonView(i db.Identity) components.Person {
	return components.Person{ID: i.ID, Name: i.Nickname, Colour: i.Colour}
}

// The mapping from stored rows to the components' view structs lives here, in one place for
// pages and sockets alike.

// PeopleViews turns identities into what pages show.
func PeopleViews(ids []db.Identity) []components.Person {
	out := make([]components.Person, len(ids))
	for i, id := range ids {
		out[i] = PersonView(id)
	}
	return out
}

// MessageView turns a stored message into what the log shows.
func MessageView(m db.Message) components.Message {
	v := components.Message{
		Seq:       m.Seq,
		Kind:      m.Kind,
		Author:    components.Person{ID: m.AuthorID, Name: m.AuthorName, Colour: m.AuthorColour},
		Recipient: components.Person{ID: m.RecipientID, Name: m.RecipientName, Colour: m.RecipientColour},
		Text:      m.Body,
		Notice:    m.Notice,
		Subject:   components.Person{ID: m.SubjectID, Name: m.SubjectName},
		At:        time.UnixMilli(m.CreatedAt),
		Room:      m.RoomID,
		Edited:    m.EditedAt != 0,
		Deleted:   m.Deleted,
		Reactions: ReactionViews(m.Reactions),
	}
	if m.GIF != "" {
		v.GIF = &components.GIF{URL: GIFURL(m.GIF), Width: m.GIFWidth, Height: m.GIFHeight}
	}
	return v
}

// ReactionViews groups an entry's reactions by emoji, in vocab's order, each with who
// reacted (components.WhoList words them).
func ReactionViews(rs []db.Reaction) []components.Reaction {
	var out []components.Reaction
	for _, emoji := range vocab.Reactions {
		var names []string
		ids := " "
		for _, r := range rs {
			if r.Emoji == emoji {
				names = append(names, r.Name)
				ids += strconv.FormatInt(r.IdentityID, 10) + " "
			}
		}
		if len(names) > 0 {
			out = append(out, components.Reaction{Emoji: emoji, Count: len(names), Names: names, Reactors: ids})
		}
	}
	return out
}

// HistoryView is one page of a room's log (oldest first, as the store returns it) with the
// cursor to the page before it: a full page may have older entries, a short one is the
// room's beginning.
func HistoryView(roomID string, page []db.Message, pageSize int) components.History {
	h := components.History{RoomID: roomID, Messages: make([]components.Message, len(page))}
	for i, m := range page {
		h.Messages[i] = MessageView(m)
		h.Messages[i].Controls = true // a page works without JS
	}
	if len(page) > 0 && len(page) == pageSize {
		h.OlderBefore = page[0].Seq
	}
	return h
}

// RoomCardView is a room as the lobby shows it.
func RoomCardView(r db.Room, members int) components.RoomCard {
	return components.RoomCard{
		ID: r.ID, Title: r.Title, Private: r.Private(), Members: members, Capacity: r.Capacity,
		Owner: components.Person{ID: r.OwnerID, Name: r.OwnerName, Colour: r.OwnerColour},
	}
}
