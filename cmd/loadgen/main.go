// Command loadgen drives a gifchat server through its real protocol (session
// cookie, room page, room WebSocket with htmx's JSON frames, lobby event
// stream) and reports throughput, end-to-end latency, delivery correctness,
// connect time and server memory. It carries its own bare broadcast server
// as a baseline, so the same workload can show what the machine allows.
//
// It only ever connects to loopback addresses, and every run is bounded in
// time. See README.md for the flags and examples.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// debugf prints progress details with -v; otherwise it does nothing.
var debugf = func(format string, args ...any) {}

// rssSelf marks RSS figures that are the load generator's own, as happens
// with the in-process baseline.
const rssSelf = "self"

type options struct {
	addr     string
	targets  []string // -targets: several instances, host:port each
	target   string
	baseline bool
	mode     string
	pid      string
	jsonOut  string
	timeout  time.Duration
	verbose  bool

	cpuProfile string

	chat  ChatConfig
	idle  IdleConfig
	lobby LobbyConfig
	storm StormConfig

	// storm mode's server: the command (split on white space), the address its /healthz
	// answers on, and where its output goes ("" for stderr)
	server     []string
	serverAddr string
	serverLog  string
}

func parseFlags(args []string, errOut io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprintf(errOut, "usage: loadgen [flags]\n\nDrives a gifchat server (loopback only) and reports throughput, latency, losses and memory.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8005", "product `host:port` (loopback only)")
	targets := fs.String("targets", "", "several product instances of one cluster, comma-separated `host:port` or http://host:port (loopback only), instead of -addr: each room's people are spread over them in turn, and the rooms are created on the first")
	fs.StringVar(&o.target, "target", "product", "server to drive: product or baseline (the built-in bare broadcast server)")
	fs.BoolVar(&o.baseline, "baseline", false, "run the workload against the built-in baseline first, then the product, and print the ratio")
	fs.StringVar(&o.mode, "mode", "chat", "workload: chat, idle, lobby or storm")
	fs.StringVar(&o.pid, "pid", "", "product process id for RSS from /proc/PID/status, or \"auto\" to find the process listening on -addr; with -targets, one id per target (comma-separated) or \"auto\", and RSS and CPU are summed over them")
	fs.StringVar(&o.jsonOut, "json", "", "write the JSON report to `file` (\"-\" for stdout; the summary lines then go to stderr)")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "hard limit for the whole invocation")
	fs.BoolVar(&o.verbose, "v", false, "progress on stderr")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the load generator (and the in-process baseline) to `file`")

	c := &o.chat
	fs.IntVar(&c.People, "people", 20, "chat: number of people (each its own session)")
	fs.IntVar(&c.Rooms, "rooms", 1, "chat: number of rooms the people are spread over")
	fs.IntVar(&c.Senders, "senders", 1, "chat: senders per room")
	fs.Float64Var(&c.Rate, "rate", 0, "chat: messages/s per sender; 0 = flat out, limited by -window")
	fs.IntVar(&c.Window, "window", 64, "chat: max messages per sender sent but not yet echoed back to it")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "chat: how long to send (0 = until -messages)")
	fs.IntVar(&c.Messages, "messages", 0, "chat: stop each sender after this many messages (0 = no cap)")
	fs.IntVar(&c.Typers, "typers", 0, "chat: members per room (not senders) who signal \"typing\" every -typing-every while the senders send")
	fs.Func("cpu-of", "chat: also count the CPU of every process with one of these comma-separated command names (e.g. postgres,nats-server) over the measured window, for CPU seconds per 1,000 deliveries with all processes counted", func(v string) error {
		c.CPUOf = strings.Split(v, ",")
		return nil
	})
	fs.DurationVar(&c.TypingEvery, "typing-every", 3*time.Second, "chat: how often each typer signals (app.js: at most every 3s while typing)")
	capacity := fs.Int("capacity", 100, "capacity form field for rooms the tool creates (idle ws: people per room)")
	concurrency := fs.Int("connect-concurrency", 32, "max connections being set up at once")
	settle := fs.Duration("settle", time.Second, "pause after connecting, before measuring (lets refusals and join traffic arrive)")
	drain := fs.Duration("drain", 5*time.Second, "max wait for outstanding deliveries (chat) or sightings (lobby)")
	quiet := fs.Duration("quiet", 300*time.Millisecond, "after -settle, also wait until no socket has received anything for this long (join traffic done; at most 60s); 0 = don't")
	reconnects := fs.Int("reconnects", 10, "reconnect attempts allowed per room socket after a close htmx would reconnect on (1012, 1013, a dropped connection; not 1000, not 4xxx); 0 = never, -1 = no limit (storm mode's default, as htmx)")
	backoffName := fs.String("backoff", "htmx", "how a dropped room socket reconnects: htmx (htmx 4's hx-ws: 500ms doubling to 60s, ±30% jitter) or fast (50ms doubling to 2s)")

	fs.IntVar(&o.idle.Conns, "idle", 1000, "idle: number of idle connections")
	fs.StringVar(&o.idle.Kind, "idle-kind", "ws", "idle: ws (room sockets) or sse (lobby event streams)")
	fs.IntVar(&o.lobby.Subscribers, "subscribers", 100, "lobby: number of lobby event stream subscribers")
	fs.IntVar(&o.lobby.Creates, "creates", 10, "lobby: rooms to create, one after another")
	fs.DurationVar(&o.lobby.Gap, "gap", 100*time.Millisecond, "lobby: pause between room creations")
	server := fs.String("server", "", "storm: the server `command` to start, restart and stop (split on white space, no shell; taskset -c 0 bin/gifchat -addr … -data …)")
	fs.StringVar(&o.serverAddr, "server-addr", "", "storm: `host:port` where the -server answers /healthz (default -addr; it may be one of -targets or behind a proxy at -addr)")
	fs.StringVar(&o.serverLog, "server-log", "", "storm: append the -server's output to `file` (default: this tool's stderr)")
	fs.StringVar(&o.storm.Restart, "restart", "term", "storm: how the server is stopped before it is started again: term (SIGTERM, a graceful shutdown: sockets get 1012) or kill (SIGKILL)")
	fs.BoolVar(&o.storm.KeepSending, "keep-sending", false, "storm: the senders keep sending through the restart (otherwise they stop, and everything is delivered, before it)")
	fs.DurationVar(&o.storm.NoticeWait, "notice-wait", 5*time.Second, "storm: once everyone is back and caught up, keep listening this long for notices the restart caused (gifchat announces a leave -leave-debounce, 3s by default, after the last socket went)")
	fs.DurationVar(&o.storm.Timeout, "storm-timeout", 2*time.Minute, "storm: the longest from the signal until everyone is back and caught up")

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.mode == "storm" {
		// A short chat so the rooms have messages in their logs, and sockets that come
		// back however long it takes, as htmx's do.
		if !set["duration"] {
			c.Duration = 3 * time.Second
		}
		if !set["rate"] {
			c.Rate = 2
		}
		if !set["reconnects"] {
			*reconnects = -1
		}
		if o.serverAddr == "" {
			o.serverAddr = o.addr
		}
	}
	var err error
	if set["server"] {
		if o.server, err = splitCommand(*server); err != nil {
			return nil, err
		}
	}
	if c.Backoff, err = backoffByName(*backoffName); err != nil {
		return nil, err
	}
	o.idle.Backoff = c.Backoff
	if *targets != "" {
		if set["addr"] {
			return nil, errors.New("give -addr or -targets, not both")
		}
		if o.targets, err = parseTargets(*targets); err != nil {
			return nil, err
		}
	}
	c.Capacity, o.idle.Capacity, o.lobby.Capacity = *capacity, *capacity, *capacity
	c.ConnectConcurrency, o.idle.ConnectConcurrency, o.lobby.ConnectConcurrency = *concurrency, *concurrency, *concurrency
	c.Settle, o.idle.Settle, o.lobby.Settle = *settle, *settle, *settle
	c.Drain, o.lobby.Drain = *drain, *drain
	c.Reconnects, o.idle.Reconnects = *reconnects, *reconnects
	c.Quiet, o.idle.Quiet = *quiet, *quiet
	c.Verbose = o.verbose
	o.storm.Chat = *c
	return o, o.validate()
}

