package components

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"gifchat/i18n"
)

func renderString(t *testing.T, ctx context.Context, c interface {
	Render(context.Context, io.Writer) error
}) string {
	t.Helper()
	var b strings.Builder
	if err := c.Render(ctx, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The kept item is the item: for each language, owner or not, first render and later ones,
// and after the cache was cleared for being full.
func TestCachedMemberItemIsTheItem(t *testing.T) {
	members := []Member{
		{Person: Person{ID: 7, Name: "mina", Colour: "c3"}, Owner: true},
		{Person: Person{ID: 8, Name: `<b>"amp&"</b>`, Colour: "c1"}},
		{Person: Person{ID: 9, Name: "재빠른-수달-42", Colour: "c5"}},
	}
	for _, lang := range []i18n.Lang{i18n.En, i18n.Ko} {
		ctx := i18n.With(context.Background(), lang)
		for _, m := range members {
			want := renderString(t, ctx, MemberItem(m))
			for round := range 2 {
				if got := renderString(t, ctx, cachedMemberItem(m)); got != want {
					t.Errorf("%s, %s, render %d:\n got %s\nwant %s", lang.Code(), m.Name, round+1, got, want)
				}
				memberItems.Lock()
				kept := memberItems.html[memberItemKey{lang, m}]
				memberItems.Unlock()
				if kept != want {
					t.Errorf("%s, %s: after render %d the cache holds %q", lang.Code(), m.Name, round+1, kept)
				}
			}
		}
	}
	// A rename is another item, not the old one from the cache.
	renamed := members[2]
	renamed.Name = "느긋한-판다-7"
	ctx := i18n.With(context.Background(), i18n.Ko)
	if got := renderString(t, ctx, cachedMemberItem(renamed)); !strings.Contains(got, renamed.Name) || strings.Contains(got, members[2].Name) {
		t.Errorf("renamed item shows the old name: %s", got)
	}
	// Full: cleared, and still right.
	for i := range maxMemberItems + 1 {
		renderString(t, ctx, cachedMemberItem(Member{Person: Person{ID: int64(1000 + i), Name: fmt.Sprint("p", i), Colour: "c1"}}))
	}
	memberItems.Lock()
	n := len(memberItems.html)
	memberItems.Unlock()
	if n > maxMemberItems {
		t.Errorf("%d items kept, bound %d", n, maxMemberItems)
	}
	if got, want := renderString(t, ctx, cachedMemberItem(members[0])), renderString(t, ctx, MemberItem(members[0])); got != want {
		t.Errorf("after clearing:\n got %s\nwant %s", got, want)
	}
}
