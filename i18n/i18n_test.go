package i18n

import (
	"context"
	"slices"
	"testing"
	"time"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
)

// Every message a catalog defines in one language exists in the other: a missing Korean
// word would fall back to its id on a Korean page.
func TestCatalogsHaveTheSameKeys(t *testing.T) {
	for _, l := range All {
		for _, other := range All {
			for id := range IDs(l) {
				if !IDs(other)[id] {
					t.Errorf("%q is in the %s catalog but not in the %s one", id, l.Code(), other.Code())
				}
			}
		}
	}
	if len(IDs(En)) < 5 {
		t.Fatalf("the English catalog has %d messages; are the files embedded?", len(IDs(En)))
	}
}

// Every message renders in every language without a template error (which would show the id).
func TestEveryMessageRenders(t *testing.T) {
	fields := []any{"Count", 2, "Name", "Mina", "Old", "Mina", "New", "Jun", "Title", "Room", "Max", 10,
		"Duration", "5 minutes", "N", 3, "Min", 1, "Limit", 4, "Size", "1 MB", "Room", "room", "Names", "A, B",
		"A", "Ann", "B", "Bo", "C", "Cy", "H24", "09", "H12", 9, "MM", "05", "AmPm", "am", "Other", 1, "Kind", "x", "Rooms", "R", "Seconds", 3}
	for _, l := range All {
		for id := range IDs(l) {
			if got := l.T(id, fields...); got == id || got == "" {
				t.Errorf("%s %q renders as %q", l.Code(), id, got)
			}
		}
	}
}

func TestNegotiate(t *testing.T) {
	for _, c := range []struct {
		header string
		want   Lang
	}{
		{"ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", Ko},
		{"ko", Ko},
		{"en-GB,en;q=0.9", En},
		{"en-US,ko;q=0.5", En},
		{"fr-FR,fr;q=0.9", En}, // a language we do not speak: English
		{"fr-FR,ko;q=0.8", Ko}, // the first we speak, in the browser's order
		{"", En},
		{"*", En},
		{";;;garbage", En},
	} {
		if got := Negotiate(c.header); got != c.want {
			t.Errorf("Negotiate(%q) = %s, want %s", c.header, got.Code(), c.want.Code())
		}
	}
}

func TestParse(t *testing.T) {
	for code, want := range map[string]Lang{"ko": Ko, "KO-kr": Ko, "en": En, "en-GB": En} {
		if got, ok := Parse(code); !ok || got != want {
			t.Errorf("Parse(%q) = %s, %v", code, got.Code(), ok)
		}
	}
	for _, code := range []string{"", "fr", "korean", "k"} {
		if _, ok := Parse(code); ok {
			t.Errorf("Parse(%q) accepted a language we do not speak", code)
		}
	}
}

func TestPluralsAndFields(t *testing.T) {
	if got := En.Duration(time.Minute); got != "1 minute" {
		t.Errorf("En one minute: %q", got)
	}
	if got := En.Duration(15 * time.Minute); got != "15 minutes" {
		t.Errorf("En 15 minutes: %q", got)
	}
	if got := Ko.Duration(15 * time.Minute); got != "15분" {
		t.Errorf("Ko 15 minutes: %q", got)
	}
	if got := En.Duration(30 * time.Second); got != "30 seconds" {
		t.Errorf("En 30 seconds: %q", got)
	}
	at := time.Date(2026, 11, 30, 15, 4, 0, 0, time.UTC)
	if got := En.Clock(at); got != "15:04" {
		t.Errorf("En clock: %q", got)
	}
	if got := Ko.Clock(at); got != "오후 3:04" {
		t.Errorf("Ko clock: %q", got)
	}
	if got := Ko.Clock(at.Add(-15 * time.Hour)); got != "오전 12:04" {
		t.Errorf("Ko clock after midnight: %q", got)
	}
	if got := T(With(context.Background(), Ko), "brand"); got != "GIF 채팅" {
		t.Errorf("context language: %q", got)
	}
	if got := T(context.Background(), "brand"); got != "GIF chat" {
		t.Errorf("no language is English: %q", got)
	}
	if got := En.T("no.such.key"); got != "no.such.key" {
		t.Errorf("a missing key shows its id: %q", got)
	}
	if !slices.Contains(All[:], En) || !slices.Contains(All[:], Ko) {
		t.Error("All lists both languages")
	}
}

// Filling a message's fields by concatenation says exactly what the go-i18n template run
// says, for every message that takes that path, in every language, with strings (markup
// characters too) and numbers.
func TestFilledMessagesMatchTheTemplates(t *testing.T) {
	n := 0
	for _, l := range All {
		for id, parts := range filled[l] {
			n++
			var kv []any
			data := map[string]any{}
			for i, p := range parts {
				if _, given := data[p.field]; p.field == "" || given {
					continue
				}
				var v any = "<Mina & " + p.field + ">"
				if i%2 == 1 {
					v = int64(40 + i)
				}
				kv = append(kv, p.field, v)
				data[p.field] = v
			}
			got, ok := fill(parts, kv)
			if !ok {
				t.Errorf("%s %q: not filled from fields that name all of it", l.Code(), id)
				continue
			}
			want, err := localizers[l].Localize(&goi18n.LocalizeConfig{MessageID: id, TemplateData: data})
			if err != nil {
				t.Fatalf("%s %q: %v", l.Code(), id, err)
			}
			if got != want {
				t.Errorf("%s %q: filled %q, the template says %q", l.Code(), id, got, want)
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d messages take the filling path; is the cutting broken?", n)
	}
	// What the fill cannot say the same way goes to the template run.
	if _, ok := fill(filled[En]["members.whisper_to"], []any{"Name", 2.5}); ok {
		t.Error("a float was filled in")
	}
	if _, ok := fill(filled[En]["members.whisper_to"], []any{"Other", "x"}); ok {
		t.Error("a missing field was filled in")
	}
	if got := En.T("members.whisper_to", "Name", time.Second); got != "Whisper to 1s" {
		t.Errorf("a value the fill does not take: %q", got)
	}
}

func BenchmarkTemplatedMessage(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		En.T("members.whisper_to", "Name", "Mina")
	}
}
