package main

// The command line: the flags of every mode, and what is refused before anything runs.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

type options struct {
	addr     string
	targets  []string // -targets: several instances, host:port each
	target   string
	baseline bool
	fsyncDir string
	fsyncFor time.Duration
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
	fs.StringVar(&o.fsyncDir, "fsync-probe", "", "with -baseline: write and fsync 4 KiB in `dir` (on the server's data file system) every 5ms, before the baseline and after the product, and report the disk's fsync and the p99 limit baseline p99 + 2 × fsync p99")
	fs.DurationVar(&o.fsyncFor, "fsync-probe-for", 5*time.Second, "how long the -fsync-probe runs, before the baseline and again after the product")
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
	case o.fsyncDir != "" && (!o.baseline || o.mode != "chat"):
		return errors.New("-fsync-probe sets the baseline's p99 limit: use it with -baseline in -mode chat")
	case o.fsyncDir != "" && o.fsyncFor <= 0:
		return errors.New("-fsync-probe-for must be positive")
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
