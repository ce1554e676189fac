package realtime

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gifchat/i18n"

	"github.com/gorilla/websocket"

	"gifchat/components"
	"gifchat/db"
	"gifchat/vocab"
)

// BenchmarkRenderMessage measures rendering one text message fragment.
func BenchmarkRenderMessage(b *testing.B) {
	m := components.Message{Seq: 123456, Kind: vocab.KindText, Author: components.Person{ID: 7, Name: "brisk-otter-42", Colour: "c3"},
		Text: "Hello there, this is a fairly ordinary chat message of ordinary length.", At: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := renderIn(i18n.En, components.MessageOOB(m)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFanOut posts one message to a room of N real WebSocket readers over loopback and
// waits until every reader has it: persist + render once + queue to N + N frames written.
func BenchmarkFanOut(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("sockets=%d", n), func(b *testing.B) {
			benchFanOut(b, n)
		})
	}
}

func benchFanOut(b *testing.B, n int) {
	e := newEnvB(b, Config{SendQueue: 4096})
	owner := e.personB(b, "owner")
	room, err := e.store.CreateRoom(context.Background(), db.Room{ID: "benchroom0000000", Title: "Bench", Capacity: n + 1, OwnerID: owner.ID})
	if err != nil {
		b.Fatal(err)
	}
	hub := e.rooms.Add(room)
	var received, frames atomic.Int64
	var wg sync.WaitGroup
	conns := make([]*websocket.Conn, n)
	for i := range n {
		who := e.personB(b, "reader")
		// after = a huge id: like a browser that just loaded the page, nothing to replay.
		u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + fmt.Sprintf("/ws?room=%s&who=%d&after=%d", room.ID, who.ID, int64(1)<<60)
		conn, _, err := websocket.DefaultDialer.Dial(u, nil)
		if err != nil {
			b.Fatal(err)
		}
		conns[i] = conn
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, data, err := conn.ReadMessage()
				if err != nil {
					return
				}
				frames.Add(1)
				received.Add(int64(strings.Count(string(data), `data-kind="text"`)))
			}
		}()
	}
	// Let the join notices (n²/2 deliveries) settle before timing.
	for last := int64(-1); frames.Load() != last; time.Sleep(300 * time.Millisecond) {
		last = frames.Load()
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		target := int64(i+1) * int64(n)
		if err := hub.Post(ctx, owner, &db.Message{Kind: vocab.KindText, Body: "benchmark message"}); err != nil {
			b.Fatal(err)
		}
		for received.Load() < target {
			time.Sleep(20 * time.Microsecond)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
}
