// Package metrics is gifchat's Prometheus instrumentation. Its methods have the shapes of
// the hooks the other packages expose (realtime.Hooks, realtime.LobbyHooks, handlers.Events,
// the rate limiter's OnLimited), so main wires them without any package importing this one.
// Each Metrics has its own registry: tests build several servers in one process.
package metrics

import (
	"bufio"
	"bytes"
	"errors"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds every collector of one server.
type Metrics struct {
	reg *prometheus.Registry

	socketsOpen      prometheus.Gauge
	lobbySubscribers prometheus.Gauge
	lobbyDropped     prometheus.Counter
	messages         *prometheus.CounterVec
	refusals         *prometheus.CounterVec
	slowDrops        prometheus.Counter
	renders          prometheus.Counter
	rateLimited      *prometheus.CounterVec
	gifsPosted       prometheus.Counter
	gifBytes         prometheus.Counter
	storeFailures    prometheus.Counter
	storeWait        prometheus.Histogram
	storeCommit      prometheus.Histogram
	storeBatch       prometheus.Histogram
	requests         *prometheus.CounterVec
	cluster          *prometheus.CounterVec
	gapFilled        prometheus.Counter
	nats             *prometheus.CounterVec
}

// New builds the collectors on a fresh registry, with the Go runtime and process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{reg: reg}
	m.socketsOpen = prometheus.NewGauge(prometheus.GaugeOpts{Name: "gifchat_sockets_open",
		Help: "Room WebSockets admitted and open now."})
	m.lobbySubscribers = prometheus.NewGauge(prometheus.GaugeOpts{Name: "gifchat_lobby_subscribers",
		Help: "Lobby event streams (SSE) open now."})
	m.lobbyDropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "gifchat_lobby_dropped_total",
		Help: "Lobby streams dropped for falling behind (they reconnect and get a snapshot)."})
	m.messages = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gifchat_messages_total",
		Help: "Messages stored and fanned out, by kind (text, gif, system, whisper)."}, []string{"kind"})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gifchat_socket_refusals_total",
		Help: "Room sockets refused at admission, by reason (full, password, gone, barred, too_many, error)."}, []string{"reason"})
	m.slowDrops = prometheus.NewCounter(prometheus.CounterOpts{Name: "gifchat_slow_client_drops_total",
		Help: "Room sockets closed because their send queue was full (1013; they reconnect and replay)."})
	m.renders = prometheus.NewCounter(prometheus.CounterOpts{Name: "gifchat_fragment_renders_total",
		Help: "HTML fragments rendered by the room hubs (each is sent to every recipient as the same bytes)."})
	m.rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gifchat_rate_limited_total",
		Help: "Actions refused by a rate limit, by action and by the bucket that refused (session, address, full)."}, []string{"action", "scope"})
	m.gifsPosted = prometheus.NewCounter(prometheus.CounterOpts{Name: "gifchat_gifs_posted_total",
		Help: "GIFs posted to rooms."})
	m.gifBytes = prometheus.NewCounter(prometheus.CounterOpts{Name: "gifchat_gif_upload_bytes_total",
		Help: "Bytes of GIFs posted to rooms."})
	m.storeFailures = prometheus.NewCounter(prometheus.CounterOpts{Name: "gifchat_message_store_failures_total",
		Help: "Batches of messages the database refused to store (full disk, I/O errors); their senders were told."})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gifchat_http_requests_total",
		Help: "HTTP requests by route pattern and status code (101 for WebSocket upgrades)."}, []string{"route", "code"})
	m.cluster = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gifchat_cluster_entries_total",
		Help: "With several instances: room log entries published to the others, delivered here from them, dropped as already delivered, and gap fills that failed (retried by the tail check)."}, []string{"event"})
	m.gapFilled = prometheus.NewCounter(prometheus.CounterOpts{Name: "gifchat_cluster_gap_filled_entries_total",
		Help: "With several instances: entries read from the database because their publish was overtaken or lost."})
	m.nats = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gifchat_nats_connection_events_total",
		Help: "With several instances: NATS disconnections and reconnections."}, []string{"event"})
	// Where a message's milliseconds go before anyone sees it: the store is the slow part, and
	// these tell a slow disk (commits take long) from a busy writer (waits exceed commits).
	// Half-octave buckets: a p99 read off them is within a factor of 1.41, which is what
	// telling a 1.4 ms commit from a 2 ms one (one fsync more or less) needs.
	durations := prometheus.ExponentialBuckets(0.00025, math.Sqrt2, 27) // 0.25 ms to 2 s
	m.storeWait = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "gifchat_store_wait_seconds",
		Help: "Time from a room handing messages to the group-commit writer until they are committed: the commit running before theirs, then their own.", Buckets: durations})
	m.storeCommit = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "gifchat_store_commit_seconds",
		Help: "Time one group commit takes, the WAL sync (SQLite) or the server's commit (PostgreSQL) included.", Buckets: durations})
	m.storeBatch = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "gifchat_store_commit_messages",
		Help: "Messages stored by one group commit.", Buckets: prometheus.ExponentialBuckets(1, 2, 11)})
	for _, c := range []prometheus.Collector{m.socketsOpen, m.lobbySubscribers, m.lobbyDropped, m.messages, m.refusals,
		m.slowDrops, m.renders, m.rateLimited, m.gifsPosted, m.gifBytes, m.storeFailures, m.storeWait, m.storeCommit, m.storeBatch,
		m.requests, m.cluster, m.gapFilled, m.nats} {
		f(c)
	}
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Known label values start at zero, so rate() and alerts work before the first event.
	for _, k := range []string{"text", "gif", "system", "whisper"} {
		m.messages.WithLabelValues(k)
	}
	for _, r := range []string{"full", "password", "gone", "barred", "too_many", "error"} {
		m.refusals.WithLabelValues(r)
	}
	return m
}

