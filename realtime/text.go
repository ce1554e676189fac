package realtime

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CleanText trims a message and checks its length in characters; the error is for the sender.
func CleanText(s string, maxRunes int) (string, error) {
	// Socket frames are checked as a whole; a plain form post is not, and bytes that are not
	// UTF-8 would be stored and shown as garbage.
	if !utf8.ValidString(s) {
		return "", errors.New("That message is not valid text.")
	}
	s = strings.TrimSpace(s)
	// A message of only invisible characters (zero-width spaces, joiners) looks empty too.
	if IsBlank(s) {
		return "", errors.New("Write something first: empty messages are not sent.")
	}
	if n := utf8.RuneCountInString(s); n > maxRunes {
		return "", fmt.Errorf("That message is %d characters long; the limit is %d.", n, maxRunes)
	}
	return s, nil
}

// IsBlank reports whether s shows nothing: only spaces and invisible format characters
// (zero-width spaces, joiners, BOM). Messages and room titles are refused when blank.
func IsBlank(s string) bool { return strings.TrimFunc(s, isBlank) == "" }

func isBlank(r rune) bool { return unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) }
