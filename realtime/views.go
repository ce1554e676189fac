package realtime

import (
	"time"

	"gifchat/components"
	"gifchat/db"
)

// GIFURL is where a stored GIF is served.
func GIFURL(sha string) string { return "/gifs/" + sha + ".gif" }

// PersonView turns an identity into what pages show.
func PersonView(i db.Identity) components.Person {
	return components.Person{ID: i.ID, Name: i.Nickname, Colour: i.Colour}
}

// MessageView turns a stored message into what the log shows.
func MessageView(m db.Message) components.Message {
	v := components.Message{
		ID:        m.ID,
		Kind:      m.Kind,
		Author:    components.Person{ID: m.AuthorID, Name: m.AuthorName, Colour: m.AuthorColour},
		Recipient: components.Person{ID: m.RecipientID, Name: m.RecipientName, Colour: m.RecipientColour},
		Text:      m.Body,
		At:        time.UnixMilli(m.CreatedAt),
	}
	if m.GIF != "" {
		v.GIF = &components.GIF{URL: GIFURL(m.GIF), Width: m.GIFWidth, Height: m.GIFHeight}
	}
	return v
}

// MessageViews converts a page of messages.
func MessageViews(ms []db.Message) []components.Message {
	out := make([]components.Message, len(ms))
	for i, m := range ms {
		out[i] = MessageView(m)
	}
	return out
}

// RoomCardView is a room as the lobby shows it.
func RoomCardView(r db.Room, members int) components.RoomCard {
	return components.RoomCard{
		ID: r.ID, Title: r.Title, Private: r.Private(), Members: members, Capacity: r.Capacity,
		Owner: components.Person{ID: r.OwnerID, Name: r.OwnerName, Colour: r.OwnerColour},
	}
}