// ClusterPublished, ClusterDelivered, ClusterDuplicate, ClusterGapFilled and
// ClusterFillFailed have the shapes of realtime.ClusterHooks.
func (m *Metrics) ClusterPublished()      { m.cluster.WithLabelValues("published").Inc() }
func (m *Metrics) ClusterDelivered()      { m.cluster.WithLabelValues("delivered").Inc() }
func (m *Metrics) ClusterDuplicate()      { m.cluster.WithLabelValues("duplicate").Inc() }
func (m *Metrics) ClusterFillFailed()     { m.cluster.WithLabelValues("fill_failed").Inc() }
func (m *Metrics) ClusterGapFilled(n int) { m.gapFilled.Add(float64(n)) }
func (m *Metrics) NATSDisconnected()      { m.nats.WithLabelValues("disconnected").Inc() }
func (m *Metrics) NATSReconnected()       { m.nats.WithLabelValues("reconnected").Inc() }

// Registry is the registry the collectors are on (tests read it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})
}

// RoomsLive reports the number of live rooms through fn, read at every scrape.
func (m *Metrics) RoomsLive(fn func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gifchat_rooms_live",
		Help: "Rooms that exist now (each has a hub)."}, func() float64 { return float64(fn()) }))
}

// SocketsDelta is realtime.Hooks.Sockets.
func (m *Metrics) SocketsDelta(delta int) { m.socketsOpen.Add(float64(delta)) }

// SlowClient is realtime.Hooks.SlowClient.
func (m *Metrics) SlowClient() { m.slowDrops.Inc() }

// Message is realtime.Hooks.Message.
func (m *Metrics) Message(kind string) { m.messages.WithLabelValues(kind).Inc() }

// Render is realtime.Hooks.Render.
func (m *Metrics) Render() { m.renders.Inc() }

// Refused is realtime.Hooks.Refused.
func (m *Metrics) Refused(reason string) { m.refusals.WithLabelValues(reason).Inc() }

