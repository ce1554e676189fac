// Package i18n puts gifchat's words into the reader's language. The words live in TOML
// catalogs under catalog/, one file per area and language (pages.en.toml, pages.ko.toml, ...),
// which a translator edits without touching Go; go-i18n reads them and applies each
// language's CLDR plural rules.
//
// A language is a small number (Lang), so that a room can keep one rendered fragment per
// language in an array and hand each socket the bytes for its own.
package i18n

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

// Lang is one of the languages gifchat speaks.
type Lang uint8

const (
	En Lang = iota // English: the fallback for any language we do not speak
	Ko             // Korean
	// Count is how many languages there are: the size of per-language arrays.
	Count = iota
)

// All is every language, in the order the switch shows them.
var All = [Count]Lang{Ko, En}

var (
	codes = [Count]string{En: "en", Ko: "ko"}
	names = [Count]string{En: "English", Ko: "한국어"} // each in its own language
	tags  = [Count]language.Tag{En: language.English, Ko: language.Korean}
)

// Code is the language's BCP 47 code, for <html lang> and the cookie.
func (l Lang) Code() string { return codes[l] }

// Name is the language's name in itself: what the switch shows.
func (l Lang) Name() string { return names[l] }

// Parse returns the language a code names ("ko", "ko-KR", "en-GB"), if gifchat speaks it.
func Parse(code string) (Lang, bool) {
	base, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(code)), "-")
	for l, c := range codes {
		if c == base {
			return Lang(l), true
		}
	}
	return En, false
}

var matcher = language.NewMatcher(tags[:])

// Negotiate picks the language for an Accept-Language header: the first we speak in the
// browser's order of preference, else English.
func Negotiate(acceptLanguage string) Lang {
	prefs, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(prefs) == 0 {
		return En
	}
	_, i, conf := matcher.Match(prefs...)
	if conf == language.No {
		return En
	}
	return Lang(i)
}

type ctxKey struct{}

// With returns a context that renders in l.
func With(ctx context.Context, l Lang) context.Context { return context.WithValue(ctx, ctxKey{}, l) }

// From returns the language a context renders in (English if none was set).
func From(ctx context.Context) Lang {
	if l, ok := ctx.Value(ctxKey{}).(Lang); ok {
		return l
	}
	return En
}

// T puts the message id into the context's language; see Lang.T.
func T(ctx context.Context, id string, kv ...any) string { return From(ctx).T(id, kv...) }

// T puts the message id into l. kv are the template's fields as name, value pairs
// ("Name", "Mina", "Count", 3); a "Count" field also picks the plural form. A message the
// catalog lacks comes out as its id, so it shows (and the catalog tests fail).
func (l Lang) T(id string, kv ...any) string {
	if len(kv) == 0 {
		if s, ok := plain[l][id]; ok {
			return s
		}
	} else if parts, ok := filled[l][id]; ok {
		if s, ok := fill(parts, kv); ok {
			return s
		}
	}
	cfg := &goi18n.LocalizeConfig{MessageID: id}
	if len(kv) > 0 {
		data := make(map[string]any, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			name, _ := kv[i].(string)
			data[name] = kv[i+1]
			if name == "Count" {
				cfg.PluralCount = kv[i+1]
			}
		}
		cfg.TemplateData = data
	}
	s, err := localizers[l].Localize(cfg)
	if err != nil {
		return id
	}
	return s
}

//go:embed catalog/*.toml
var catalogFS embed.FS

var (
	bundle     = goi18n.NewBundle(language.English)
	localizers [Count]*goi18n.Localizer
	// plain holds each message that has no fields and no plural forms, ready to use: most
	// words on a page are these, and they need no template run.
	plain [Count]map[string]string
	// filled holds each message with no plural forms whose only template actions are fields
	// ({{.Name}}), cut at them: filling those in is a concatenation, where a go-i18n template
	// run costs about a microsecond and nine allocations (a members panel has three per
	// person).
	filled [Count]map[string][]part
	// ids holds every message id of each language, for the catalog tests.
	ids [Count]map[string]bool
)

// part is a piece of a message: literal text, then the value of a field (none if empty).
type part struct{ text, field string }

// fieldAction is a template action that only prints a field.
var fieldAction = regexp.MustCompile(`\{\{\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// cut splits a message at its field actions, or reports false if it has other actions.
func cut(msg string) ([]part, bool) {
	var parts []part
	rest := msg
	for {
		loc := fieldAction.FindStringSubmatchIndex(rest)
		if loc == nil {
			if strings.Contains(rest, "{{") {
				return nil, false
			}
			return append(parts, part{text: rest}), true
		}
		lit := rest[:loc[0]]
		if strings.Contains(lit, "{{") || rest[loc[2]:loc[3]] == "Count" { // a count may choose a plural form
			return nil, false
		}
		parts = append(parts, part{text: lit, field: rest[loc[2]:loc[3]]})
		rest = rest[loc[1]:]
	}
}

// fill fills a cut message's fields from name/value pairs, printed as the template would
// print them. It reports false where the template run is needed to say the same: a value
// that is not a string or an integer, or a field not given.
func fill(parts []part, kv []any) (string, bool) {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.text)
		if p.field == "" {
			continue
		}
		found := false
		for i := 0; i+1 < len(kv); i += 2 {
			if name, _ := kv[i].(string); name != p.field {
				continue
			}
			switch v := kv[i+1].(type) {
			case string:
				b.WriteString(v)
			case int:
				b.WriteString(strconv.Itoa(v))
			case int64:
				b.WriteString(strconv.FormatInt(v, 10))
			default:
				return "", false
			}
			found = true
			break
		}
		if !found {
			return "", false
		}
	}
	return b.String(), true
}

func init() {
	if err := load(catalogFS); err != nil {
		panic(err)
	}
}

func load(fsys fs.FS) error {
	bundle.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	for l := range Count {
		plain[l], filled[l], ids[l] = map[string]string{}, map[string][]part{}, map[string]bool{}
	}
	files, err := fs.Glob(fsys, "catalog/*.toml")
	if err != nil {
		return err
	}
	for _, name := range files {
		f, err := bundle.LoadMessageFileFS(fsys, name)
		if err != nil {
			return fmt.Errorf("i18n: %s: %w", name, err)
		}
		l, ok := Parse(f.Tag.String())
		if !ok {
			return fmt.Errorf("i18n: %s: language %s is not one of ours", name, f.Tag)
		}
		for _, m := range f.Messages {
			if ids[l][m.ID] {
				return fmt.Errorf("i18n: %s: %q is defined twice for %s", name, m.ID, l.Code())
			}
			ids[l][m.ID] = true
			if m.Zero != "" || m.One != "" || m.Two != "" || m.Few != "" || m.Many != "" {
				continue
			}
			if !strings.Contains(m.Other, "{{") {
				plain[l][m.ID] = m.Other
			} else if parts, ok := cut(m.Other); ok {
				filled[l][m.ID] = parts
			}
		}
	}
	for l := range Count {
		localizers[l] = goi18n.NewLocalizer(bundle, codes[l])
	}
	return nil
}

// IDs returns every message id the catalogs define for l (for tests and tools).
func IDs(l Lang) map[string]bool { return ids[l] }
