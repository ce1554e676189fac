package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"gifchat/db"
	"gifchat/logtest"
)

// A request whose browser went away (or that a stopping server cut) before its session was
// read is nobody's error (serverError): no "request failed" in the log, nothing served. A
// database that fails a live request still is one.
func TestSessionLookupOfAGoneRequest(t *testing.T) {
	store, err := db.Open(context.Background(), filepath.Join(t.TempDir(), "gifchat.db"), db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	const token = "0123456789012345678901234567890123456789012"
	if _, err := store.CreateIdentitySession(context.Background(), hashToken(token), "calm-otter-01", "c1"); err != nil {
		t.Fatal(err)
	}
	var logs logtest.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))

	served := false
	h := withSession(store, allowAll{}, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served = true }))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
	r.AddCookie(&http.Cookie{Name: SessionCookie, Value: token})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if served || strings.Contains(logs.String(), "request failed") || w.Code == http.StatusInternalServerError {
		t.Errorf("a gone request: served %v, status %d, log:\n%s", served, w.Code, logs.String())
	}

	// The same lookup on a closed database, for a live request: a 500 and an error logged.
	store.Close()
	r = httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(&http.Cookie{Name: SessionCookie, Value: token})
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if served || w.Code != http.StatusInternalServerError || !strings.Contains(logs.String(), "session lookup") {
		t.Errorf("a failing database: served %v, status %d, log:\n%s", served, w.Code, logs.String())
	}
}
