package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

type scanned struct {
	ID   int64
	Text string
}

func scanAll(frame string) []scanned {
	var out []scanned
	ScanMessages([]byte(frame), func(id int64, text []byte) {
		out = append(out, scanned{id, UnescapeText(text)})
	})
	return out
}

// A frame as the product may send it: several hx-partial fragments, one of
// them a members list whose items also carry data-seq, a system notice, a GIF
// message without msg-text, escaped text, indentation and extra attributes.
const sampleFrame = `<hx-partial hx-target="#members" hx-swap="innerHTML"><ul><li data-seq="7">ann</li><li data-seq="8">bob</li></ul></hx-partial>
<hx-partial hx-target="#messages" hx-swap="beforeend">
  <article id="msg-123" class="msg" data-seq="123" data-author="7" data-kind="text">
    <header><span class="msg-author">ann</span> <time datetime="2026-01-01T00:00:00Z">00:00</time></header>
    <p class="msg-text">lg 42 0 1 1700000000000000000</p>
  </article>
</hx-partial>
<hx-partial hx-target="#messages" hx-swap="beforeend"><article id="msg-124" class="msg" data-seq="124" data-author="8" data-kind="gif"><img src="/static/gif/1.gif" alt="cat"></article></hx-partial>
<hx-partial hx-target="#messages" hx-swap="beforeend"><article id="msg-125" class="msg notice" data-seq="125" data-kind="system"><p class="msg-system">bob joined</p></article></hx-partial>
<hx-partial hx-target="#messages" hx-swap="beforeend"><article id="msg-126" class="msg" data-seq="126" data-author="8" data-kind="text"><p class="msg-text" dir="auto">&lt;b&gt;hi&lt;/b&gt; &amp; &#39;bye&#39; &quot;x&quot;</p></article></hx-partial>
<form id="say" hx-swap-oob="true"><input name="text" value=""></form>`

func TestScanMessagesSeveralFragments(t *testing.T) {
	got := scanAll(sampleFrame)
	want := []scanned{
		{123, "lg 42 0 1 1700000000000000000"},
		{126, `<b>hi</b> & 'bye' "x"`},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ScanMessages:\n got %+v\nwant %+v", got, want)
	}
}

