package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// A load generator aimed at the wrong address is a denial-of-service tool, so
// it refuses anything but this machine's loopback range. The check is made
// twice: once on the -addr flag, so a mistake fails before any work starts,
// and again in the dialer every connection goes through, so that nothing
// (a redirect, a Location header, a hostname that resolves elsewhere) can
// steer traffic off the machine.

// checkLoopbackAddr validates a host:port target and returns it unchanged.
// The host must be a loopback IP literal or a name that resolves only to
// loopback addresses.
func checkLoopbackAddr(ctx context.Context, hostport string) (string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", fmt.Errorf("target %q: want host:port: %w", hostport, err)
	}
	if port == "" {
		return "", fmt.Errorf("target %q: missing port", hostport)
	}
	if _, err := loopbackIPs(ctx, host); err != nil {
		return "", err
	}
	return hostport, nil
}

// loopbackIPs resolves host and returns its addresses, or an error if there
// are none or any of them is not a loopback address.
func loopbackIPs(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		if !ip.Unmap().IsLoopback() {
			return nil, fmt.Errorf("refusing non-loopback target %s: loadgen only ever targets 127.0.0.0/8 or ::1", host)
		}
		return []netip.Addr{ip}, nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("resolve %s: no addresses", host)
	}
	for _, a := range addrs {
		if !a.Unmap().IsLoopback() {
			return nil, fmt.Errorf("refusing target %s: it resolves to non-loopback %s", host, a)
		}
	}
	return addrs, nil
}

// loopbackDial is a DialContext that only ever connects to loopback
// addresses, giving up after 10 s. Every HTTP request and WebSocket of the
// tool goes through it (room sockets with a longer limit: see dialRoom).
func loopbackDial(ctx context.Context, network, addr string) (net.Conn, error) {
	return loopbackDialWithin(ctx, network, addr, 10*time.Second)
}

// loopbackDialWithin is loopbackDial giving up after timeout.
func loopbackDialWithin(ctx context.Context, network, addr string, timeout time.Duration) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := loopbackIPs(ctx, host)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: timeout, KeepAlive: -1}
	var lastErr error
	for _, ip := range ips {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		lastErr = err
	}
	return nil, lastErr
}
