package realtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Frame is what a browser sends over a room socket: htmx 4 serialises the form's fields at
// the top level, merges hx-vals, and adds a "headers" object.
type Frame struct {
	Action  string          `json:"action"`
	Text    string          `json:"text"`
	To      string          `json:"to"`
	Member  string          `json:"member"`
	Headers json.RawMessage `json:"headers"`
}

// Frame actions.
const (
	ActionSay           = "say"
	ActionWhisperTo     = "whisper-to"
	ActionWhisperCancel = "whisper-cancel"
	ActionKick          = "kick"
)

// ErrFrame is wrapped by every decoding refusal; its text is fit to show the sender.
var ErrFrame = errors.New("that message could not be read")

// DecodeFrame parses one client frame strictly: JSON object, known fields, a known action,
// ids that are numbers. Its errors are safe to show the sender.
func DecodeFrame(data []byte) (Frame, error) {
	var f Frame
	if !utf8.Valid(data) {
		return f, fmt.Errorf("%w: not UTF-8 text", ErrFrame)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &ute):
			return Frame{}, fmt.Errorf("%w: field %q has the wrong type", ErrFrame, ute.Field)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return Frame{}, fmt.Errorf("%w: unknown field", ErrFrame)
		default:
			return Frame{}, fmt.Errorf("%w: not a JSON object", ErrFrame)
		}
	}
	if dec.More() {
		return Frame{}, fmt.Errorf("%w: trailing data", ErrFrame)
	}
	switch f.Action {
	case ActionSay, ActionWhisperCancel:
	case ActionWhisperTo:
		if _, err := parseID(f.To); err != nil {
			return Frame{}, fmt.Errorf("%w: bad member id", ErrFrame)
		}
	case ActionKick:
		if _, err := parseID(f.Member); err != nil {
			return Frame{}, fmt.Errorf("%w: bad member id", ErrFrame)
		}
	case "":
		return Frame{}, fmt.Errorf("%w: no action", ErrFrame)
	default:
		return Frame{}, fmt.Errorf("%w: unknown action", ErrFrame)
	}
	if f.Action == ActionSay && f.To != "" {
		if _, err := parseID(f.To); err != nil {
			return Frame{}, fmt.Errorf("%w: bad member id", ErrFrame)
		}
	}
	return f, nil
}

func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, errors.New("bad id")
	}
	return id, nil
}

// CleanText trims a message and checks its length in characters; the error is for the sender.
func CleanText(s string, maxRunes int) (string, error) {
	// Socket frames are checked as a whole; a plain form post is not, and bytes that are not
	// UTF-8 would be stored and shown as garbage.
	if !utf8.ValidString(s) {
		return "", errors.New("That message is not valid text.")
	}
	s = strings.TrimSpace(s)
	// A message of only invisible characters (zero-width spaces, joiners) looks empty too.
	if strings.TrimFunc(s, isBlank) == "" {
		return "", errors.New("Write something first: empty messages are not sent.")
	}
	if n := utf8.RuneCountInString(s); n > maxRunes {
		return "", fmt.Errorf("That message is %d characters long; the limit is %d.", n, maxRunes)
	}
	return s, nil
}

// isBlank is space or an invisible format character (zero-width space, joiners, BOM).
func isBlank(r rune) bool { return unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) }
