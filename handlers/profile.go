package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"gifchat/components"
	"gifchat/i18n"
	"gifchat/realtime"
)

// A name and colour of your own (/me): a plain form that works without JS. The nickname is
// checked here; whether someone present in one of the person's rooms already goes by it is
// the rooms' question (realtime's Rename), which also shows the change live everywhere.

// MaxNickname is the longest nickname, in characters, after trimming.
const MaxNickname = 24

// ActionRename is a saved change of name or colour, for the Guard: each is a notice in every
// room the person is in.
const ActionRename = "rename"

// nicknameRefusal is why a nickname was refused: a catalog key (people.error.*) and its fields.
type nicknameRefusal struct {
	key  string
	args []any
}

// CleanNickname checks a nickname as typed and returns it as it is stored: trimmed, in NFC
// (a Hangul syllable typed as its letters is the syllable), with runs of spaces made one. It
// allows letters of any script (Hangul among them), digits, spaces and "-", "_", "."; a
// combining mark only after a letter, at most two in a row. It refuses, each with its own
// reason: nothing left after trimming, more than MaxNickname characters, text that is not
// UTF-8, control characters, characters that change the direction of text (bidirectional
// embeddings, overrides, isolates and marks), and any other character, which it names: an
// emoji, a symbol, or an invisible one such as a zero-width space or a Hangul filler, which
// would make a name look like another or like none.
func CleanNickname(s string) (string, error) {
	if r := cleanNickname(&s); r != nil {
		return "", r
	}
	return s, nil
}

func (r *nicknameRefusal) Error() string { return i18n.En.T(r.key, r.args...) }

func cleanNickname(s *string) *nicknameRefusal {
	if !utf8.ValidString(*s) {
		return &nicknameRefusal{key: "people.error.invalid"}
	}
	name := norm.NFC.String(strings.TrimSpace(*s))
	for _, r := range name {
		switch {
		case changesDirection(r):
			return &nicknameRefusal{key: "people.error.bidi"}
		case unicode.IsControl(r):
			return &nicknameRefusal{key: "people.error.control"}
		}
	}
	name = strings.Join(strings.FieldsFunc(name, func(r rune) bool { return r == ' ' }), " ")
	if name == "" {
		return &nicknameRefusal{key: "people.error.empty"}
	}
	if n := utf8.RuneCountInString(name); n > MaxNickname {
		return &nicknameRefusal{key: "people.error.too_long", args: []any{"Count", n, "Max", MaxNickname}}
	}
	marks, afterLetter := 0, false
	for _, r := range name {
		switch {
		case isHangulFiller(r):
			// Letters to Unicode, blanks on screen: a name of them looks like no name at all.
		case unicode.IsLetter(r):
			marks, afterLetter = 0, true
			continue
		case unicode.IsDigit(r) || r == ' ' || r == '-' || r == '_' || r == '.':
			marks, afterLetter = 0, false
			continue
		case unicode.Is(unicode.M, r) && afterLetter && marks < 2:
			marks++
			continue
		}
		return &nicknameRefusal{key: "people.error.chars", args: []any{"Char", showRune(r)}}
	}
	*s = name
	return nil
}

// changesDirection reports the characters that change the direction text is shown in: the
// embeddings and overrides (U+202A-U+202E), the isolates (U+2066-U+2069), and the marks
// (U+200E, U+200F, U+061C). In a name they could make it display as another one.
func changesDirection(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c
}

// isHangulFiller reports the Hangul fillers, which Unicode counts as letters but which show
// as blank space.
func isHangulFiller(r rune) bool {
	return r == 0x115f || r == 0x1160 || r == 0x3164 || r == 0xffa0
}

// showRune names a refused character: itself in quotes if it shows, else its code point.
func showRune(r rune) string {
	if unicode.IsGraphic(r) && !unicode.IsSpace(r) && !unicode.Is(unicode.M, r) && !isHangulFiller(r) {
		return "“" + string(r) + "”"
	}
	return fmt.Sprintf("U+%04X", r)
}

func handleProfile(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := identityFrom(r.Context())
		render(w, r, http.StatusOK, components.Profile(components.ProfilePage{
			Me: realtime.PersonView(me), Nickname: me.Nickname, Colour: me.Colour, Palette: Colours,
			Back: localPage(backTo(r)),
		}))
	})
}

func handleSaveProfile(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := identityFrom(r.Context())
		if err := r.ParseForm(); err != nil {
			formParseError(w, r, err)
			return
		}
		typed, colour := r.PostForm.Get("nickname"), r.PostForm.Get("colour")
		page := components.ProfilePage{
			Me: realtime.PersonView(me), Nickname: strings.ToValidUTF8(typed, "\uFFFD"), Colour: colour,
			Palette: Colours, Back: localPage(r.PostForm.Get("back")), Errors: map[string]string{},
		}
		name, err := CleanNickname(typed)
		var refused *nicknameRefusal
		if errors.As(err, &refused) {
			page.Errors["nickname"] = i18n.T(r.Context(), refused.key, refused.args...)
		}
		if !slices.Contains(Colours, colour) {
			page.Errors["colour"] = i18n.T(r.Context(), "people.error.colour")
		}
		if len(page.Errors) > 0 {
			render(w, r, http.StatusUnprocessableEntity, components.Profile(page))
			return
		}
		if name == me.Nickname && colour == me.Colour {
			http.Redirect(w, r, page.Back, http.StatusSeeOther)
			return
		}
		if reason := d.Guard.Allow(r, me.ID, ActionRename); reason != "" {
			page.Errors["form"] = reason
			w.Header().Set("Retry-After", "10")
			render(w, r, http.StatusTooManyRequests, components.Profile(page))
			return
		}
		to := me
		to.Nickname, to.Colour = name, colour
		err = d.Rooms.Rename(r.Context(), to, func(ctx context.Context) error {
			return d.Store.RenameIdentity(ctx, me.ID, name, colour)
		})
		var taken *realtime.NameTaken
		switch {
		case errors.As(err, &taken):
			page.Nickname = name
			page.Errors["nickname"] = takenReason(r, taken)
			render(w, r, http.StatusConflict, components.Profile(page))
			return
		case err != nil:
			slog.ErrorContext(r.Context(), "save profile", "err", err)
			page.Errors["form"] = i18n.T(r.Context(), "people.error.failed")
			render(w, r, http.StatusInternalServerError, components.Profile(page))
			return
		}
		http.Redirect(w, r, page.Back, http.StatusSeeOther)
	})
}

// takenReason words a clash: the name, and the rooms it is taken in, each in quotes.
func takenReason(r *http.Request, taken *realtime.NameTaken) string {
	rooms := make([]string, len(taken.Rooms))
	for i, title := range taken.Rooms {
		rooms[i] = i18n.T(r.Context(), "people.room", "Title", title)
	}
	return i18n.T(r.Context(), "people.error.taken", "Name", taken.Name,
		"Rooms", strings.Join(rooms, i18n.T(r.Context(), "people.room_separator")), "Count", len(rooms))
}

// localPage is where to go back to after the form: a page of this site, given as its path
// (and query), else the lobby. The form itself is not gone back to.
func localPage(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") ||
		strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\\r\n\t") || u.Path == "/me" {
		return "/"
	}
	return s
}
