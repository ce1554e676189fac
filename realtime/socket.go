package realtime

import (
	"bufio"
	"errors"
	"net"
	"net/http"

	"github.com/gorilla/websocket"

	"gifchat/i18n"
)

// ReadBufferSize is a room socket's read buffer: client frames are small JSON. It must stay
// over 256 bytes, or gorilla leaves it and makes a 4 KiB buffer of its own. A parked socket
// (idle, on Linux) lends it to a pool until it reads again.
const ReadBufferSize = 512

// Socket is an upgraded room socket, ready for Rooms.Serve.
type Socket struct {
	*websocket.Conn
	idle *idleWait // nil where an idle socket cannot wait shallowly (TLS, other systems)
	// Lang is the language the socket's fragments are rendered in: the request's.
	Lang i18n.Lang
	// Panel is the fingerprint of the members panel the page shows (?panel=, from
	// MembersDigestTag), "" if none or not one: with it the hub need not send a panel the
	// page already has.
	Panel string
}

// Upgrade is u.Upgrade, except that the connection's read buffer is made here (u's
// ReadBufferSize must be 0; gorilla then reads through the buffer it is handed at the
// hijack). Knowing the buffer lets an idle socket's reader wait for the next frame outside
// gorilla's reader, or park the socket and let its goroutine go (see Client.serve).
func Upgrade(u *websocket.Upgrader, w http.ResponseWriter, r *http.Request) (Socket, error) {
	h := &smallBufferHijacker{ResponseWriter: w}
	conn, err := u.Upgrade(h, r, nil)
	if err != nil {
		return Socket{}, err
	}
	s := Socket{Conn: conn, Lang: i18n.From(r.Context()), Panel: panelDigestParam(r.URL.Query().Get("panel"))}
	if u.ReadBufferSize == 0 && h.br != nil {
		s.idle = newIdleWait(conn.NetConn(), h.br)
	}
	return s, nil
}

// smallBufferHijacker hands gorilla a small read buffer of ours in place of net/http's 4 KiB
// one, which it would otherwise keep for the life of the socket.
type smallBufferHijacker struct {
	http.ResponseWriter
	br *bufio.Reader
}

func (h *smallBufferHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the response cannot be hijacked")
	}
	conn, brw, err := hj.Hijack()
	if err != nil || brw.Reader.Buffered() > 0 {
		return conn, brw, err // gorilla refuses a client that sent data before the handshake
	}
	h.br = bufio.NewReaderSize(conn, ReadBufferSize)
	return conn, bufio.NewReadWriter(h.br, brw.Writer), nil
}

func (h *smallBufferHijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// panelDigestParam is a ?panel= value as MembersDigest makes them (base 36 of 64 bits), or ""
// for anything else: a fingerprint that matches nothing only costs the whole panel.
func panelDigestParam(v string) string {
	if len(v) == 0 || len(v) > 13 {
		return ""
	}
	for _, r := range v {
		if (r < '0' || r > '9') && (r < 'a' || r > 'z') {
			return ""
		}
	}
	return v
}
