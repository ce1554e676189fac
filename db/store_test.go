package db

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"gifchat/db/dbtest"
)

// The store contract holds for both databases: every test written with eachStore (or
// eachBackend) runs once on SQLite and once on PostgreSQL. Tests of one database's own
// mechanics (SQLite's pragmas and file paths, PostgreSQL's URLs) stay separate.

// backend opens stores of one kind; open opens the same database every time it is called,
// so a test can close and reopen it.
type backend struct {
	name string
	open func(t *testing.T) *Store
}

func backends(t *testing.T) []backend {
	path := filepath.Join(t.TempDir(), "gifchat.db")
	var pgURL string
	return []backend{
		{"sqlite", func(t *testing.T) *Store {
			t.Helper()
			s, err := Open(context.Background(), path, Options{})
			if err != nil {
				t.Fatalf("open SQLite store: %v", err)
			}
			return s
		}},
		{"postgres", func(t *testing.T) *Store {
			t.Helper()
			if pgURL == "" {
				pgURL = dbtest.PostgresURL(t)
			}
			s, err := OpenPostgres(context.Background(), pgURL, PostgresOptions{})
			if err != nil {
				t.Fatalf("open PostgreSQL store: %v", err)
			}
			return s
		}},
	}
}

// eachBackend runs fn as a subtest per database.
func eachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

// eachStore runs fn as a subtest per database, on a fresh store closed at the end.
func eachStore(t *testing.T, fn func(t *testing.T, s *Store)) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		t.Cleanup(func() { s.Close() })
		fn(t, s)
	})
}

// Several instances starting at once against one new PostgreSQL database: the advisory lock
// makes them migrate one after another, so all start and each migration is applied once.
func TestPostgresMigrationsFromSeveralInstancesAtOnce(t *testing.T) {
	url := dbtest.PostgresURL(t)
	const instances = 4
	stores := make([]*Store, instances)
	errs := make([]error, instances)
	var wg sync.WaitGroup
	for i := range instances {
		wg.Go(func() { stores[i], errs[i] = OpenPostgres(context.Background(), url, PostgresOptions{}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d did not start: %v", i, err)
		}
		defer stores[i].Close()
	}
	var versions []string
	if err := stores[0].read.SelectContext(context.Background(), &versions, "SELECT version FROM schema_migrations ORDER BY version"); err != nil {
		t.Fatal(err)
	}
	if want := migrationCount(t, postgres); len(versions) != want {
		t.Errorf("schema_migrations holds %v, want each of the %d migrations once", versions, want)
	}
	// They share one database: what one writes, the others read.
	who := mustIdentity(t, stores[1], "shared-token", "shared-otter-01")
	if got, err := stores[3].IdentityBySession(context.Background(), "shared-token"); err != nil || got.ID != who.ID {
		t.Errorf("another instance reads %+v, %v", got, err)
	}
}
