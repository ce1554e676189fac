package components

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every word a person reads comes from the catalogs (i18n/catalog), so that a Korean page is
// Korean throughout. This test reads the templates as source and fails on English written
// into one: a text node, a user-visible attribute (aria-label, title, alt, placeholder, a
// button's value) or a Go string in one of those places or in a component's arguments
// (`@Layout("Lobby", ...)`, `alt={ "GIF from " + name }`) instead of a catalog key.
func TestTemplatesHaveNoLiteralWords(t *testing.T) {
	files, err := filepath.Glob("*.templ")
	if err != nil || len(files) == 0 {
		t.Fatalf("no templates found: %v", err)
	}
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range literalWords(string(src)) {
			t.Errorf("%s:%d: %s `%s` is a literal word; give it a key in i18n/catalog and write t(ctx, key)", name, w.line, w.where, w.text)
		}
	}
}

// The checker itself: what it must find, and what it must leave alone.
func TestLiteralWordsFindsEnglish(t *testing.T) {
	for _, c := range []struct {
		src  string
		want []string // "where text", in order; none for a clean snippet
	}{
		{`<button type="submit" class="button">Send</button>`, []string{`text Send`}},
		{`<ul id="members" aria-label="Members"></ul>`, []string{`aria-label Members`}},
		{`<span title='Owner' class="badge"></span>`, []string{`title Owner`}},
		{`<input id="q" placeholder="Type here"/>`, []string{`placeholder Type here`}},
		{`<input type="submit" value="Go"/>`, []string{`value Go`}},
		{`<img src={ u } alt={ "GIF from " + m.Author.Name }/>`, []string{`alt "GIF from "`}},
		{`<p>{ "Hello" }</p>`, []string{`text "Hello"`}},
		{`<p class="x">
	Pick a room, or make one.
</p>`, []string{`text Pick a room, or make one.`}},
		{`@Layout("Lobby", p.Me) {
	<p>{ t(ctx, "lobby.lede") }</p>
}`, []string{`@call "Lobby"`}},
		{`@field("room-title", "Title", f.Errors["title"]) {
	<input id="room-title"/>
}`, []string{`@call "Title"`}},
		{`<p>whispers to <span>{ m.Name }</span></p>`, []string{`text whispers to`}},

		// Clean: keys, markup, code and non-words.
		{`<button aria-label={ t(ctx, "msg.edit") }>{ t(ctx, "msg.edit_short") }</button>`, nil},
		{`<span>{ before(ctx, "lobby.owned_by") }<b>{ r.Owner.Name }</b>{ after(ctx, "lobby.owned_by") }</span>`, nil},
		{`<input type="hidden" name="action" value="say"/>`, nil},
		{`<div id="room" class="room subtle" data-kind="text" hx-ws:send hx-vals={ templ.JSONString(v) }></div>`, nil},
		{`<meta name="htmx-config" content='{"includeIndicatorCSS":false}'/>`, nil},
		{`<script>var greeting = "Hello world";</script>`, nil},
		{`<style>.x::after { content: "Words" }</style>`, nil},
		{`<!-- Some words in a comment -->`, nil},
		{`// A Go comment with Words in it
if m.Kind == "text" {
	<p>👍 · 3 / 12 …</p>
} else if m.Title != "Lobby" {
	<p>GIF</p>
}
for _, e := range vocab.Reactions {
	<button data-emoji={ e }>{ e }</button>
}`, nil},
		{`@galleryState("message-other", false) {
	@MessageItem(sampleMessage(10, vocab.KindText, sampleOtter, sample(ctx, "morning")))
	<p>{ TypingText(ctx, []string{"keen-fox-01"}) }</p>
}`, nil},
		{`<progress max="100" value="40" aria-label={ t(ctx, "upload.progress_label") }></progress>`, nil},
	} {
		src := "package components\n\nfunc helper() string { return \"Go code outside a templ is not a page\" }\n\ntempl X() {\n" + c.src + "\n}\n"
		var got []string
		for _, w := range literalWords(src) {
			got = append(got, w.where+" "+w.text)
		}
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("in\n%s\nfound %q, want %q", c.src, got, c.want)
		}
	}
}

// literal is a word found written into a template.
type literal struct {
	line  int
	where string // text, an attribute's name, or @call
	text  string
}

// allowedLiterals are the non-words a template may write as they are: the product's name
// for a GIF is the same in every language. (Emoji, digits and punctuation have no Latin
// letters, so they need no entry.)
var allowedLiterals = map[string]bool{"GIF": true}

