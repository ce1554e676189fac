// Package dbtest gives tests a database of their own on the PostgreSQL server the machines run,
// so that every test that runs on SQLite can run on PostgreSQL as well.
//
// The server is GIFCHAT_TEST_POSTGRES (a postgres:// URL), by default the local one
// (postgres://postgres@127.0.0.1:5432/test). Each call makes a fresh schema and hands back a
// URL whose search_path is that schema; the schema is dropped when the test ends. Without a
// server the test is skipped with a line saying how to get one, except under CI=true, where
// it fails.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// DefaultServer is the machines' PostgreSQL (trust authentication).
const DefaultServer = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Server is the PostgreSQL URL tests use.
func Server() string {
	if u := os.Getenv("GIFCHAT_TEST_POSTGRES"); u != "" {
		return u
	}
	return DefaultServer
}

// OnPostgres reports whether the suite was asked to run the whole product on PostgreSQL
// (GIFCHAT_TEST_STORE=postgres), as the test task's second run does.
func OnPostgres() bool { return os.Getenv("GIFCHAT_TEST_STORE") == "postgres" }

// PostgresURL returns the URL of a fresh, empty schema on the test server, dropped when the
// test ends.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	server := Server()
	admin, err := sql.Open("pgx", server)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = admin.PingContext(ctx)
		cancel()
	}
	if err != nil {
		if admin != nil {
			admin.Close()
		}
		msg := "no PostgreSQL at " + redact(server) + ": " + err.Error() +
			" (start one, e.g. pg_ctlcluster --skip-systemctl-redirect 15 main start, or point GIFCHAT_TEST_POSTGRES at one)"
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "gifchat_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		tb.Fatalf("create test schema: %v", err)
	}
	tb.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			tb.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	return withSearchPath(tb, server, schema)
}

var (
	sharedMu sync.Mutex
	shared   = map[string]string{}
)

// PostgresURLFor is PostgresURL, the same schema for the same key (a test's data directory)
// until the test that made it ends: a test that restarts the server on the same data gets the
// same database.
func PostgresURLFor(tb testing.TB, key string) string {
	tb.Helper()
	sharedMu.Lock()
	u, ok := shared[key]
	sharedMu.Unlock()
	if ok {
		return u
	}
	u = PostgresURL(tb)
	sharedMu.Lock()
	shared[key] = u
	sharedMu.Unlock()
	tb.Cleanup(func() {
		sharedMu.Lock()
		delete(shared, key)
		sharedMu.Unlock()
	})
	return u
}

// withSearchPath adds search_path to a postgres:// URL or a key=value DSN.
func withSearchPath(tb testing.TB, server, schema string) string {
	if !strings.Contains(server, "://") {
		return server + " search_path=" + schema
	}
	u, err := url.Parse(server)
	if err != nil {
		tb.Fatalf("GIFCHAT_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func redact(server string) string {
	if u, err := url.Parse(server); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		return u.String()
	}
	return server
}
