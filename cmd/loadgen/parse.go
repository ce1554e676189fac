package main

import (
	"bytes"
	"html"
	"math"
	"strconv"
	"strings"
)

// The server sends HTML fragments, possibly several per WebSocket frame.
// A full HTML parser would cost more CPU than the server under test spends
// rendering, and the load generator shares the machine with it, so frames
// are scanned for a few fixed markers instead.
var (
	dataSeqMarker  = []byte(`data-seq="`)
	msgTextMarker  = []byte(`class="msg-text"`)
	dataKindMarker = []byte(`data-kind="`)
	pCloseMarker   = []byte(`</p>`)
	roomIDMarker   = []byte(`id="room-`)
	// The product tells a sender that a frame was refused (rate limit,
	// unreadable frame) with a status paragraph of this class.
	statusErrorMarker = []byte(`class="status status-error"`)
)

// ScanMessages calls fn for every chat message fragment in frame, in order,
// with the message's server id and its text exactly as it appears in the
// HTML (still escaped: see UnescapeText). It returns how many it found.
//
// A message is a `data-seq="N"` attribute followed, before the next data-seq,
// by an element with class "msg-text" whose content runs to the next `</p>`.
// Anything else (member lists, notices without msg-text, form resets, GIF
// messages) is skipped. text aliases frame and is only valid during fn.
func ScanMessages(frame []byte, fn func(id int64, text []byte)) int {
	n := 0
	ScanEntries(frame, func(id int64, _, text []byte) {
		if text != nil {
			fn(id, text)
			n++
		}
	})
	return n
}

// ScanEntries calls fn for every entry of a room's log in frame, in order: each
// `data-seq="N"` whose fragment (up to the next data-seq) has a `data-kind`
// (the product's "text", "gif", "whisper", "system" for its notices) or a
// msg-text element. kind is the data-kind's value (nil without one) and text
// the msg-text's content as ScanMessages finds it (nil without one); both
// alias frame and are only valid during fn.
func ScanEntries(frame []byte, fn func(id int64, kind, text []byte)) {
	for {
		i := bytes.Index(frame, dataSeqMarker)
		if i < 0 {
			return
		}
		frame = frame[i+len(dataSeqMarker):]
		id, rest, ok := leadingInt(frame, '"')
		if !ok {
			continue
		}
		frame = rest
		// Bound the search to this fragment so that an element carrying a
		// data-seq but no text never borrows the next message's text.
		window := frame
		if next := bytes.Index(frame, dataSeqMarker); next >= 0 {
			window = frame[:next]
		}
		head := window // where the entry's own attributes are: before its text
		var text []byte
		end := -1 // offset in frame right after the text's </p>
		if j := bytes.Index(window, msgTextMarker); j >= 0 {
			head = window[:j]
			start := j + len(msgTextMarker)
			// The end of the msg-text start tag, then the text up to </p>.
			// Offsets stay relative to frame: window only bounds the search.
			if gt := bytes.IndexByte(window[start:], '>'); gt >= 0 {
				start += gt + 1
				if k := bytes.Index(window[start:], pCloseMarker); k >= 0 {
					text = frame[start : start+k : start+k]
					end = start + k + len(pCloseMarker)
				}
			}
		}
		var kind []byte
		if k := bytes.Index(head, dataKindMarker); k >= 0 {
			v := head[k+len(dataKindMarker):]
			if q := bytes.IndexByte(v, '"'); q >= 0 {
				kind = v[:q:q]
			}
		}
		if kind == nil && text == nil {
			continue
		}
		fn(id, kind, text)
		if end >= 0 {
			frame = frame[end:] // scanning resumes right after this message's </p>
		}
	}
}

// ScanStatusErrors calls fn with the (still escaped) text of every
// `<p class="status status-error">…</p>` in frame.
func ScanStatusErrors(frame []byte, fn func(text []byte)) {
	for {
		i := bytes.Index(frame, statusErrorMarker)
		if i < 0 {
			return
		}
		frame = frame[i+len(statusErrorMarker):]
		gt := bytes.IndexByte(frame, '>')
		if gt < 0 {
			return
		}
		frame = frame[gt+1:]
		end := bytes.Index(frame, pCloseMarker)
		if end < 0 {
			return
		}
		fn(frame[:end])
		frame = frame[end+len(pCloseMarker):]
	}
}

