package realtime

import (
	"context"
	"errors"
	"io"
	"time"
	"unicode/utf8"

	"github.com/a-h/templ"

	"gifchat/i18n"
)

// Refusal is why someone may not see, post to or change something in a room: the close code
// a socket gets (0 where no socket closes for it) and the reason the person is shown, as a
// catalog key and its fields. It is put into words when it is sent, in the language of
// whoever reads it; compare refusals with errors.Is against the Err values.
type Refusal struct {
	Code int
	// Key is the reason's message id in the catalogs (i18n/catalog/errors.*.toml).
	Key string
	// Args are the key's fields as name, value pairs ("Count", 3). A time.Duration is said
	// in the reader's language ("15 minutes", "15분"), and so is an error that is itself a
	// *Refusal (a reason quoted in another).
	Args []any
	// kind is what errors.Is also matches (ErrFrame for a frame that could not be read).
	kind error
}

// refusal is a Refusal without a close code.
func refusal(key string, args ...any) *Refusal { return &Refusal{Key: key, Args: args} }

// Error is the reason in English, for logs and for callers that want the text as it was.
func (r *Refusal) Error() string { return r.Text(i18n.En) }

// Unwrap is the kind of refusal errors.Is also matches (ErrFrame), or nil.
func (r *Refusal) Unwrap() error { return r.kind }

// Text is the reason in l.
func (r *Refusal) Text(l i18n.Lang) string {
	args, copied := r.Args, false
	for i := 1; i < len(args); i += 2 {
		var said string
		switch v := args[i].(type) {
		case time.Duration:
			said = l.Duration(v)
		case *Refusal:
			said = v.Text(l)
		default:
			continue
		}
		if !copied {
			args, copied = append([]any(nil), r.Args...), true // the refusal may be shared
		}
		args[i] = said
	}
	return l.T(r.Key, args...)
}

// errServer is said when an error that is not a refusal must still be answered: the
// person learns that the server failed, never the error's text.
var errServer = refusal("errors.server.try_again")

// Reason is err in words for a person reading l: a refusal's own reason, or, for any other
// error, that the server could not do it.
func Reason(l i18n.Lang, err error) string {
	var ref *Refusal
	if errors.As(err, &ref) {
		return ref.Text(l)
	}
	return errServer.Text(l)
}

// said renders view with err's reason in the language it is rendered in, so that one
// fragment (a frag) carries the reason to sockets reading either language.
func said(err error, view func(reason string) templ.Component) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		return view(Reason(i18n.From(ctx), err)).Render(ctx, w)
	})
}

// Close frames' reasons, as catalog keys (Client.close).
const (
	closeSlow       = "close.slow"
	closeRemoved    = "close.removed"
	closeRoomClosed = "close.room_closed"
	closeRestarting = "close.restarting"
)

// closeText is a close frame's reason in l: a catalog key put into words and cut to fit
// the frame (123 bytes), at a character boundary.
func closeText(l i18n.Lang, key string) string {
	if key == "" {
		return ""
	}
	return fitClose(l.T(key))
}

// fitClose cuts s to the 120 bytes a close frame's reason may carry, never inside a character.
func fitClose(s string) string {
	if len(s) <= 120 {
		return s
	}
	s = s[:120]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
