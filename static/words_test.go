package static

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The scripts have no words of their own: every text they put on a page comes from the page
// (data-text-* attributes, rendered from the catalogs in the reader's language), so a
// Korean page gets Korean from them too. A string in the scripts that reads as English prose,
// or a literal written into textContent or a read-out attribute, fails.
func TestScriptsHaveNoWords(t *testing.T) {
	var (
		prose    = regexp.MustCompile(`[A-Za-z]{2,}[.,:;!?]? [A-Za-z]{2,}`)
		selector = regexp.MustCompile(`[#\[\]>=]`) // "#message-form input[name=to]" names, it does not say
		// Class lists ("button primary") and the strict directive are not words either.
		naming = regexp.MustCompile(`(?:className\s*=|classList\.(?:add|remove|toggle|contains)\()\s*$`)
		shown  = regexp.MustCompile(`(?:textContent|innerText|\.title|\.placeholder)\s*=\s*["'][^"']*[A-Za-z]|` +
			`setAttribute\(\s*["'](?:aria-label|title|alt|placeholder)["']\s*,\s*["'][^"']*[A-Za-z]`)
	)
	for _, name := range []string{"app.js", "upload.js"} {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		code, strs := jsCode(string(src))
		for _, s := range strs {
			if prose.MatchString(s.text) && !selector.MatchString(s.text) && !naming.MatchString(s.after) && s.text != "use strict" {
				t.Errorf("%s: %q reads as English; render it into the page (data-text-*) from a catalog", name, s.text)
			}
		}
		for _, m := range shown.FindAllString(code, -1) {
			t.Errorf("%s: %s… writes a literal onto the page; take it from data-text-*", name, m)
		}
	}
}

// The check catches what it is for.
func TestScriptsHaveNoWordsCatches(t *testing.T) {
	_, strs := jsCode(`setStatus("Connection lost. Reconnecting…"); // a "comment with words"
	/* "block comment words" */ var re = /\{(\w+)\}/g; x = 'Drop one GIF at a time.'; y = "#a > .b[c]";`)
	want := []string{"Connection lost. Reconnecting…", "Drop one GIF at a time.", "#a > .b[c]"}
	var got []string
	for _, s := range strs {
		got = append(got, s.text)
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("strings %q, want %q", got, want)
	}
}

// jsString is a string literal's content and the line's code before it.
type jsString struct{ text, after string }

// jsCode returns a script without its comments, and its string literals. It knows strings
// and comments; a regular expression literal must not hold a quote or "//".
func jsCode(src string) (code string, strs []jsString) {
	var b strings.Builder
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
			b.WriteByte('\n')
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return b.String(), strs
			}
			i += 2 + end + 1
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for ; j < len(src) && src[j] != c; j++ {
				if src[j] == '\\' {
					j++
				}
			}
			line := b.String()
			line = line[strings.LastIndexByte(line, '\n')+1:]
			strs = append(strs, jsString{text: src[i+1 : min(j, len(src))], after: line})
			b.WriteString(src[i:min(j+1, len(src))])
			i = j
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), strs
}
