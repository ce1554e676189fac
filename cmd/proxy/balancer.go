package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// healthPath is the backend's readiness check: gifchat answers 200 while its database (and,
// in a cluster, NATS) is reachable and 503 otherwise.
const healthPath = "/healthz"

// backend is one gifchat instance behind the proxy.
type backend struct {
	url     *url.URL
	healthy atomic.Bool
	slow    atomic.Int32 // health checks in a row that got no answer in time
}

// slowChecks is how many health checks in a row may go unanswered in time before a backend
// is taken out of turn. An instance whose people all come back at once after a restart (10,000
// in 3.5 s) answered one /healthz in 1.2 s among many in under 0.35 s: busy, not down. Taking
// it out of turn then would send every new connection to the other instances just as its own
// people return. An answer that says unhealthy, or a refused connection, still counts at once.
const slowChecks = 3

// balancer hands each new request (a page, a form post, a room WebSocket, the lobby's event
// stream) to the next healthy backend in turn. No request is pinned to an instance: sessions
// and rooms live in the shared database, so any instance can answer any request.
type balancer struct {
	backends []*backend
	next     atomic.Uint64
	proxy    *httputil.ReverseProxy
	health   *http.Client
	log      *slog.Logger
}

func newBalancer(urls []*url.URL, log *slog.Logger) *balancer {
	b := &balancer{log: log}
	for _, u := range urls {
		b.backends = append(b.backends, &backend{url: u})
	}
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}
	b.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(r.In.Context().Value(backendKey{}).(*backend).url)
			// The browser's Host stays: gifchat compares it with Origin (cross-origin
			// protection, the WebSocket handshake), and the browser addressed the proxy.
			r.Out.Host = r.In.Host
			// X-Forwarded-For holds the client's address only (Rewrite drops what the
			// client sent), so -trust-proxy on the instances reads the proxy's word.
			r.SetXForwarded()
		},
		// Server-sent events and live pages must not wait in a buffer.
		FlushInterval: -1,
		Transport:     &failover{b: b, next: transport},
		ErrorHandler:  b.proxyError,
	}
	// Health checks get their own connections: a backend whose pool is busy with streams
	// must still be asked promptly.
	b.health = &http.Client{Transport: transport.Clone()}
	return b
}

type backendKey struct{}

// pick returns the next healthy backend in turn, or nil when none is healthy.
func (b *balancer) pick() *backend {
	n := uint64(len(b.backends))
	start := b.next.Add(1) - 1
	for i := range n {
		if be := b.backends[(start+i)%n]; be.healthy.Load() {
			return be
		}
	}
	return nil
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	be := b.pick()
	if be == nil {
		plainError(w, http.StatusBadGateway, "no healthy gifchat instance")
		return
	}
	b.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), backendKey{}, be)))
}

// failover sends a request to the backend the balancer picked and, when that backend cannot
// even be reached (a refused or timed-out dial: the instance was killed, say, and its next
// health check has not yet noticed), takes it out of turn at once and tries the next healthy
// one. Only requests without a body are retried, and a failed dial has sent nothing, so no
// request is ever made twice. This is what turns the browsers' reconnects after a kill into
// answers from the other instances rather than a second of 502s.
type failover struct {
	b    *balancer
	next http.RoundTripper
}

func (f *failover) RoundTrip(req *http.Request) (*http.Response, error) {
	for tries := 1; ; tries++ {
		resp, err := f.next.RoundTrip(req)
		var op *net.OpError
		if err == nil || !errors.As(err, &op) || op.Op != "dial" {
			return resp, err
		}
		f.b.markDown(req.URL.Host, err)
		be := f.b.pick()
		if be == nil || tries >= len(f.b.backends) || (req.Body != nil && req.Body != http.NoBody) {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.URL.Scheme, req.URL.Host = be.url.Scheme, be.url.Host
	}
}

// markDown takes the backend at host out of turn until its health check passes again.
func (b *balancer) markDown(host string, reason error) {
	for _, be := range b.backends {
		if be.url.Host == host && be.healthy.CompareAndSwap(true, false) {
			b.log.Warn("backend down", "backend", be.url.String(), "reason", reason.Error())
		}
	}
}

// proxyError answers a request no backend took.
func (b *balancer) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return // the client went away; there is nobody to answer
	}
	b.log.Info("proxy error", "method", r.Method, "path", r.URL.Path, "err", err.Error())
	plainError(w, http.StatusBadGateway, "gifchat instance unavailable")
}

func plainError(w http.ResponseWriter, status int, reason string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintln(w, reason)
}

// checkAll asks every backend's health endpoint once, all at the same time, each within
// timeout, and takes a failing one out of turn (or a recovered one back in).
func (b *balancer) checkAll(ctx context.Context, timeout time.Duration) {
	var wg sync.WaitGroup
	for _, be := range b.backends {
		wg.Go(func() {
			err := b.check(ctx, be, timeout)
			if ctx.Err() != nil {
				return // shutting down: the answer says nothing about the backend
			}
			if err != nil && timedOut(err) {
				if n := be.slow.Add(1); n < slowChecks {
					b.log.Debug("backend slow to answer", "backend", be.url.String(), "checks", n)
					return
				}
			} else {
				be.slow.Store(0)
			}
			switch {
			case err == nil && !be.healthy.Swap(true):
				b.log.Info("backend up", "backend", be.url.String())
			case err != nil && be.healthy.Swap(false):
				b.log.Warn("backend down", "backend", be.url.String(), "reason", err.Error())
			}
		})
	}
	wg.Wait()
}

// timedOut tells a check that got no answer in time from one that got a bad answer or none.
func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

func (b *balancer) check(ctx context.Context, be *backend, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, be.url.JoinPath(healthPath).String(), nil)
	if err != nil {
		return err
	}
	resp, err := b.health.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s", healthPath, resp.Status)
	}
	return nil
}

// watch checks the backends every interval until ctx ends.
func (b *balancer) watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.checkAll(ctx, interval)
		case <-ctx.Done():
			return
		}
	}
}
