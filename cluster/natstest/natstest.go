// Package natstest gives tests a NATS server: the machine's (127.0.0.1:4222, or
// GIFCHAT_TEST_NATS), which tests skip without locally and fail without under CI=true, or one
// run inside the test process where a test must stop and restart the broker.
package natstest

import (
	"net"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// URL is the machine's NATS server. Without one the test is skipped, or fails under CI=true,
// where the services are part of the build.
func URL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("GIFCHAT_TEST_NATS")
	if u == "" {
		u = "nats://127.0.0.1:4222"
	}
	parsed, err := url.Parse(u)
	if err != nil {
		tb.Fatalf("GIFCHAT_TEST_NATS: %v", err)
	}
	conn, err := net.DialTimeout("tcp", parsed.Host, 2*time.Second)
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("NATS is not reachable at %s (CI=true: the tests need it): %v", u, err)
		}
		tb.Skipf("NATS is not reachable at %s: %v", u, err)
	}
	conn.Close()
	return u
}

// Server is a NATS server inside the test process, on a port of its own that stays the same
// across Restart, so clients reconnect to it.
type Server struct {
	tb   testing.TB
	port int
	srv  *server.Server
}

// Start runs an in-process NATS server until the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{tb: tb, port: port}
	s.start()
	tb.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.tb.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: s.port, NoLog: true, NoSigs: true})
	if err != nil {
		s.tb.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		s.tb.Fatal("the in-process NATS server did not start")
	}
	s.srv = srv
}

// URL is where the server listens.
func (s *Server) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// Stop shuts the server down (clients see a disconnection); safe to call twice.
func (s *Server) Stop() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

// Restart stops the server and starts a new one on the same port.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	s.start()
}
