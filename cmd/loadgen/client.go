package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// sessionCookie is the product's session cookie.
const sessionCookie = "gifchat_session"

// server describes where a workload is sent: the product or the baseline.
type server struct {
	name      string // "product" or "baseline", used in reports
	addr      string // host:port, already checked to be loopback
	pid       int    // process to read RSS from, 0 for none
	rssSource string // what the RSS figure covers, for the report
	base      *url.URL
	origin    string // the Origin header a browser on this site sends
	transport *http.Transport
	// more are further instances of the same product (-targets) that the people of every
	// room are spread over, round robin after this one; empty for a single instance.
	more []*server
}

func newServer(name, addr string, pid int, rssSource string) *server {
	return &server{
		name:      name,
		addr:      addr,
		pid:       pid,
		rssSource: rssSource,
		base:      &url.URL{Scheme: "http", Host: addr},
		origin:    "http://" + addr,
		transport: &http.Transport{
			DialContext: loopbackDial,
			// Setup fires hundreds of small requests at once; keeping idle
			// connections around avoids a fresh TCP handshake for each.
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		},
	}
}

func (s *server) close() {
	for _, in := range s.instances() {
		in.transport.CloseIdleConnections()
	}
}

// spreadOver makes the people of every room talk to s and the further instances in turn
// (see instance), as a load balancer would spread them over a cluster.
func (s *server) spreadOver(more ...*server) *server {
	s.more = more
	return s
}

// instances lists the instances people are spread over, s first.
func (s *server) instances() []*server {
	return append([]*server{s}, s.more...)
}

// instance returns the instance the j-th person of a room talks to: s for j = 0 (so the
// person who creates a room creates it on the first instance), then each further one in turn.
func (s *server) instance(j int) *server {
	if k := j % (len(s.more) + 1); k > 0 {
		return s.more[k-1]
	}
	return s
}

// addrs names every instance, for reports: "127.0.0.1:8011,127.0.0.1:8012".
func (s *server) addrs() string {
	var l []string
	for _, in := range s.instances() {
		l = append(l, in.addr)
	}
	return strings.Join(l, ",")
}

// person is one simulated user: its own cookie jar and therefore its own
// session, exactly like a separate browser.
type person struct {
	idx    int
	srv    *server
	jar    http.CookieJar
	client *http.Client
}

func newPerson(srv *server, idx int) *person {
	jar, _ := cookiejar.New(nil) // never fails with nil options
	return &person{
		idx: idx,
		srv: srv,
		jar: jar,
		client: &http.Client{
			Transport: srv.transport,
			Jar:       jar,
			// Following redirects is what a browser does for GETs; the
			// dialer still refuses anything off loopback.
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= 5 {
					return errors.New("too many redirects")
				}
				return nil
			},
		},
	}
}

func (p *person) url(path string) string { return p.srv.base.JoinPath(path).String() }

// getPage performs a GET and returns the body of a 200 answer.
func (p *person) getPage(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url(path), nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return body, nil
}

// startSession fetches the home page, which is what issues the session cookie.
func (p *person) startSession(ctx context.Context) error {
	if _, err := p.getPage(ctx, "/"); err != nil {
		return err
	}
	for _, c := range p.jar.Cookies(p.srv.base) {
		if c.Name == sessionCookie {
			return nil
		}
	}
	return fmt.Errorf("GET /: no %s cookie set", sessionCookie)
}

// createRoom posts the create-room form and returns the new room's id, taken
// from the 303's Location. The redirect is deliberately not followed: the
// Location is the answer.
func (p *person) createRoom(ctx context.Context, title string, capacity int) (string, error) {
	form := url.Values{"title": {title}, "capacity": {strconv.Itoa(capacity)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url("/rooms"), strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", p.srv.origin)
	noFollow := *p.client
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noFollow.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("POST /rooms: %s: %s", resp.Status, oneLine(body))
	}
	loc, err := resp.Location()
	if err != nil {
		return "", fmt.Errorf("POST /rooms: %w", err)
	}
	id, ok := roomIDFromPath(loc.Path)
	if !ok {
		return "", fmt.Errorf("POST /rooms: unexpected Location %q", loc)
	}
	return id, nil
}

// roomIDFromPath extracts ID from "/rooms/ID". Room ids are opaque tokens
// (the product uses 16 base32 letters), taken as is if they are path-safe.
func roomIDFromPath(path string) (string, bool) {
	id, ok := strings.CutPrefix(path, "/rooms/")
	return id, ok && validRoomID(id)
}

// validRoomID accepts non-empty ids of letters, digits, '-' and '_'.
func validRoomID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// oneLine shortens a response body for an error message.
func oneLine(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// socketWait is how long a room socket's connection, and then its handshake, may take. A
// browser has no limit of its own but the system's (a connection whose SYN a full listen
// queue dropped is retried for minutes), so a crowd reconnecting to a server that cannot keep
// up waits in the queue rather than giving up and backing off again. A minute keeps a run
// bounded while staying above what a storm takes.
const socketWait = 60 * time.Second

// dialRoom opens the room's WebSocket with the person's session cookie and
// the site's Origin, as the browser would, asking for the messages after
// the given id to be replayed.
func (p *person) dialRoom(ctx context.Context, room string, after int64, panel string) (*websocket.Conn, error) {
	d := websocket.Dialer{
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return loopbackDialWithin(ctx, network, addr, socketWait)
		},
		HandshakeTimeout: socketWait,
		Jar:              p.jar,
		ReadBufferSize:   16 << 10,
		WriteBufferSize:  4 << 10,
	}
	q := afterQuery(after)
	if panel != "" {
		q += "&panel=" + url.QueryEscape(panel)
	}
	u := url.URL{Scheme: "ws", Host: p.srv.addr, Path: "/rooms/" + room + "/ws", RawQuery: q}
	h := http.Header{"Origin": {p.srv.origin}}
	conn, resp, err := d.DialContext(ctx, u.String(), h)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("ws handshake: HTTP %s", resp.Status)
		}
		return nil, err
	}
	return conn, nil
}

// openLobby starts the lobby's server-sent event stream. The caller reads and
// closes the body; cancelling ctx ends the stream.
func (p *person) openLobby(ctx context.Context) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url("/rooms/events"), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET /rooms/events: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		resp.Body.Close()
		return nil, fmt.Errorf("GET /rooms/events: Content-Type %q, want text/event-stream", ct)
	}
	return resp, nil
}

// closeReason describes why a WebSocket read ended, keeping the server's
// close code and reason (e.g. "4003 room full") when there is one.
func closeReason(err error) string {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		if ce.Text != "" {
			return strconv.Itoa(ce.Code) + " " + ce.Text
		}
		return strconv.Itoa(ce.Code)
	}
	return shortErr(err)
}

// shortErr trims an error to its last, most specific part so that failure
// tallies group identical causes (addresses and ports would split them).
func shortErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && i+2 < len(s) {
		s = s[i+2:]
	}
	return s
}