// visibleAttrs are the attributes a person reads or hears.
var visibleAttrs = map[string]bool{
	"aria-label": true, "aria-description": true, "aria-roledescription": true, "aria-placeholder": true,
	"aria-valuetext": true, "title": true, "alt": true, "placeholder": true, "label": true,
}

var (
	latin = regexp.MustCompile(`[A-Za-z]`)
	// identifierLike is a Go string that names rather than says: an id, a class, a catalog
	// key, a state, a path ("room-title", "gallery.state.lobby", "/rooms/"). A single
	// lowercase word passes too; that is the checker's blind spot.
	identifierLike = regexp.MustCompile(`^[a-z0-9_./#:?=-]*$`)
	// translated are the calls that put a key into words: their arguments are keys and
	// field names, not words.
	translated = regexp.MustCompile(`(?:^|[^A-Za-z0-9_.])(?:t|before|after|sample)\(|\.T\(`)
)

// literalWords finds the literal words in the templ components of a .templ source. Go code
// outside the components (funcs, vars) is not looked at.
func literalWords(src string) []literal {
	var found []literal
	lines := strings.SplitAfter(src, "\n")
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "templ ") {
			continue
		}
		start := i + 1
		var body strings.Builder
		for i++; i < len(lines) && strings.TrimRight(lines[i], "\r\n") != "}"; i++ {
			body.WriteString(lines[i])
		}
		s := &templScanner{src: body.String(), line: start + 1}
		s.scan()
		found = append(found, s.found...)
	}
	return found
}

// templScanner walks one component's body: markup, text, { expressions } and statements.
type templScanner struct {
	src   string
	i     int
	line  int
	found []literal
}

func (s *templScanner) has(p string) bool { return strings.HasPrefix(s.src[s.i:], p) }

func (s *templScanner) advance(n int) {
	end := min(s.i+n, len(s.src))
	s.line += strings.Count(s.src[s.i:end], "\n")
	s.i = end
}

func (s *templScanner) skipPast(p string) {
	if j := strings.Index(s.src[s.i:], p); j >= 0 {
		s.advance(j + len(p))
	} else {
		s.advance(len(s.src))
	}
}

func (s *templScanner) report(where, text string) {
	s.found = append(s.found, literal{line: s.line, where: where, text: text})
}

// atLineStart reports whether only spaces stand between the last newline and the cursor.
func (s *templScanner) atLineStart() bool {
	j := strings.LastIndexByte(s.src[:s.i], '\n')
	return strings.TrimSpace(s.src[j+1:s.i]) == ""
}

func (s *templScanner) scan() {
	for s.i < len(s.src) {
		c := s.src[s.i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			s.advance(1)
		case s.atLineStart() && s.statement():
		case s.has("<!--"):
			s.skipPast("-->")
		case s.has("<!"): // <!DOCTYPE html>
			s.skipPast(">")
		case s.has("{{"):
			s.skipPast("}}")
		case c == '{':
			line := s.line
			s.checkExpr("text", s.goExpr(), line)
		case s.has("</"):
			s.skipPast(">")
		case c == '<' && s.i+1 < len(s.src) && isLetter(s.src[s.i+1]):
			s.tag()
		default:
			s.text()
		}
	}
}

// statement handles a line that is templ code rather than markup: a comment, a component
// call, or an if/for/switch line. It reports whether there was one.
func (s *templScanner) statement() bool {
	rest := s.src[s.i:]
	switch {
	case strings.HasPrefix(rest, "//"):
		s.skipPast("\n")
	case strings.HasPrefix(rest, "/*"):
		s.skipPast("*/")
	case strings.HasPrefix(rest, "@"):
		line := s.line
		s.advance(1)
		for s.i < len(s.src) && (isLetter(s.src[s.i]) || isDigit(s.src[s.i]) || s.src[s.i] == '.' || s.src[s.i] == '_') {
			s.advance(1)
		}
		if s.has("(") {
			s.checkExpr("@call", s.balanced('(', ')'), line)
		}
		s.skipPast("\n")
	case strings.HasPrefix(rest, "}"), strings.HasPrefix(rest, "if "), strings.HasPrefix(rest, "else"),
		strings.HasPrefix(rest, "for "), strings.HasPrefix(rest, "switch "), strings.HasPrefix(rest, "case "),
		strings.HasPrefix(rest, "default:"):
		s.skipPast("\n")
	default:
		return false
	}
	return true
}

