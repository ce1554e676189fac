package handlers

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

var writeBufferPool sync.Pool

// handleMeCSS styles what differs per viewer ("my" messages, the owner's controls) with CSS
// keyed on data attributes, so every fragment is rendered once for the whole room.
func handleMeCSS() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := identityFrom(r.Context())
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "private, no-cache")
		fmt.Fprintf(w, `/* Styles for viewer %[1]d. */
.msg[data-author="%[1]d"] { margin-inline-start: auto; background: var(--mine-bg); border-color: var(--mine-border); }
.msg[data-author="%[1]d"] .msg-author::after { content: " (you)"; color: var(--muted); font-weight: 400; }
#members[data-owner="%[1]d"] .kick { display: inline-flex; }
.room:has(#members[data-owner="%[1]d"]) .owner-only { display: block; }
.member[data-member="%[1]d"] .member-name { pointer-events: none; }
.member[data-member="%[1]d"] .member-name::after { content: " (you)"; color: var(--muted); font-weight: 400; }
`, me.ID)
	})
}

type pinger interface {
	Ping(ctx context.Context) error
}

func handleHealthz(db pinger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := db.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "database unavailable")
			return
		}
		fmt.Fprintln(w, "ok")
	})
}

// handleFavicon answers browsers' automatic favicon request with an empty, cacheable answer
// (the brand mark is CSS), so no page load logs a 404.
func handleFavicon() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.WriteHeader(http.StatusNoContent)
	})
}
