package main

// Typing: while the room chats, some members who do not send say "I am typing" every
// -typing-every, as static/app.js does while a person types: it fills the room's hidden
// #message-action form (action, seq, emoji, text) and htmx sends it over the socket as JSON
// with a "headers" object. The server answers with the "… is typing" line
// (<hx-partial hx-target="#typing" …>) to the room; every member counts the lines it gets.

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// typingMarker starts every "… is typing" line the product sends.
var typingMarker = []byte(`hx-target="#typing"`)

// typingFrame is what htmx sends for app.js's sendAction({action: "typing"}): the hidden form's
// fields in document order, then the headers. It never changes, so it is built once.
var typingFrame = []byte(`{"action":"typing","seq":"","emoji":"","text":"","headers":{"HX-Request":"true"}}`)

// typingStats counts the typing traffic of a run: signals sent by the typers, and typing lines
// received by every member (one frame may carry several lines, so both are kept).
type typingStats struct {
	on      bool // set before any socket starts: count typing lines at all
	signals atomic.Int64
	lines   atomic.Int64
	frames  atomic.Int64 // frames carrying at least one line
}

// count records the typing lines in one received frame.
func (s *typingStats) count(frame []byte) {
	if s == nil || !s.on {
		return
	}
	if n := bytes.Count(frame, typingMarker); n > 0 {
		s.lines.Add(int64(n))
		s.frames.Add(1)
	}
}

// TypingFigures is the typing traffic of a chat run with -typers, during the send phase.
type TypingFigures struct {
	TypersPerRoom int     `json:"typers_per_room"`
	Typers        int     `json:"typers"` // connected when sending began
	EverySeconds  float64 `json:"every_seconds"`
	// Signals are the typing frames the typers sent; Lines the "… is typing" lines all
	// members received, in Frames WebSocket frames.
	Signals       int64   `json:"signals_sent"`
	SignalsPerSec float64 `json:"signals_sent_per_s"`
	Lines         int64   `json:"lines_received"`
	LinesPerSec   float64 `json:"lines_received_per_s"`
	Frames        int64   `json:"frames_with_lines"`
	FramesPerSec  float64 `json:"frames_with_lines_per_s"`
}

// typeUntil has every typer signal every cfg.TypingEvery, their first signals spread over one
// interval (people do not start typing in the same instant), until stop is closed.
func (run *chatRun) typeUntil(ctx context.Context, typers []*member, stop <-chan struct{}) {
	every := run.cfg.TypingEvery
	var wg sync.WaitGroup
	start := time.Now()
	for i, m := range typers {
		first := start.Add(every * time.Duration(i) / time.Duration(len(typers)))
		wg.Go(func() { run.typeLoop(ctx, m, stop, first, every) })
	}
	wg.Wait()
}

func (run *chatRun) typeLoop(ctx context.Context, m *member, stop <-chan struct{}, first time.Time, every time.Duration) {
	t := time.NewTimer(time.Until(first))
	defer t.Stop()
	for next := first; ; {
		select {
		case <-t.C:
		case <-stop:
			return
		case <-ctx.Done():
			return
		}
		// A browser whose socket is down has nothing to send on; it types on regardless.
		conn := m.sock.current()
		_ = conn.SetWriteDeadline(time.Now().Add(sendWriteWait))
		if conn.WriteMessage(websocket.TextMessage, typingFrame) == nil {
			run.typing.signals.Add(1)
		}
		next = next.Add(every)
		t.Reset(time.Until(next))
	}
}