// refusalReason condenses a refusal text for tallying: the part before any
// ';' or '(' (which is where the product puts "try again in 3s"-style
// detail that would split identical causes).
func refusalReason(text []byte) string {
	s := UnescapeText(bytes.TrimSpace(text))
	if i := strings.IndexAny(s, ";("); i > 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// UnescapeText turns message text as found by ScanMessages back into what the
// sender typed. The common case (no character references) does not allocate
// beyond the string conversion.
func UnescapeText(b []byte) string {
	if bytes.IndexByte(b, '&') < 0 {
		return string(b)
	}
	return html.UnescapeString(string(b))
}

// ScanRoomIDs calls fn with ID for every `id="room-ID"` in b. The lobby
// stream renders each room as an element with such an id. Other elements
// whose id merely starts with "room-" (the list itself, form fields) are
// reported too; callers only ever look up ids they created, so that is
// harmless and keeps the scan free of product-specific exclusions.
func ScanRoomIDs(b []byte, fn func(id string)) {
	for {
		i := bytes.Index(b, roomIDMarker)
		if i < 0 {
			return
		}
		b = b[i+len(roomIDMarker):]
		end := bytes.IndexByte(b, '"')
		if end < 0 {
			return
		}
		if id := string(b[:end]); validRoomID(id) {
			fn(id)
		}
		b = b[end+1:]
	}
}

// leadingInt parses the non-negative decimal number at the start of b, which
// must be directly followed by term. It returns the rest of b after term.
func leadingInt(b []byte, term byte) (int64, []byte, bool) {
	var v int64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if i >= 18 { // would overflow int64; no id of ours is that long
			return 0, b, false
		}
		v = v*10 + int64(b[i]-'0')
	}
	if i == 0 || i >= len(b) || b[i] != term {
		return 0, b, false
	}
	return v, b[i+1:], true
}

// loadText is the payload every generated message carries, so that any
// receiver can work out who sent it, in which order, and when:
//
//	lg <run> <sender> <seq> <unix-nanos>
//
// run is random per invocation so messages left in a room by an earlier run
// (or typed by a human) are never mistaken for this run's traffic.
type loadText struct {
	run    int64
	sender int64 // global person index of the sender
	seq    int64 // 1-based, per sender
	sentAt int64 // unix nanoseconds
}

// appendLoadText appends the text form of t to dst.
func appendLoadText(dst []byte, t loadText) []byte {
	dst = append(dst, "lg "...)
	dst = strconv.AppendInt(dst, t.run, 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, t.sender, 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, t.seq, 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, t.sentAt, 10)
	return dst
}

// parseLoadText parses text produced by appendLoadText. Surrounding
// whitespace is tolerated because templates often indent element content.
func parseLoadText(b []byte) (loadText, bool) {
	b = bytes.TrimSpace(b)
	if !bytes.HasPrefix(b, []byte("lg ")) {
		return loadText{}, false
	}
	b = b[3:]
	var t loadText
	var ok bool
	fields := [...]*int64{&t.run, &t.sender, &t.seq}
	for _, f := range fields {
		if *f, b, ok = leadingInt(b, ' '); !ok {
			return loadText{}, false
		}
	}
	// The timestamp is the last field and runs to the end.
	if len(b) == 0 || len(b) > 19 {
		return loadText{}, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return loadText{}, false
		}
		d := int64(c - '0')
		if t.sentAt > (math.MaxInt64-d)/10 {
			return loadText{}, false
		}
		t.sentAt = t.sentAt*10 + d
	}
	return t, true
}

// appendSayFrame appends the JSON frame htmx sends for the chat form:
// {"action":"say","text":"...","headers":{"HX-Request":"true"}}.
// text must not need JSON escaping (load texts never do), which lets the hot
// send path skip encoding/json.
func appendSayFrame(dst, text []byte) []byte {
	dst = append(dst, `{"action":"say","text":"`...)
	dst = append(dst, text...)
	dst = append(dst, `","headers":{"HX-Request":"true"}}`...)
	return dst
}
