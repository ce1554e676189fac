package realtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"gifchat/vocab"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// safeFrameError is every reason DecodeFrame may give: fixed text and our own field names,
// never the sender's bytes.
var safeFrameError = regexp.MustCompile(`^that message could not be read: (not UTF-8 text|field "[a-z]*" has the wrong type|unknown field|not a JSON object|trailing data|bad id|unknown reaction|no action|unknown action)\.$`)

// FuzzDecodeFrame: any bytes a browser (or anyone) sends over a room socket. decodeCommand
// never panics; what it accepts is the command of a known action with well-formed ids, which
// reads back the same from the frame it would be sent as; what it refuses it refuses with a
// reason fit to show.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{
		`{"action":"say","text":"hello","headers":{"HX-Request":"true","HX-Current-URL":"http://127.0.0.1:8005/rooms/x"}}`,
		`{"action":"say","text":"psst","to":"42","headers":{}}`,
		`{"action":"whisper-to","to":"7"}`,
		`{"action":"whisper-cancel"}`,
		`{"action":"kick","member":"9"}`,
		`{"action":"kick","member":"-1"}`,
		`{"action":"edit","seq":"12","text":"fixed"}`,
		`{"action":"delete","seq":"12"}`,
		`{"action":"react","seq":"12","emoji":"👍"}`,
		`{"action":"react","seq":"12","emoji":"💩"}`,
		`{"action":"typing","seq":"","emoji":"","text":""}`,
		`{"action":"ban","member":"9"}`,
		`{"action":"unban","member":"9"}`,
		`{"action":"lock"}`,
		`{"action":"unlock"}`,
		`{"action":"password","text":"open sesame"}`,
		`{"action":"say","text":1}`,
		`{"action":"say","text":"a","extra":true}`,
		`{"action":"say"} {"action":"say"}`,
		`[1,2,3]`, `null`, `"say"`, ``, "\xff\xfe", `{"action":"say","text":"\u0000\u202e"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, err := decodeCommand(data)
		if err != nil {
			if !errors.Is(err, ErrFrame) {
				t.Fatalf("error does not wrap ErrFrame: %v", err)
			}
			if !safeFrameError.MatchString(err.Error()) {
				t.Fatalf("unexpected reason %q", err.Error())
			}
			if cmd != nil {
				t.Fatalf("refused, yet a command came back: %#v", cmd)
			}
			return
		}
		if !utf8.Valid(data) {
			t.Fatal("accepted a frame that is not UTF-8")
		}
		fr, _ := DecodeFrame(data)
		if cmd.action() != fr.Action {
			t.Fatalf("frame %q became a %q command", fr.Action, cmd.action())
		}
		// The command reads back the same from the frame a browser would send for it.
		var again Frame
		switch c := cmd.(type) {
		case *sayCmd:
			if c.to < 0 || c.text != fr.Text {
				t.Fatalf("say decoded as %+v from %+v", c, fr)
			}
			again = Frame{Action: vocab.ActionSay, Text: c.text}
			if c.to != 0 {
				again.To = strconv.FormatInt(c.to, 10)
			}
		case whisperToCmd:
			if c.to <= 0 {
				t.Fatalf("whisper-to with bad id %d accepted", c.to)
			}
			again = Frame{Action: vocab.ActionWhisperTo, To: strconv.FormatInt(c.to, 10)}
		case removeCmd:
			if c.member <= 0 {
				t.Fatalf("%s with bad id %d accepted", fr.Action, c.member)
			}
			again = Frame{Action: c.action(), Member: strconv.FormatInt(c.member, 10)}
		case whisperCancelCmd:
			again = Frame{Action: vocab.ActionWhisperCancel}
		case unbanCmd:
			if c.member <= 0 {
				t.Fatalf("unban with bad id %d accepted", c.member)
			}
			again = Frame{Action: vocab.ActionUnban, Member: strconv.FormatInt(c.member, 10)}
		case lockCmd:
			again = Frame{Action: fr.Action}
		case passwordCmd:
			if c.password != fr.Text {
				t.Fatalf("password decoded as %q from %q", c.password, fr.Text)
			}
			again = Frame{Action: vocab.ActionPassword, Text: c.password}
		case typingCmd:
			again = Frame{Action: vocab.ActionTyping}
		case changeCmd:
			switch ch := c.change.(type) {
			case editCmd:
				if ch.seq <= 0 || ch.text != fr.Text {
					t.Fatalf("edit decoded as %+v from %+v", ch, fr)
				}
				again = Frame{Action: vocab.ActionEdit, Seq: strconv.FormatInt(ch.seq, 10), Text: ch.text}
			case deleteCmd:
				if ch.seq <= 0 {
					t.Fatalf("delete with bad seq %d accepted", ch.seq)
				}
				again = Frame{Action: vocab.ActionDelete, Seq: strconv.FormatInt(ch.seq, 10)}
			case reactCmd:
				if ch.seq <= 0 || !slices.Contains(vocab.Reactions, ch.emoji) {
					t.Fatalf("reaction %+v accepted", ch)
				}
				again = Frame{Action: vocab.ActionReact, Seq: strconv.FormatInt(ch.seq, 10), Emoji: ch.emoji}
			default:
				t.Fatalf("unknown change %#v accepted", ch)
			}
		default:
			t.Fatalf("unknown command %#v accepted", cmd)
		}
		enc, err := json.Marshal(again)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, err := decodeCommand(enc)
		if err != nil {
			t.Fatalf("re-encoded frame %s refused: %v", enc, err)
		}
		if fmt.Sprintf("%#v", back) != fmt.Sprintf("%#v", cmd) {
			t.Fatalf("round trip changed the command: %#v -> %#v", cmd, back)
		}
	})
}

var safeTextError = regexp.MustCompile(`^(Write something first: empty messages are not sent\.|That message is [0-9]+ characters long; the limit is [0-9]+\.|That message is not valid text\.)$`)

// FuzzCleanText: any message text with any limit. An accepted message is trimmed, not empty,
// valid UTF-8, within the limit, free of controls (but \n and \t) and of bidirectional
// embeddings, overrides and isolates, and what was sent with only those taken out (line ends
// as \n); a refusal is a fixed sentence.
func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"hello", "  padded  ", "", "   ", "\t\n", "é", strings.Repeat("x", 2001), "\xff", "a\x00b", "\u202eevil", "日本語のテキスト",
		"a\r\nb\rc", "\u2066x\u2069", "\u200fשלום\u200e", "\x1b[31mred", "\u0085\u009b", "x\x7f", "\u202a\u202b\u202c\u202d", "\t\x00\t"} {
		f.Add(s, 2000)
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, limit int) {
		if limit < 1 || limit > 100_000 {
			limit = 1 + (limit%100_000+100_000)%100_000 // configured limits are positive
		}
		out, err := CleanText(s, limit)
		if err != nil {
			if !safeTextError.MatchString(err.Error()) {
				t.Fatalf("unexpected reason %q", err.Error())
			}
			if out != "" {
				t.Fatalf("refused, yet text came back: %q", out)
			}
			return
		}
		// What may be taken out is decided here on its own, not by asking CleanText's helper.
		unwanted := func(r rune) bool {
			switch {
			case r == '\n' || r == '\t':
				return false
			case r < 0x20, r >= 0x7f && r < 0xa0:
				return true // C0, DEL, C1
			case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
				return true // embeddings, overrides, isolates
			}
			return false
		}
		kept := strings.Map(func(r rune) rune {
			if unwanted(r) {
				return -1
			}
			return r
		}, strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(s))
		switch {
		case strings.TrimFunc(out, isBlank) == "":
			t.Fatalf("accepted a message that looks empty: %q", out)
		case strings.TrimSpace(out) != out:
			t.Fatalf("accepted text not trimmed: %q", out)
		case !utf8.ValidString(out):
			t.Fatalf("accepted text is not valid UTF-8: %q", out)
		case utf8.RuneCountInString(out) > limit:
			t.Fatalf("accepted %d characters over a limit of %d", utf8.RuneCountInString(out), limit)
		case strings.ContainsFunc(out, unwanted):
			t.Fatalf("accepted text keeps a control or direction override: %q", out)
		case out != strings.TrimSpace(kept):
			t.Fatalf("accepted text %q is not the input %q with only controls and overrides taken out (%q)", out, s, strings.TrimSpace(kept))
		}
	})
}
