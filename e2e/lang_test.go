package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gifchat/i18n"
)

// contractWords are the names DESIGN.md's user-visible contract gives the controls, in
// English, with the catalog key each is in. The English suite keeps finding controls by the
// literal names (so a catalog edit cannot quietly break the contract); a Korean person's
// helpers find the same controls by the Korean catalog's word for them.
var contractWords = map[string]string{
	"GIF chat":            "brand",
	"Rooms":               "lobby.rooms",
	"Join":                "lobby.join",
	"Title":               "lobby.title",
	"Capacity":            "lobby.capacity",
	"Password (optional)": "lobby.password",
	"Create room":         "lobby.create",
	"Password":            "password.label",
	"Enter":               "password.enter",
	"Leave":               "room.leave",
	"Messages":            "room.messages",
	"Message":             "composer.message",
	"Send":                "composer.send",
	"Upload GIF":          "upload.label",
	"Members":             "members.label",
	"Change name":         "header.change_name",
	"Nickname":            "people.nickname",
	"Colour":              "people.colour",
	"Save":                "people.save",
}

// word is the contract's English name en as a page in l says it.
func word(l i18n.Lang, en string) string {
	key, ok := contractWords[en]
	if !ok {
		panic(fmt.Sprintf("e2e: %q is not in contractWords", en))
	}
	if l == i18n.En {
		return en
	}
	return l.T(key)
}

// word is the contract's English name en in the person's language.
func (p *person) word(en string) string { return word(p.lang, en) }

// wordsJS is contractWords for the page scripts: an object from each language's code to its
// words by English name, so the jsHelpers find "Rooms" in whatever language the page is in.
var wordsJS = func() string {
	all := map[string]map[string]string{}
	for _, l := range i18n.All {
		all[l.Code()] = map[string]string{}
		for en := range contractWords {
			all[l.Code()][en] = word(l, en)
		}
	}
	b, err := json.Marshal(all)
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// TestContractWordsAreTheEnglishCatalog: the English catalog says what the contract names.
func TestContractWordsAreTheEnglishCatalog(t *testing.T) {
	for en, key := range contractWords {
		if got := i18n.En.T(key); got != en {
			t.Errorf("the English catalog's %s is %q; DESIGN.md's contract names it %q", key, got, en)
		}
		if ko := i18n.Ko.T(key); ko == key || ko == en {
			t.Errorf("the Korean catalog has no word of its own for %s (%q)", key, ko)
		}
	}
}

// pageTextsJS collects every piece of text a person reads or hears on the page: the tab's
// title, the text of each shown element, the words CSS adds (::before, ::after), and names
// given in attributes (aria-label, title, alt, placeholder). Text inside an element marked
// as another language (the switch's "English") is left out: a reader expects it in that one.
const pageTextsJS = `(() => {
  const lang = document.documentElement.lang;
  const foreign = el => { const l = el.closest('[lang]'); return l !== null && l.lang !== lang; };
  const shown = el => el.checkVisibility({visibilityProperty: true});
  const out = [document.title];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n; (n = walk.nextNode());) {
    const el = n.parentElement;
    if (el && n.textContent.trim() && !el.closest('script,style') && !foreign(el) && shown(el)) out.push(n.textContent);
  }
  for (const el of document.body.querySelectorAll('*')) {
    if (foreign(el) || !shown(el)) continue;
    for (const a of ['aria-label', 'title', 'alt', 'placeholder']) if (el.hasAttribute(a)) out.push(el.getAttribute(a));
    for (const pseudo of ['::before', '::after']) {
      const c = getComputedStyle(el, pseudo).content;
      if (c.startsWith('"')) out.push(c);
    }
  }
  return out;
})()`

// foreignScript finds, on a page in a language, the words of the other one: Latin-letter
// words on a Korean page (but "GIF", the format's name), Hangul on an English one.
var foreignScript = [i18n.Count]*regexp.Regexp{
	i18n.Ko: regexp.MustCompile(`[A-Za-z]{2,}`),
	i18n.En: regexp.MustCompile(`\p{Hangul}+`),
}

var foreignAllowed = [i18n.Count][]string{i18n.Ko: {"GIF"}}

// speaksOnly fails the test if the person's page shows a word of the other language that
// no person typed: theirs lists what people typed there (nicknames, titles, messages).
func (p *person) speaksOnly(t *testing.T, where string, theirs ...string) {
	t.Helper()
	if got := p.pageLang(t); got != p.lang.Code() {
		t.Errorf("%s's page on %s is <html lang=%q>, want %q", p.name, where, got, p.lang.Code())
	}
	texts := eval[[]string](t, p, pageTextsJS)
	// Longest first, so a message that contains a nickname is taken out whole.
	theirs = slices.Clone(theirs)
	slices.SortFunc(theirs, func(a, b string) int { return len(b) - len(a) })
	var found []string
	for _, text := range texts {
		rest := text
		for _, s := range theirs {
			rest = strings.ReplaceAll(rest, s, " ")
		}
		for _, w := range foreignScript[p.lang].FindAllString(rest, -1) {
			if !slices.Contains(foreignAllowed[p.lang], w) {
				found = append(found, fmt.Sprintf("%q in %q", w, strings.TrimSpace(text)))
			}
		}
	}
	if len(found) > 0 {
		t.Errorf("%s's page in %s shows words of another language on %s (screenshot %s):\n  %s", p.name, p.lang.Name(), where,
			p.screenshot(t, "FAIL-"+sanitize(t.Name())+"-"+p.name+"-words"), strings.Join(found, "\n  "))
	}
}

// pageLang is the page's <html lang>.
func (p *person) pageLang(t *testing.T) string {
	t.Helper()
	return eval[string](t, p, `document.documentElement.lang`)
}
