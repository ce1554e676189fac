package handlers

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// requestAddr is the client's address as limits and bars count it: the TCP peer, or with
// trustProxy the last X-Forwarded-For entry (set by the one proxy in front). IPv6 addresses
// count by their /64, the block one subscriber usually holds, or a single machine could step
// through addresses to escape a limit or a bar.
func requestAddr(r *http.Request, trustProxy bool) netip.Addr {
	var addr netip.Addr
	if trustProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			addr, _ = netip.ParseAddr(strings.TrimSpace(last))
		}
	}
	if !addr.IsValid() {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		addr, _ = netip.ParseAddr(host)
	}
	return addrKey(addr)
}

// barAddr is the client's address as room bars key it ("" when unknown): the one
// withClientAddr noted for the request.
func barAddr(r *http.Request) string {
	a := clientAddrFrom(r.Context())
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
