package main

// Sending: each room's senders post at their rate (or flat out) until the run ends,
// reconnecting as a browser would when the server drops them.

import (
	"context"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// send runs every sender until the duration or message cap is reached, and the typers
// (if any) for as long as the senders send.
func (run *chatRun) send(ctx context.Context, senders, typers []*member) {
	stop := make(chan struct{})
	if run.cfg.Duration > 0 {
		timer := time.AfterFunc(run.cfg.Duration, func() { close(stop) })
		defer timer.Stop()
	}
	run.sendUntil(ctx, senders, typers, stop)
}

// sendUntil runs every sender until stop is closed or the message cap is reached, and the
// typers (if any) for as long as the senders send.
func (run *chatRun) sendUntil(ctx context.Context, senders, typers []*member, stop <-chan struct{}) {
	cfg := run.cfg
	var wg sync.WaitGroup
	typersStop, typersDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(typersDone)
		if len(typers) > 0 {
			run.typeUntil(ctx, typers, typersStop)
		}
	}()
	start := time.Now()
	for i, s := range senders {
		// Spread paced senders over one interval so they do not all fire
		// in the same instant every tick.
		var offset, interval time.Duration
		if cfg.Rate > 0 {
			interval = time.Duration(float64(time.Second) / cfg.Rate)
			offset = interval * time.Duration(i) / time.Duration(len(senders))
		}
		wg.Go(func() { run.sendLoop(ctx, s, stop, start.Add(offset), interval) })
	}
	wg.Wait()
	close(typersStop)
	<-typersDone
}

// sendWriteWait bounds one send, so a server that stops reading cannot
// hold a sender (and the run) forever.
const sendWriteWait = 10 * time.Second

func (run *chatRun) sendLoop(ctx context.Context, s *member, stop <-chan struct{}, first time.Time, interval time.Duration) {
	var text, frame []byte
	var pace *time.Timer
	var conn *websocket.Conn
	for seq := int64(1); run.cfg.Messages == 0 || seq <= int64(run.cfg.Messages); seq++ {
		if interval > 0 {
			if wait := time.Until(first.Add(interval * time.Duration(seq-1))); wait > 0 {
				if pace == nil {
					pace = time.NewTimer(wait)
				} else {
					pace.Reset(wait)
				}
				select {
				case <-pace.C:
				case <-stop:
					return
				case <-ctx.Done():
					return
				}
			}
		}
		select {
		case s.window <- struct{}{}:
		case <-stop:
			return
		case <-ctx.Done():
			return
		}
		select { // the window may have opened just as time ran out
		case <-stop:
			return
		default:
		}
		// Always the socket's connection of the moment; while it is down (a close, then
		// the reconnect's backoff) the message waits for the next one, as htmx queues it.
		if conn = s.sock.current(); !s.sock.isUp() {
			if conn = s.awaitReconnect(ctx, conn, stop); conn == nil {
				return
			}
		}
		for {
			text = appendLoadText(text[:0], loadText{run: run.runID, sender: int64(s.p.idx), seq: seq, sentAt: time.Now().UnixNano()})
			frame = appendSayFrame(frame[:0], text)
			_ = conn.SetWriteDeadline(time.Now().Add(sendWriteWait))
			if err := conn.WriteMessage(websocket.TextMessage, frame); err == nil {
				break
			}
			// The socket broke under us: send again on the one the reader
			// reconnects, as the browser would once it is back.
			if conn = s.awaitReconnect(ctx, conn, stop); conn == nil {
				return
			}
		}
		s.sent.Store(seq)
	}
}

// awaitReconnect waits until m's socket has replaced old and is up, and returns
// the new connection, or nil if the socket ended or the sending phase did.
func (m *member) awaitReconnect(ctx context.Context, old *websocket.Conn, stop <-chan struct{}) *websocket.Conn {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if c := m.sock.current(); c != old && m.sock.isUp() {
			return c
		}
		select {
		case <-tick.C:
		case <-m.sock.exited:
			return nil
		case <-stop:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}
