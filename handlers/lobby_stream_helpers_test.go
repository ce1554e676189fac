package handlers_test

// A client for the lobby's Server-Sent Events stream (GET /rooms/events), parsed as a browser
// parses it.

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// sseEvent is one Server-Sent Event as a browser's parser sees it.
type sseEvent struct {
	Event string // the event: field; "" for a message htmx swaps
	Data  string // the data: lines joined with \n
	ID    string
}

// sseStream is an open GET /rooms/events, parsed in the background.
type sseStream struct {
	Header http.Header
	events chan sseEvent
	ended  chan struct{} // closed when the server ends the stream
	pings  atomic.Int64
}

// openLobbyStream opens the lobby stream as the person and returns once the response headers
// have arrived. The stream is closed when the test ends.
func (ts *testServer) openLobbyStream(t *testing.T, person *http.Client) *sseStream {
	t.Helper()
	return ts.openLobbyStreamWith(t, person, nil)
}

// openLobbyStreamWith is openLobbyStream with more request headers (X-Forwarded-For, ...).
func (ts *testServer) openLobbyStreamWith(t *testing.T, person *http.Client, header http.Header) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/rooms/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("HX-Request", "true")
	for k, v := range header {
		req.Header[k] = v
	}
	c := *person
	c.Timeout = 0 // the stream outlives any request timeout
	resp, err := c.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("open lobby stream: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		resp.Body.Close()
		t.Fatalf("open lobby stream: %s", resp.Status)
	}
	s := &sseStream{Header: resp.Header, events: make(chan sseEvent, 1024), ended: make(chan struct{})}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	go func() {
		defer close(s.ended)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		var ev sseEvent
		var data []string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if data != nil || ev.Event != "" {
					ev.Data = strings.Join(data, "\n")
					select {
					case s.events <- ev:
					case <-ctx.Done():
						return
					}
				}
				ev, data = sseEvent{}, nil
			case strings.HasPrefix(line, ":"):
				s.pings.Add(1)
			default:
				field, value, _ := strings.Cut(line, ":")
				value = strings.TrimPrefix(value, " ")
				switch field {
				case "data":
					data = append(data, value)
				case "event":
					ev.Event = value
				case "id":
					ev.ID = value
				}
			}
		}
	}()
	return s
}

// next returns the next event, failing the test if none comes within d.
func (s *sseStream) next(t *testing.T, d time.Duration) sseEvent {
	t.Helper()
	e, ok := s.tryNext(d)
	if !ok {
		t.Fatalf("no lobby event within %v", d)
	}
	return e
}

// tryNext returns the next event if one comes within d.
func (s *sseStream) tryNext(d time.Duration) (sseEvent, bool) {
	select {
	case e := <-s.events:
		return e, true
	case <-time.After(d):
		return sseEvent{}, false
	}
}

// waitFor skips events until one matches, failing the test if none does within d.
func (s *sseStream) waitFor(t *testing.T, d time.Duration, match func(sseEvent) bool) sseEvent {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("no matching lobby event within %v", d)
		}
		if e, ok := s.tryNext(left); ok && match(e) {
			return e
		}
	}
}

func roomEvent(id string) func(sseEvent) bool {
	return func(e sseEvent) bool { return strings.Contains(e.Data, `id="room-`+id+`"`) }
}
