package handlers_test

import (
	. "gifchat/handlers"
	"gifchat/i18n"

	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// safeFormErrors are the reasons ValidateRoomForm may give, by field: fixed text and numbers,
// never what was typed (least of all the password).
var safeFormErrors = map[string]*regexp.Regexp{
	"title":    regexp.MustCompile(`^(The title must be text\.|Give the room a title\.|The title is [0-9]+ characters long; at most 60\.|The title cannot contain control characters\.|The title cannot contain text-direction control characters\.)$`),
	"capacity": regexp.MustCompile(`^(Capacity must be a whole number\.|Capacity must be between 2 and [0-9]+\.)$`),
	"password": regexp.MustCompile(`^(A password needs at least 6 characters\.|A password can be at most 72 bytes long\.)$`),
}

// FuzzValidateRoomForm: any create-room form. A valid result meets every rule of the product
// (trimmed title of 1-60 characters, not blank, with no control or text-direction characters,
// capacity in range, password
// empty or 6 characters to 72 bytes); every refusal is keyed by a real field and says why
// without repeating the input.
func FuzzValidateRoomForm(f *testing.F) {
	for _, c := range []struct {
		title, capacity, password string
		max                       int
	}{
		{"Lunch", "10", "", 100},
		{"  Lunch  ", "", "secret", 100},
		{"", "1", "abc", 100},
		{strings.Repeat("é", 60), "100", strings.Repeat("x", 72), 100},
		{strings.Repeat("é", 61), "101", strings.Repeat("x", 73), 100},
		{"tab\there", "abc", "ü\xff", 500},
		{"\xff\xfe", "+5", "pässwörd", 0},
		{"\u202eevil", " 7 ", "    ", 100},
		{"a\u0085b", "9999999999999999999999", "ab", 100},
	} {
		f.Add(c.title, c.capacity, c.password, c.max)
	}
	f.Fuzz(func(t *testing.T, title, capacity, password string, maxCapacity int) {
		in, errs := ValidateRoomForm(i18n.En, title, capacity, password, maxCapacity)
		limit := max(maxCapacity, MaxCapacity)
		for field, reason := range errs {
			if field == "form" {
				t.Fatalf("the validator set a form-wide error: %q", reason)
			}
			re, ok := safeFormErrors[field]
			if !ok {
				t.Fatalf("error for unknown field %q", field)
			}
			if !re.MatchString(reason) {
				t.Fatalf("%s: unexpected reason %q", field, reason)
			}
			if len(password) >= 4 && strings.Contains(reason, password) {
				t.Fatalf("the password appears in the reason %q", reason)
			}
		}
		if _, bad := errs["title"]; !bad {
			n := utf8.RuneCountInString(in.Title)
			switch {
			case !utf8.ValidString(in.Title):
				t.Fatalf("title %q is not valid UTF-8", in.Title)
			case strings.TrimSpace(in.Title) != in.Title:
				t.Fatalf("title %q is not trimmed", in.Title)
			case n < 1 || n > MaxTitleRunes:
				t.Fatalf("title of %d characters accepted", n)
			case strings.ContainsFunc(in.Title, IsControl):
				t.Fatalf("title %q with a control character accepted", in.Title)
			case strings.ContainsFunc(in.Title, func(r rune) bool { return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) }):
				t.Fatalf("title %q with a text-direction override accepted", in.Title)
			case strings.TrimFunc(in.Title, func(r rune) bool { return unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) }) == "":
				t.Fatalf("title %q that looks empty accepted", in.Title)
			}
		}
		if _, bad := errs["capacity"]; !bad && (in.Capacity < MinCapacity || in.Capacity > limit) {
			t.Fatalf("capacity %d accepted (limit %d)", in.Capacity, limit)
		}
		if _, bad := errs["password"]; !bad && password != "" {
			if utf8.RuneCountInString(in.Password) < MinPassword || len(in.Password) > MaxPassword {
				t.Fatalf("password of %d bytes accepted", len(in.Password))
			}
		}
		if in.Password != password {
			t.Fatal("the password was altered (it is hashed as typed)")
		}
	})
}
