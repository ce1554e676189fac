package handlers

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"gifchat/components"
	"gifchat/i18n"
)

var writeBufferPool sync.Pool

// handleMeCSS styles what differs per viewer ("my" messages, the owner's controls) with CSS
// keyed on data attributes, so every fragment is rendered once for the whole room. Its one
// word, "(you)", is in the viewer's language (the answer varies by it, as pages do).
func handleMeCSS() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := identityFrom(r.Context())
		var buf bytes.Buffer
		if err := components.MeCSS(&buf, me.ID, i18n.From(r.Context())); err != nil {
			serverError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "private, no-cache")
		w.Write(buf.Bytes())
	})
}

type pinger interface {
	Ping(ctx context.Context) error
}

// handleHealthz answers a load balancer: 503 while the database, or in a cluster NATS
// (broker), does not answer, so it stops sending new people here.
func handleHealthz(db pinger, broker func(context.Context) error) http.Handler {
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
		if broker != nil {
			if err := broker(ctx); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintln(w, "message broker unavailable")
				return
			}
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
