package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gifchat/cluster/natstest"
	"gifchat/db/dbtest"
)

// An instance of a cluster reports not ready on /healthz while NATS is away (a load balancer
// stops sending it new people), and ready again once NATS is back; the reconnection is
// counted in /metrics.
func TestClusterInstanceHealth(t *testing.T) {
	nats := natstest.Start(t)
	dir := t.TempDir()
	a, err := New(context.Background(), Config{
		DataDir: dir, Postgres: dbtest.PostgresURLFor(t, dir), NATS: nats.URL(), Instance: "health",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler)
	defer func() {
		srv.Close()
		a.Drain(context.Background())
		a.Close()
	}()
	health := func() (int, string) {
		resp, err := http.Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := health(); code != http.StatusOK {
		t.Fatalf("healthy cluster instance: %d %s", code, body)
	}
	nats.Stop()
	if code, body := health(); code != http.StatusServiceUnavailable || !strings.Contains(body, "broker") {
		t.Fatalf("with NATS down: %d %q, want 503 naming the broker", code, body)
	}
	nats.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _ := health()
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready 10 s after NATS came back: %d", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), `gifchat_nats_connection_events_total{event="reconnected"} 1`) {
		t.Errorf("the reconnection is not in /metrics:\n%s", grepLines(string(b), "gifchat_nats"))
	}
}

func TestNATSWithoutPostgresIsRefused(t *testing.T) {
	_, err := New(context.Background(), Config{DataDir: t.TempDir(), NATS: "nats://127.0.0.1:4222",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil || !strings.Contains(err.Error(), "needs -postgres") {
		t.Fatalf("a cluster instance on SQLite: %v", err)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
