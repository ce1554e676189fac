package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"gifchat/db"
)

// touchStore is a session store with one session, last seen when the test says.
type touchStore struct {
	lastSeen time.Time
	touches  atomic.Int64
}

func (s *touchStore) CreateIdentitySession(context.Context, string, string, string) (db.Identity, error) {
	return db.Identity{ID: 2}, nil
}

func (s *touchStore) SessionByToken(context.Context, string) (db.Session, error) {
	return db.Session{Identity: db.Identity{ID: 1, Nickname: "calm-otter-01"}, LastSeen: s.lastSeen.UnixMilli()}, nil
}

func (s *touchStore) TouchSession(context.Context, string) error {
	s.touches.Add(1)
	return nil
}

// TestSessionTouchedHourly: a request records its session's use only when the last record
// is an hour old, so the idle sweep sees it without a write on every request.
func TestSessionTouchedHourly(t *testing.T) {
	for _, tc := range []struct {
		ago     time.Duration
		touches int64
	}{{0, 0}, {59 * time.Minute, 0}, {61 * time.Minute, 1}, {30 * 24 * time.Hour, 1}} {
		store := &touchStore{lastSeen: time.Now().Add(-tc.ago)}
		var who int64
		h := withSession(store, allowAll{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			who = identityFrom(r.Context()).ID
		}))
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: SessionCookie, Value: "0123456789012345678901234567890123456789012"})
		h.ServeHTTP(httptest.NewRecorder(), r)
		if who != 1 || store.touches.Load() != tc.touches {
			t.Errorf("last seen %v ago: identity %d, %d touches; want identity 1, %d", tc.ago, who, store.touches.Load(), tc.touches)
		}
	}
}
