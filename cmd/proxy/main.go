// Command proxy is a small reverse proxy for trying several gifchat instances on one machine
// (task cluster). It hands each new request to the next healthy instance in turn, passes room
// WebSockets and the lobby's server-sent events through unbuffered, sets X-Forwarded-For and
// X-Forwarded-Proto (run the instances with -trust-proxy), and asks every instance's /healthz
// every second, so that when one is stopped or killed the browsers' reconnects go to the
// others. It is not meant for production: there, use a proxy such as nginx (see the README).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stderr, nil)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "proxy:", err)
		stop()
		os.Exit(1)
	}
}

type config struct {
	addr           string
	backends       []*url.URL
	healthInterval time.Duration
}

func parseFlags(args []string, errOut io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.Usage = func() {
		fmt.Fprintf(errOut, "usage: proxy [flags]\n\nA reverse proxy for trying several gifchat instances on one machine (not for production).\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.addr, "addr", ":8005", "listen address")
	backends := fs.String("backends", "http://127.0.0.1:8011,http://127.0.0.1:8012", "comma-separated base URLs of the gifchat instances")
	fs.DurationVar(&c.healthInterval, "health-interval", time.Second, "how often each instance's "+healthPath+" is asked (and how long it may take to answer)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if c.healthInterval <= 0 {
		return c, errors.New("-health-interval must be positive")
	}
	for _, s := range strings.Split(*backends, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return c, fmt.Errorf("-backends: %q is not an http(s)://host:port URL", s)
		}
		c.backends = append(c.backends, u)
	}
	if len(c.backends) == 0 {
		return c, errors.New("-backends: give at least one instance URL")
	}
	return c, nil
}

// run serves until ctx ends. When ready is not nil it receives the listening address once
// the first round of health checks is done (tests use it).
func run(ctx context.Context, args []string, logOut io.Writer, ready chan<- string) error {
	c, err := parseFlags(args, logOut)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))
	b := newBalancer(c.backends, log)
	// Know who is up before taking the first request, rather than answering 502 for a second.
	b.checkAll(ctx, c.healthInterval)
	for _, be := range b.backends {
		if !be.healthy.Load() {
			log.Warn("backend not healthy yet", "backend", be.url.String())
		}
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           b,
		ReadHeaderTimeout: 10 * time.Second,
		// No write timeout: WebSockets and event streams stay open for hours.
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go b.watch(watchCtx, c.healthInterval)

	var names []string
	for _, be := range b.backends {
		names = append(names, be.url.String())
	}
	log.Info("proxy listening", "addr", ln.Addr().String(), "backends", strings.Join(names, ","))
	if ready != nil {
		ready <- ln.Addr().String()
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	// Hijacked connections (WebSockets) are not Shutdown's to wait for; they end with the
	// process, and the browsers reconnect to whatever comes next.
	shutCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		srv.Close()
	}
	return nil
}
