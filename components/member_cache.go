package components

import (
	"context"
	"io"
	"strings"
	"sync"

	"github.com/a-h/templ"

	"gifchat/i18n"
)

// A member's item is the same HTML for everyone who reads the same language, and rendering it
// (three escaped JSON attributes, three templated labels) was a sixth of the server's time
// while people poured into rooms of a hundred: every room page and every whole panel renders
// all of them. memberItems keeps each item as rendered, by language and by everything it
// shows; a rename or a new owner is a new key. It is bounded by clearing it when full: the
// next renders fill it again.
var memberItems = struct {
	sync.Mutex
	html map[memberItemKey]string
}{html: map[memberItemKey]string{}}

type memberItemKey struct {
	lang i18n.Lang
	m    Member
}

// maxMemberItems bounds the cache: about 0.6 KiB an item, so 12 MiB at most.
const maxMemberItems = 20000

// cachedMemberItem is MemberItem(m), rendered once per language and kept.
func cachedMemberItem(m Member) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		key := memberItemKey{i18n.From(ctx), m}
		memberItems.Lock()
		html, ok := memberItems.html[key]
		memberItems.Unlock()
		if !ok {
			var b strings.Builder
			if err := MemberItem(m).Render(ctx, &b); err != nil {
				return err
			}
			html = b.String()
			memberItems.Lock()
			if len(memberItems.html) >= maxMemberItems {
				clear(memberItems.html)
			}
			memberItems.html[key] = html
			memberItems.Unlock()
		}
		_, err := io.WriteString(w, html)
		return err
	})
}
