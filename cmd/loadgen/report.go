package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Report is the JSON document written by -json: one Result per workload run
// and, with -baseline, how the product compares.
type Report struct {
	Started time.Time `json:"started"`
	Args    []string  `json:"args"`
	// LoadAvg is /proc/loadavg's 1-minute figure at the start: a high one
	// (above the 2 cores) means other work shared the machine.
	LoadAvg float64   `json:"loadavg_1m"`
	Runs    []*Result `json:"runs"`
	// Ratio is product/baseline for deliveries per second (chat mode with
	// -baseline only).
	Ratio *float64 `json:"ratio_product_over_baseline_deliveries_per_s,omitempty"`
	// Fsync is the disk's fsync, probed while the baseline ran (-fsync-probe).
	Fsync *FsyncResult `json:"fsync,omitempty"`
}

// Result is the outcome of one workload against one server.
type Result struct {
	Target string `json:"target"` // "product" or "baseline"
	Addr   string `json:"addr"`
	Mode   string `json:"mode"` // "chat", "idle", "lobby" or "storm"
	Error  string `json:"error,omitempty"`

	Chat  *ChatResult  `json:"chat,omitempty"`
	Idle  *IdleResult  `json:"idle,omitempty"`
	Lobby *LobbyResult `json:"lobby,omitempty"`
	Storm *StormResult `json:"storm,omitempty"`

	Connect         Summary        `json:"connect"`
	ConnectFailures int            `json:"connect_failures"`
	FailureReasons  map[string]int `json:"connect_failure_reasons,omitempty"`

	RSS RSS `json:"rss"`
}

// ChatResult holds the figures of the chat workload.
type ChatResult struct {
	Rooms          int     `json:"rooms"`
	People         int     `json:"people"`
	SendersPerRoom int     `json:"senders_per_room"`
	RatePerSender  float64 `json:"rate_per_sender"` // 0 = flat out
	Window         int     `json:"window"`

	Members int `json:"members"` // connected when sending began
	Senders int `json:"senders"`

	SetupSeconds   float64 `json:"setup_seconds"` // sessions, joins, settle
	SendSeconds    float64 `json:"send_seconds"`
	ElapsedSeconds float64 `json:"elapsed_seconds"` // first send to last delivery
	Sent           int64   `json:"sent"`
	// Refused counts sends the server answered with a refusal notice (a
	// rate limit, say); they are not expected anywhere, so not lost.
	Refused          int64          `json:"refused"`
	RefusalReasons   map[string]int `json:"refusal_reasons,omitempty"`
	Expected         int64          `json:"expected_deliveries"`
	Deliveries       int64          `json:"deliveries"` // unique
	DeliveriesPerSec float64        `json:"deliveries_per_s"`
	SentPerSec       float64        `json:"sent_per_s"`
	Lost             int64          `json:"lost"`
	Duplicated       int64          `json:"duplicated"`
	Reordered        int64          `json:"reordered"`
	// Stray counts this run's messages that reached a member of another room.
	Stray int64 `json:"stray"`

	Latency Summary `json:"latency"`

	// ServerCPUSeconds is the CPU time (user+system) the server process
	// used from the first send to the end of the drain, when its pid is
	// known; for the in-process baseline it includes the client. Unlike
	// deliveries/s it hardly depends on what else the machine is doing.
	ServerCPUSeconds       float64 `json:"server_cpu_seconds,omitempty"`
	DeliveriesPerCPUSecond float64 `json:"deliveries_per_server_cpu_second,omitempty"`
	// ServicesCPUSeconds is the CPU time, over the same window, of the processes -cpu-of
	// names (all processes of each name: PostgreSQL's backends, nats-server).
	ServicesCPUSeconds float64 `json:"services_cpu_seconds,omitempty"`
	// CPUPerThousand is (server + services) CPU seconds per 1,000 deliveries.
	CPUPerThousand float64 `json:"cpu_seconds_per_1000_deliveries,omitempty"`

	Wire WireFigures `json:"wire"`
	// Store is the product's group commits over the measured window, from its /metrics.
	Store *StoreFigures `json:"store,omitempty"`

	// Typing is the typing traffic, with -typers.
	Typing *TypingFigures `json:"typing,omitempty"`

	// Disconnects counts members whose socket ended for good mid-run;
	// Reconnects counts the times a socket was dropped and came back.
	Disconnects       int            `json:"disconnects"`
	DisconnectReasons map[string]int `json:"disconnect_reasons,omitempty"`
	Reconnects        int            `json:"reconnects"`
	ReconnectReasons  map[string]int `json:"reconnect_reasons,omitempty"`
}

// WireFigures counts WebSocket frames and bytes received by all members,
// during setup (joins) and during the measured run.
type WireFigures struct {
	SetupFrames int64 `json:"setup_frames"`
	SetupBytes  int64 `json:"setup_bytes"`
	Frames      int64 `json:"frames"`
	Bytes       int64 `json:"bytes"`
}