func (o *options) validate() error {
	switch {
	case o.target != "product" && o.target != "baseline":
		return fmt.Errorf("-target must be product or baseline, not %q", o.target)
	case o.baseline && o.target == "baseline":
		return errors.New("-baseline already runs the baseline; use it with -target=product")
	case len(o.targets) > 0 && o.target == "baseline":
		return errors.New("-targets names product instances; the baseline is one process")
	case o.timeout <= 0:
		return errors.New("-timeout must be positive: every run must stop by itself")
	case o.chat.Capacity < 1:
		return errors.New("-capacity must be at least 1")
	case o.chat.ConnectConcurrency < 1:
		return errors.New("-connect-concurrency must be at least 1")
	case o.chat.Reconnects < -1:
		return errors.New("-reconnects must be -1 (no limit), 0 (never) or more")
	case o.chat.Quiet < 0 || o.chat.Settle < 0 || o.chat.Drain < 0:
		return errors.New("-quiet, -settle and -drain cannot be negative")
	}
	if o.mode != "storm" && (o.server != nil || o.serverLog != "" || o.serverAddr != "") {
		return errors.New("-server, -server-addr and -server-log are for -mode storm")
	}
	switch o.mode {
	case "storm":
		switch {
		case o.server == nil:
			return errors.New("-mode storm needs -server: the command that starts the server it restarts")
		case o.target != "product" || o.baseline:
			return errors.New("-mode storm restarts the product; it has no baseline run")
		case o.pid != "":
			return errors.New("-mode storm reads the memory of the -server it starts; -pid does not apply")
		case o.storm.Restart != "term" && o.storm.Restart != "kill":
			return fmt.Errorf("-restart must be term or kill, not %q", o.storm.Restart)
		case o.storm.NoticeWait < 0 || o.storm.Timeout <= 0:
			return errors.New("-notice-wait cannot be negative and -storm-timeout must be positive")
		case o.chat.Typers > 0:
			return errors.New("-typers is for -mode chat")
		}
		fallthrough
	case "chat":
		c := o.chat
		switch {
		case c.People < 1 || c.Rooms < 1 || c.Senders < 1:
			return errors.New("-people, -rooms and -senders must be at least 1")
		case c.Rooms > c.People:
			return errors.New("-rooms cannot exceed -people")
		case c.Window < 1:
			return errors.New("-window must be at least 1")
		case c.Rate < 0 || c.Duration < 0 || c.Messages < 0:
			return errors.New("-rate, -duration and -messages cannot be negative")
		case c.Duration == 0 && c.Messages == 0:
			return errors.New("set -duration and/or -messages: the run must be bounded")
		case c.Typers < 0:
			return errors.New("-typers cannot be negative")
		case c.Typers > 0 && c.TypingEvery <= 0:
			return errors.New("-typing-every must be positive")
		case c.Typers > 0 && c.Senders+c.Typers > c.People/c.Rooms:
			return fmt.Errorf("-senders + -typers (%d) exceeds the people of the smallest room (%d)", c.Senders+c.Typers, c.People/c.Rooms)
		}
	case "idle":
		if o.idle.Conns < 1 {
			return errors.New("-idle must be at least 1")
		}
		if o.idle.Kind != "ws" && o.idle.Kind != "sse" {
			return fmt.Errorf("-idle-kind must be ws or sse, not %q", o.idle.Kind)
		}
	case "lobby":
		if o.lobby.Subscribers < 1 || o.lobby.Creates < 1 {
			return errors.New("-subscribers and -creates must be at least 1")
		}
	default:
		return fmt.Errorf("-mode must be chat, idle, lobby or storm, not %q", o.mode)
	}
	return nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process exit, so tests can call it.
func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	// The target is checked before anything else runs, the baseline
	// included: a wrong address must fail at once, having sent nothing.
	var product *server
	if o.target == "product" {
		addrs := o.targets
		if len(addrs) == 0 {
			addrs = []string{o.addr}
		}
		if o.mode == "storm" {
			addrs = append(addrs[:len(addrs):len(addrs)], o.serverAddr)
		}
		for _, addr := range addrs {
			if _, err := checkLoopbackAddr(context.Background(), addr); err != nil {
				fmt.Fprintln(stderr, "loadgen:", err)
				return 2
			}
		}
		addrs = addrs[:max(1, len(o.targets))]
		pids, err := resolvePIDs(o.pid, addrs)
		if err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 2
		}
		source := ""
		switch {
		case pids[0] != 0 && len(pids) > 1:
			source = "pids " + joinInts(pids) + " (summed)"
		case pids[0] != 0:
			source = "pid"
		case o.mode == "idle":
			fmt.Fprintln(stderr, "loadgen: warning: idle mode without -pid measures no memory; pass -pid N or -pid auto")
		}
		var instances []*server
		for i, addr := range addrs {
			instances = append(instances, newServer("product", addr, pids[i], source))
		}
		product = instances[0].spreadOver(instances[1:]...)
	}
	if o.verbose {
		debugf = func(format string, args ...any) {
			fmt.Fprintf(stderr, "loadgen: "+format+"\n", args...)
		}
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM) // e.g. timeout(1): the -server is still stopped
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	summaryOut := stdout
	if o.jsonOut == "-" {
		summaryOut = stderr
	}
	// Storm mode starts its server now, and stops it whatever happens next.
	var proc *serverProc
	if o.mode == "storm" {
		out := stderr
		if o.serverLog != "" {
			f, err := os.OpenFile(o.serverLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
			if err != nil {
				fmt.Fprintln(stderr, "loadgen:", err)
				return 2
			}
			defer f.Close()
			out = f
		}
		proc = newServerProc(o.server, o.serverAddr, out)
		defer proc.stop()
		if o.verbose {
			fmt.Fprintf(stderr, "loadgen: starting %s\n", strings.Join(o.server, " "))
		}
		if _, err := proc.start(ctx); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 1
		}
	}
	if o.mode == "chat" || o.mode == "storm" {
		if per := (o.chat.People + o.chat.Rooms - 1) / o.chat.Rooms; per > o.chat.Capacity {
			fmt.Fprintf(stderr, "loadgen: warning: %d people per room exceeds -capacity %d; expect refusals\n", per, o.chat.Capacity)
		}
	}

	report := &Report{Started: time.Now().UTC(), Args: args, LoadAvg: readLoadAvg()}
	if report.LoadAvg > float64(runtime.NumCPU()) {
		fmt.Fprintf(stderr, "loadgen: note: load average %.1f on %d cores: other work shares the machine, expect noisy figures\n", report.LoadAvg, runtime.NumCPU())
	}
	failed := false
	runOne := func(srv *server) *Result {
		if o.verbose {
			fmt.Fprintf(stderr, "loadgen: %s %s at %s\n", o.mode, srv.name, srv.addrs())
		}
		var res *Result
		switch o.mode {
		case "chat":
			res = RunChat(ctx, srv, o.chat)
		case "idle":
			res = RunIdle(ctx, srv, o.idle)
		case "lobby":
			res = RunLobby(ctx, srv, o.lobby)
		case "storm":
			res = RunStorm(ctx, srv, o.storm, proc)
		}
		if res.Error != "" {
			failed = true
		}
		report.Runs = append(report.Runs, res)
		fmt.Fprintln(summaryOut, res.OneLine())
		return res
	}

	var baseRes *Result
	if o.baseline || o.target == "baseline" {
		b, err := StartBaseline("127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(stderr, "loadgen: baseline:", err)
			return 1
		}
		baseRes = runOne(newServer("baseline", b.Addr(), os.Getpid(), rssSelf))
		b.Close()
	}
	if product != nil {
		prodRes := runOne(product)
		if baseRes != nil && baseRes.Chat != nil && prodRes.Chat != nil && baseRes.Chat.DeliveriesPerSec > 0 {
			ratio := prodRes.Chat.DeliveriesPerSec / baseRes.Chat.DeliveriesPerSec
			report.Ratio = &ratio
			fmt.Fprintf(summaryOut, "product/baseline deliveries/s: %.3f\n", ratio)
		}
	}

	if o.jsonOut != "" {
		if err := writeJSON(o.jsonOut, stdout, report); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 1
		}
	}
	if failed {
		return 1
	}
	return 0
}