func TestScanMessagesEdgeCases(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame string
		want  []scanned
	}{
		{"empty", "", nil},
		{"no messages", `<div id="members"><span data-seq="x">?</span></div>`, nil},
		{"baseline rendering", string(appendMessageHTML(nil, 9, 3, "a < b")), []scanned{{9, "a < b"}}},
		{"truncated text", `<article data-seq="1"><p class="msg-text">never closed`, nil},
		{"truncated tag", `<article data-seq="1"><p class="msg-text"`, nil},
		{"non-numeric id skipped", `<i data-seq="abc"></i><article data-seq="2"><p class="msg-text">ok</p>`, []scanned{{2, "ok"}}},
		{"text-less element does not borrow next text",
			`<li data-seq="5">member</li><article data-seq="6"><p class="msg-text">six</p></article>`,
			[]scanned{{6, "six"}}},
		{"adjacent without separators",
			`<article data-seq="1"><p class="msg-text">a</p></article><article data-seq="2"><p class="msg-text">b</p></article>`,
			[]scanned{{1, "a"}, {2, "b"}}},
		{"empty text", `<article data-seq="3"><p class="msg-text"></p>`, []scanned{{3, ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := scanAll(tc.frame); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestScanMessagesFindsLoadTextInSample(t *testing.T) {
	var found []loadText
	ScanMessages([]byte(sampleFrame), func(_ int64, text []byte) {
		if lt, ok := parseLoadText(text); ok {
			found = append(found, lt)
		}
	})
	want := []loadText{{run: 42, sender: 0, seq: 1, sentAt: 1700000000000000000}}
	if !reflect.DeepEqual(found, want) {
		t.Errorf("got %+v, want %+v", found, want)
	}
}

func TestLoadTextRoundTrip(t *testing.T) {
	in := loadText{run: 1 << 39, sender: 499, seq: 123456, sentAt: 1764105600123456789}
	text := appendLoadText(nil, in)
	if got := string(text); got != "lg 549755813888 499 123456 1764105600123456789" {
		t.Errorf("text = %q", got)
	}
	out, ok := parseLoadText(text)
	if !ok || out != in {
		t.Errorf("parse = %+v %v, want %+v", out, ok, in)
	}
	// Indentation around the text, as a template may produce, is fine.
	if out, ok := parseLoadText([]byte("\n   " + string(text) + "\n ")); !ok || out != in {
		t.Errorf("indented parse = %+v %v", out, ok)
	}
}

func TestParseLoadTextRejects(t *testing.T) {
	for _, s := range []string{
		"", "hello", "lg", "lg ", "lg 1 2 3", "lg 1 2 3 ", "lg 1 2 3 x",
		"lg a 2 3 4", "lg 1 2 3 4 5", "lg -1 2 3 4", "LG 1 2 3 4",
		"lg 1 2 3 99999999999999999999", // overflows int64
	} {
		if lt, ok := parseLoadText([]byte(s)); ok {
			t.Errorf("parseLoadText(%q) = %+v, want rejection", s, lt)
		}
	}
}

func TestSayFrameIsHtmxJSON(t *testing.T) {
	frame := appendSayFrame(nil, appendLoadText(nil, loadText{run: 1, sender: 2, seq: 3, sentAt: 4}))
	var got struct {
		Action  string            `json:"action"`
		Text    string            `json:"text"`
		Headers map[string]string `json:"headers"`
	}
	if err := json.Unmarshal(frame, &got); err != nil {
		t.Fatalf("frame %s is not JSON: %v", frame, err)
	}
	if got.Action != "say" || got.Text != "lg 1 2 3 4" || got.Headers["HX-Request"] != "true" {
		t.Errorf("decoded %+v", got)
	}
}

// TestTypingFrameIsHtmxJSON: the typing signal is what htmx sends for app.js's hidden
// #message-action form: its four fields, empty but the action, and the headers.
func TestTypingFrameIsHtmxJSON(t *testing.T) {
	var got map[string]any
	if err := json.Unmarshal(typingFrame, &got); err != nil {
		t.Fatalf("frame %s is not JSON: %v", typingFrame, err)
	}
	want := map[string]any{"action": "typing", "seq": "", "emoji": "", "text": "", "headers": map[string]any{"HX-Request": "true"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded %v, want %v", got, want)
	}
}

func TestTypingStatsCountsLinesAndFrames(t *testing.T) {
	line := `<hx-partial hx-target="#typing" hx-swap="innerHTML">ann is typing…</hx-partial>`
	msg := `<hx-partial hx-target="#messages" hx-swap="beforeend"><article data-seq="3"><p class="msg-text">hi</p></article></hx-partial>`
	var off typingStats
	off.count([]byte(line))
	if off.lines.Load() != 0 {
		t.Error("counted typing lines without -typers")
	}
	s := typingStats{on: true}
	for _, f := range []string{line, msg, line + msg + line, ""} {
		s.count([]byte(f))
	}
	if l, f := s.lines.Load(), s.frames.Load(); l != 3 || f != 2 {
		t.Errorf("counted %d lines in %d frames, want 3 in 2", l, f)
	}
}

func TestScanRoomIDs(t *testing.T) {
	var ids []string
	ScanRoomIDs([]byte(`<hx-partial hx-target="#room-list" hx-swap="afterbegin"><ul id="rooms"><li id="room-abcdefghijklmnop" class="room-card">a</li><li id="room-bad id">?</li>
<li class="room" id="room-22"><a href="/rooms/22">b</a></li></ul></hx-partial><li id="room-unterminated`),
		func(id string) { ids = append(ids, id) })
	if !reflect.DeepEqual(ids, []string{"abcdefghijklmnop", "22"}) {
		t.Errorf("ids = %q, want [abcdefghijklmnop 22]", ids)
	}
}

func TestRoomIDFromPath(t *testing.T) {
	for path, want := range map[string]string{
		"/rooms/abcdefghijklmnop": "abcdefghijklmnop", "/rooms/7": "7",
		"/rooms/": "", "/rooms/a/b": "", "/lobby/x": "", "/rooms/a%20b": "",
	} {
		got, ok := roomIDFromPath(path)
		if got != want && ok || ok != (want != "") {
			t.Errorf("roomIDFromPath(%q) = %q %v, want %q", path, got, ok, want)
		}
	}
}

func TestReadSSE(t *testing.T) {
	stream := ": comment\n" +
		"event: rooms\n" +
		"data: <ul>\n" +
		"data:<li id=\"room-1\">a</li>\n" +
		"data: </ul>\n" +
		"\n" +
		"id: 7\n" +
		"data: <li id=\"room-2\">b</li>\n" +
		"\n" +
		"\n" + // an empty event is not dispatched
		"data: unterminated\n" // no blank line: never dispatched
	var events []string
	if err := readSSE(strings.NewReader(stream), func(d []byte) { events = append(events, string(d)) }); err != nil {
		t.Fatal(err)
	}
	want := []string{"<ul>\n<li id=\"room-1\">a</li>\n</ul>", `<li id="room-2">b</li>`}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("events = %q, want %q", events, want)
	}
}

func BenchmarkScanMessages(b *testing.B) {
	frame := []byte(sampleFrame)
	b.SetBytes(int64(len(frame)))
	for range b.N {
		ScanMessages(frame, func(int64, []byte) {})
	}
}

func TestScanStatusErrors(t *testing.T) {
	frame := `<hx-partial hx-target="#room-status" hx-swap="innerHTML"><p class="status status-error">You are sending messages too fast; wait a moment and send again (in 2s).</p></hx-partial>` +
		`<hx-partial hx-target="#room-status"><p class="status status-closed">closed</p></hx-partial>` +
		`<p class="status status-error">That message could not be read: &#34;x&#34; (unknown field).</p>`
	var reasons []string
	ScanStatusErrors([]byte(frame), func(text []byte) { reasons = append(reasons, refusalReason(text)) })
	want := []string{"You are sending messages too fast", `That message could not be read: "x"`}
	if !reflect.DeepEqual(reasons, want) {
		t.Errorf("reasons %q, want %q", reasons, want)
	}
}

func TestLastPanelDigest(t *testing.T) {
	for in, want := range map[string]string{
		``: ``,
		`<span id="members-digest" hidden data-digest="3k9x"></span>`:                                                    `3k9x`,
		`<span id="members-digest" hidden data-digest="aa"></span> … <span id="members-digest" hidden data-digest="bb">`: `bb`,
		`<span id="members-digest" hidden data-digest=""></span>`:                                                        ``,
		`<span id="members-digest" hidden data-digest="0123456789abcdef"></span>`:                                        ``,
		`<span id="members-digest" hidden data-digest="unterminated`:                                                     ``,
	} {
		if got := lastPanelDigest([]byte(in)); got != want {
			t.Errorf("lastPanelDigest(%q) = %q, want %q", in, got, want)
		}
	}
}