// LobbySubscribers is realtime.LobbyHooks.Subscribers.
func (m *Metrics) LobbySubscribers(n int) { m.lobbySubscribers.Set(float64(n)) }

// LobbyDropped is realtime.LobbyHooks.Dropped.
func (m *Metrics) LobbyDropped() { m.lobbyDropped.Inc() }

// RateLimited is the rate limiter's OnLimited.
func (m *Metrics) RateLimited(action, scope string) {
	m.rateLimited.WithLabelValues(action, scope).Inc()
}

// GIFPosted is handlers.Events.GIFPosted.
func (m *Metrics) GIFPosted(bytes int64) {
	m.gifsPosted.Inc()
	m.gifBytes.Add(float64(bytes))
}

// StoreFailed counts a batch of messages that could not be stored.
func (m *Metrics) StoreFailed() { m.storeFailures.Inc() }

// StoreWaited records how long a room waited for its messages to be committed.
func (m *Metrics) StoreWaited(d time.Duration) { m.storeWait.Observe(d.Seconds()) }

// StoreCommitted records one group commit: its duration and its messages.
func (m *Metrics) StoreCommitted(d time.Duration, messages int) {
	m.storeCommit.Observe(d.Seconds())
	m.storeBatch.Observe(float64(messages))
}

// Instrument counts requests by the route pattern that served them. The pattern is read
// after the handler ran: http.ServeMux records it on the request it was given. A handler that
// hijacks its connection (a WebSocket, a lobby stream) writes its own response head, and the
// status is read from that.
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		code := "hijacked" // taken over, and no head written before the handler returned
		switch n := sw.status.Load(); {
		case n != 0:
			code = strconv.Itoa(int(n))
		case !sw.hijacked.Load():
			code = "200"
		}
		m.requests.WithLabelValues(route, code).Inc()
	})
}

// statusWriter remembers the status and passes on what streams and sockets need: Flush
// (SSE), Hijack (gorilla/websocket asserts it directly) and Unwrap (http.ResponseController).
type statusWriter struct {
	http.ResponseWriter
	status   atomic.Int32
	hijacked atomic.Bool
}

func (w *statusWriter) WriteHeader(code int) {
	w.status.CompareAndSwap(0, int32(code))
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.status.CompareAndSwap(0, http.StatusOK)
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("metrics: response writer cannot be hijacked")
	}
	conn, rw, err := h.Hijack()
	if err != nil {
		return conn, rw, err
	}
	w.hijacked.Store(true)
	return &headSniffer{Conn: conn, w: w}, rw, nil
}

// headSniffer reads the status from the response head a hijacking handler writes itself
// ("HTTP/1.1 101 ..."); after the first write it only passes bytes on.
type headSniffer struct {
	net.Conn
	w    *statusWriter
	seen bool
}

func (c *headSniffer) Write(p []byte) (int, error) {
	if !c.seen {
		c.seen = true
		if len(p) >= 12 && bytes.HasPrefix(p, []byte("HTTP/1.")) && p[8] == ' ' {
			if n, err := strconv.Atoi(string(p[9:12])); err == nil {
				c.w.status.CompareAndSwap(0, int32(n))
			}
		}
		// Let go of the response writer: it holds net/http's request and connection buffers,
		// which a long-lived socket or stream would otherwise keep alive (about 12 KiB each).
		c.w = nil
	}
	return c.Conn.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// NetConn returns the connection underneath, for a handler that has written its head and
// wants the connection's own methods (a writev for a batch of events).
func (c *headSniffer) NetConn() net.Conn { return c.Conn }

// SyscallConn passes on the connection's raw access (a room socket peeks at it to wait for
// data cheaply); the sniffer buffers nothing, so the descriptor is the whole truth.
func (c *headSniffer) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("metrics: the connection has no descriptor")
	}
	return sc.SyscallConn()
}
