package realtime

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// CleanText trims a message and checks its length in characters; the error is a *Refusal for
// the sender.
// Control characters and bidirectional embeddings, overrides and isolates are removed first
// (see stripped), and line ends become \n.
func CleanText(s string, maxRunes int) (string, error) {
	// Socket frames are checked as a whole; a plain form post is not, and bytes that are not
	// UTF-8 would be stored and shown as garbage.
	if !utf8.ValidString(s) {
		return "", errNotText
	}
	if strings.ContainsFunc(s, stripped) {
		// A form's textarea sends \r\n; a lone \r ends a line as well.
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
		s = strings.Map(func(r rune) rune {
			if stripped(r) {
				return -1
			}
			return r
		}, s)
	}
	s = strings.TrimSpace(s)
	// A message of only invisible characters (zero-width spaces, joiners) looks empty too.
	if IsBlank(s) {
		return "", errEmptyMessage
	}
	if n := utf8.RuneCountInString(s); n > maxRunes {
		return "", refusal("errors.message.too_long", "N", n, "Max", maxRunes)
	}
	return s, nil
}

// Refusals of a message's text.
var (
	errNotText      = refusal("errors.message.not_text")
	errEmptyMessage = refusal("errors.message.empty")
)

// stripped reports the characters a message may not keep: C0 and C1 controls and DEL other
// than \n and \t (a terminal escape, a NUL, a backspace that hides text), and the
// bidirectional embeddings, overrides (U+202A-U+202E) and isolates (U+2066-U+2069), which make
// text display in an order other than the one it was written in ("txt.exe" shown as
// "exe.txt") and can carry that over into what follows them on the page. The left-to-right
// and right-to-left marks (U+200E, U+200F) stay: they only settle the direction of the
// punctuation and digits next to them, which writers of Arabic and Hebrew need, and cannot
// reorder letters.
func stripped(r rune) bool {
	if r == '\n' || r == '\t' {
		return false
	}
	return unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// IsBlank reports whether s shows nothing: only spaces and invisible format characters
// (zero-width spaces, joiners, BOM). Messages and room titles are refused when blank.
func IsBlank(s string) bool { return strings.TrimFunc(s, isBlank) == "" }

func isBlank(r rune) bool { return unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) }