// IdleResult holds the figures of the idle-connections workload.
type IdleResult struct {
	Kind            string  `json:"kind"` // "ws" or "sse"
	Requested       int     `json:"requested"`
	Open            int     `json:"open"` // still open at the measurement
	Rooms           int     `json:"rooms,omitempty"`
	RSSDeltaBytes   int64   `json:"rss_delta_bytes"`
	RSSPerConnBytes float64 `json:"rss_per_conn_bytes"`
}

// LobbyResult holds the figures of the lobby fan-out workload.
type LobbyResult struct {
	Subscribers int     `json:"subscribers"`
	Creates     int     `json:"creates"`
	Expected    int     `json:"expected_sightings"`
	Seen        int     `json:"seen"`
	Missed      int     `json:"missed"`
	Latency     Summary `json:"latency"` // POST start to sighting
	CreateTime  Summary `json:"create_time"`
}

// Summary condenses a Histogram; all durations are in milliseconds.
type Summary struct {
	Count  uint64  `json:"count"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p99_9_ms"`
	MaxMs  float64 `json:"max_ms"`
}

func summarize(h *Histogram) Summary {
	ms := func(ns int64) float64 { return float64(ns) / 1e6 }
	return Summary{
		Count:  h.Count(),
		MeanMs: h.Mean() / 1e6,
		P50Ms:  ms(h.Quantile(0.50)),
		P90Ms:  ms(h.Quantile(0.90)),
		P99Ms:  ms(h.Quantile(0.99)),
		P999Ms: ms(h.Quantile(0.999)),
		MaxMs:  ms(h.Max()),
	}
}

// RSS holds resident set sizes of the server process, in bytes, sampled at
// the phases of a run. Source says what process that is; for the in-process
// baseline it is the load generator itself, client side included.
type RSS struct {
	PID    int    `json:"pid,omitempty"`
	Source string `json:"source,omitempty"`
	Before int64  `json:"before_bytes,omitempty"` // before any connection
	Ready  int64  `json:"ready_bytes,omitempty"`  // all connected, before load
	End    int64  `json:"end_bytes,omitempty"`    // end of the load
	Peak   int64  `json:"peak_bytes,omitempty"`   // VmHWM: lifetime peak
}

// readRSS returns VmRSS and VmHWM of pid from /proc, in bytes.
func readRSS(pid int) (rss, hwm int64, err error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rss = parseKB(v)
		} else if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			hwm = parseKB(v)
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
	}
	return rss, hwm, nil
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux architecture Go supports (it is fixed in the kernel ABI).
const clockTicks = 100

// readCPU returns the user+system CPU time pid has used so far.
func readCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may contain spaces,
	// so count fields from the last ')': utime and stime are fields 14, 15.
	rest := string(data)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad times", pid)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// readLoadAvg returns the 1-minute load average, or 0 if unavailable.
func readLoadAvg() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// parseKB parses a /proc value like "   84512 kB" into bytes.
func parseKB(s string) int64 {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(f[0], 10, 64)
	return n * 1024
}

// sampleRSS reads the current RSS of srv's process, or 0 if there is no pid
// or it cannot be read (a warning is printed once per call site failure).
// With several instances (-targets) it is the sum over their processes, and
// so is the peak: the sum of each one's own peak.
func sampleRSS(srv *server, r *RSS) int64 {
	var total, peak int64
	for _, in := range srv.instances() {
		if in.pid == 0 {
			return 0
		}
		rss, hwm, err := readRSS(in.pid)
		if err != nil {
			fmt.Fprintf(os.Stderr, "loadgen: rss: %v\n", err)
			return 0
		}
		total += rss
		peak += hwm
	}
	r.Peak = max(r.Peak, peak)
	return total
}

// fmtMs prints a duration given in ms with about two significant digits,
// e.g. 0.84ms, 3.1ms, 31ms, 1.2s.
func fmtMs(ms float64) string {
	switch {
	case ms >= 1000:
		return strconv.FormatFloat(ms/1000, 'f', sigDecimals(ms/1000), 64) + "s"
	case ms >= 1 || ms == 0:
		return strconv.FormatFloat(ms, 'f', sigDecimals(ms), 64) + "ms"
	default:
		return strconv.FormatFloat(ms*1000, 'f', 0, 64) + "µs"
	}
}

func sigDecimals(v float64) int {
	if v >= 10 || v == 0 {
		return 0
	}
	return 1
}

