package realtime

import (
	"bytes"
	"context"

	"github.com/a-h/templ"

	"gifchat/i18n"
)

// renderIn renders a component in a language into bytes, to be sent as they are to any number
// of connections reading that language.
func renderIn(l i18n.Lang, c templ.Component) ([]byte, error) {
	var buf bytes.Buffer
	if err := c.Render(i18n.With(context.Background(), l), &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// frag is one fragment for many sockets, rendered in a language the first time a socket
// reading it needs it: at most once per language present (two renders in a room where both
// are read, one where one is), never once per recipient.
type frag struct {
	comp   templ.Component
	render func(i18n.Lang, templ.Component) []byte
	by     [i18n.Count][]byte
	done   [i18n.Count]bool
}

// In is the fragment's bytes in a language.
func (f *frag) In(l i18n.Lang) []byte {
	if !f.done[l] {
		f.by[l], f.done[l] = f.render(l, f.comp), true
	}
	return f.by[l]
}

// For is the fragment's bytes in the socket's language.
func (f *frag) For(c *Client) []byte { return f.In(c.lang) }

// send queues a fragment in the socket's language.
func (c *Client) send(f *frag) bool { return c.enqueue(f.For(c)) }