// text reads a text node up to the next tag, expression or line end (at least one
// character: a "<" that starts no tag is text).
func (s *templScanner) text() {
	line, start := s.line, s.i
	for s.advance(1); s.i < len(s.src) && s.src[s.i] != '<' && s.src[s.i] != '{' && s.src[s.i] != '\n'; {
		s.advance(1)
	}
	if t := strings.TrimSpace(s.src[start:s.i]); latin.MatchString(t) && !allowedLiterals[t] {
		s.found = append(s.found, literal{line: line, where: "text", text: t})
	}
}

// tag reads an element's start tag and checks its visible attributes; a script's or a
// style's content is skipped.
func (s *templScanner) tag() {
	s.advance(1)
	start := s.i
	for s.i < len(s.src) && (isLetter(s.src[s.i]) || isDigit(s.src[s.i]) || s.src[s.i] == '-') {
		s.advance(1)
	}
	name := strings.ToLower(s.src[start:s.i])
	type attr struct {
		name, value string
		expr        bool
		line        int
	}
	var attrs []attr
	typ := ""
	for s.i < len(s.src) {
		c := s.src[s.i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			s.advance(1)
			continue
		case s.has("/>"):
			s.advance(2)
		case c == '>':
			s.advance(1)
		case c == '{': // spread attributes: { attrs... }
			line := s.line
			s.checkExpr("attributes", s.goExpr(), line)
			continue
		default:
			line, from := s.line, s.i
			for s.i < len(s.src) && !strings.ContainsRune(" \t\r\n=>?", rune(s.src[s.i])) && !s.has("/>") {
				s.advance(1)
			}
			a := attr{name: strings.ToLower(s.src[from:s.i]), line: line}
			if s.has("?=") {
				s.advance(1)
			}
			if s.has("=") {
				s.advance(1)
				switch q := s.src[s.i]; q {
				case '"', '\'':
					s.advance(1)
					from := s.i
					s.skipPast(string(q))
					a.value = s.src[from : s.i-1]
				case '{':
					a.value, a.expr = s.goExpr(), true
				}
			}
			if a.name == "type" && !a.expr {
				typ = strings.ToLower(a.value)
			}
			attrs = append(attrs, a)
			continue
		}
		break
	}
	if name == "script" || name == "style" {
		s.skipPast("</" + name)
		return
	}
	for _, a := range attrs {
		visible := visibleAttrs[a.name] ||
			a.name == "value" && (name == "button" || name == "input" && (typ == "submit" || typ == "button" || typ == "reset"))
		switch {
		case !visible:
		case a.expr:
			s.checkExpr(a.name, a.value, a.line)
		case latin.MatchString(a.value) && !allowedLiterals[strings.TrimSpace(a.value)]:
			s.found = append(s.found, literal{line: a.line, where: a.name, text: a.value})
		}
	}
}

// goExpr reads a { Go expression } and returns it without its braces.
func (s *templScanner) goExpr() string {
	e := s.balanced('{', '}')
	return e[1 : len(e)-1]
}

// balanced reads from an opening bracket to its closing one, minding Go strings.
func (s *templScanner) balanced(open, close byte) string {
	start, depth := s.i, 0
	for s.i < len(s.src) {
		switch c := s.src[s.i]; c {
		case '"', '`', '\'':
			s.advance(len(goString(s.src[s.i:])))
			continue
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				s.advance(1)
				return s.src[start:s.i]
			}
		}
		s.advance(1)
	}
	return s.src[start:]
}

// checkExpr reports the Go strings in an expression that read as words, leaving out the
// arguments of the calls that translate (which are keys and field names).
func (s *templScanner) checkExpr(where, expr string, line int) {
	for {
		loc := translated.FindStringIndex(expr)
		if loc == nil {
			break
		}
		open := loc[1] - 1
		sub := &templScanner{src: expr[open:]}
		call := sub.balanced('(', ')')
		expr = expr[:loc[0]] + " " + expr[open+len(call):]
	}
	for i := 0; i < len(expr); i++ {
		if c := expr[i]; c != '"' && c != '`' {
			if c == '\'' {
				i += len(goString(expr[i:])) - 1
			}
			continue
		}
		lit := goString(expr[i:])
		i += len(lit) - 1
		body := lit[1 : len(lit)-1]
		if latin.MatchString(body) && !identifierLike.MatchString(body) && !allowedLiterals[body] {
			s.found = append(s.found, literal{line: line, where: where, text: lit})
		}
	}
}

// goString is the Go string or rune literal that src starts with, quotes included.
func goString(src string) string {
	q := src[0]
	for j := 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			if q != '`' {
				j++
			}
		case q:
			return src[:j+1]
		}
	}
	return src
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