func writeJSON(path string, stdout io.Writer, report *Report) error {
	data, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if path == "-" {
		_, err = stdout.Write(data)
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// parseTargets reads the -targets list into host:port addresses.
func parseTargets(list string) ([]string, error) {
	var addrs []string
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if strings.Contains(t, "://") {
			u, err := url.Parse(t)
			if err != nil || u.Scheme != "http" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
				return nil, fmt.Errorf("-targets: %q: want host:port or http://host:port", t)
			}
			t = u.Host
		}
		addrs = append(addrs, t)
	}
	if len(addrs) == 0 {
		return nil, errors.New("-targets: no address given")
	}
	return addrs, nil
}

// resolvePIDs interprets the -pid flag for each of addrs: none, "auto" for
// all, or one id per address.
func resolvePIDs(flagValue string, addrs []string) ([]int, error) {
	values := make([]string, len(addrs))
	switch {
	case flagValue == "" || flagValue == "auto":
		for i := range values {
			values[i] = flagValue
		}
	default:
		values = strings.Split(flagValue, ",")
		if len(values) != len(addrs) {
			return nil, fmt.Errorf("-pid: %d ids for %d targets; give one per target, or \"auto\"", len(values), len(addrs))
		}
	}
	pids := make([]int, len(addrs))
	for i, addr := range addrs {
		pid, err := resolvePID(strings.TrimSpace(values[i]), addr)
		if err != nil {
			return nil, err
		}
		pids[i] = pid
	}
	return pids, nil
}

func joinInts(l []int) string {
	s := make([]string, len(l))
	for i, n := range l {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// resolvePID interprets the -pid flag for one address.
func resolvePID(flagValue, addr string) (int, error) {
	switch flagValue {
	case "":
		return 0, nil
	case "auto":
		pid, err := listenerPID(addr)
		if err != nil {
			return 0, fmt.Errorf("-pid auto: %w", err)
		}
		return pid, nil
	}
	pid, err := strconv.Atoi(flagValue)
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("-pid: want a process id or \"auto\", not %q", flagValue)
	}
	if _, _, err := readRSS(pid); err != nil {
		return 0, fmt.Errorf("-pid %d: %w", pid, err)
	}
	return pid, nil
}