// fmtBytes prints a byte count in the largest binary unit that keeps it >= 1.
func fmtBytes(b float64) string {
	neg := b < 0
	b = math.Abs(b)
	units := []string{"B", "KiB", "MiB", "GiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	s := strconv.FormatFloat(b, 'f', sigDecimals(b), 64) + units[i]
	if neg {
		s = "-" + s
	}
	return s
}

// OneLine renders r as the single summary line printed after each run.
func (r *Result) OneLine() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ", r.Target)
	switch {
	case r.Chat != nil:
		c := r.Chat
		l := c.Latency
		fmt.Fprintf(&b, "%d rooms x %d people, %d senders/room: %.0f deliveries/s, p50 %s p90 %s p99 %s p99.9 %s max %s, lost %d dup %d reordered %d",
			c.Rooms, c.People, c.SendersPerRoom, c.DeliveriesPerSec,
			fmtMs(l.P50Ms), fmtMs(l.P90Ms), fmtMs(l.P99Ms), fmtMs(l.P999Ms), fmtMs(l.MaxMs),
			c.Lost, c.Duplicated, c.Reordered)
		if c.Refused > 0 {
			fmt.Fprintf(&b, ", refused %d of %d sent (%s)", c.Refused, c.Sent, topReasons(c.RefusalReasons))
		}
		if c.Stray > 0 {
			fmt.Fprintf(&b, " stray %d", c.Stray)
		}
		if c.ServerCPUSeconds > 0 && c.ElapsedSeconds > 0 {
			fmt.Fprintf(&b, ", cpu %.2f cores", c.ServerCPUSeconds/c.ElapsedSeconds)
		}
		if c.CPUPerThousand > 0 {
			fmt.Fprintf(&b, ", %.3f cpu-s per 1000 deliveries (services %.2f s)", c.CPUPerThousand, c.ServicesCPUSeconds)
		}
		if c.Reconnects > 0 {
			fmt.Fprintf(&b, ", reconnects %d (%s)", c.Reconnects, topReasons(c.ReconnectReasons))
		}
		if c.Disconnects > 0 {
			fmt.Fprintf(&b, ", disconnects %d (%s)", c.Disconnects, topReasons(c.DisconnectReasons))
		}
		if ty := c.Typing; ty != nil {
			fmt.Fprintf(&b, ", typing: %d typers every %s, %.1f signals/s, %.0f lines/s in %.0f frames/s",
				ty.Typers, time.Duration(ty.EverySeconds*float64(time.Second)), ty.SignalsPerSec, ty.LinesPerSec, ty.FramesPerSec)
		}
	case r.Idle != nil:
		i := r.Idle
		fmt.Fprintf(&b, "idle %d %s connections (%d open)", i.Requested, i.Kind, i.Open)
		if r.RSS.PID != 0 && i.Open > 0 {
			fmt.Fprintf(&b, ", rss %s -> %s, %s per connection",
				fmtBytes(float64(r.RSS.Before)), fmtBytes(float64(r.RSS.Ready)), fmtBytes(i.RSSPerConnBytes))
		}
	case r.Storm != nil:
		b.WriteString(r.Storm.summary())
	case r.Lobby != nil:
		lb := r.Lobby
		l := lb.Latency
		fmt.Fprintf(&b, "lobby %d subscribers x %d rooms created: seen %d/%d, p50 %s p99 %s max %s",
			lb.Subscribers, lb.Creates, lb.Seen, lb.Expected, fmtMs(l.P50Ms), fmtMs(l.P99Ms), fmtMs(l.MaxMs))
	}
	fmt.Fprintf(&b, ", connect p99 %s", fmtMs(r.Connect.P99Ms))
	if r.ConnectFailures > 0 {
		fmt.Fprintf(&b, " (%d failed: %s)", r.ConnectFailures, topReasons(r.FailureReasons))
	}
	if r.RSS.End > 0 && r.Idle == nil && r.Storm == nil {
		fmt.Fprintf(&b, ", rss %s", fmtBytes(float64(r.RSS.End)))
	}
	if r.RSS.Source == rssSelf {
		b.WriteString(" (in-process, incl. client)")
	}
	if r.Error != "" {
		fmt.Fprintf(&b, ", error: %s", r.Error)
	}
	return b.String()
}

// topReasons lists the most frequent reasons, most frequent first.
func topReasons(m map[string]int) string {
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range m {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v || l[i].v == l[j].v && l[i].k < l[j].k })
	var parts []string
	for i, e := range l {
		if i == 3 {
			parts = append(parts, "...")
			break
		}
		parts = append(parts, fmt.Sprintf("%dx %s", e.v, e.k))
	}
	return strings.Join(parts, ", ")
}

// tally counts reasons; it is a tiny helper so call sites read naturally.
type tally map[string]int

func (t tally) add(reason string) { t[reason]++ }

// setFailures stores the connect failure tally in r.
func (r *Result) setFailures(t tally) {
	r.ConnectFailures = 0
	for _, n := range t {
		r.ConnectFailures += n
	}
	if len(t) > 0 {
		r.FailureReasons = t
	}
}
