package handlers

import (
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"

	"gifchat/i18n"
	"gifchat/media"
)

// securityHeaders sets the headers every response carries. The CSP allows only our own
// scripts: htmx is used without hx-on, trigger filters or js: values, and app.js is a file.
// A secure request (isSecure: TLS here, or with trustProxy a proxy that says https) also gets
// HSTS, so the browser never asks over plain HTTP again, and is marked for the session
// cookie's Secure flag and __Host- name.
func securityHeaders(trustProxy bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, outer *http.Request) {
		h := w.Header()
		r := outer
		if isSecure(r, trustProxy) {
			h.Set("Strict-Transport-Security", "max-age=31536000")
			if r.TLS == nil {
				r = withSecure(r, true)
				// The mux records the route it matched on the copy; the metrics read theirs.
				defer func() { outer.Pattern = r.Pattern }()
			}
		}
		if !strings.HasPrefix(r.URL.Path, "/gifs/") {
			h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		}
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// crossOrigin refuses state-changing requests from other origins (Sec-Fetch-Site / Origin).
func crossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		errorPage(w, r, http.StatusForbidden, tr(r, "errors.page.cross_origin.title"), tr(r, "errors.page.cross_origin.message"))
	}))
	return cop.Handler(next)
}

// limitBodies refuses oversized bodies before anything parses them: 413 at once when the
// declared length is too large, and a MaxBytesReader for bodies that lie about it.
func limitBodies(maxForm, maxGIF int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			limit := maxForm
			if strings.HasSuffix(r.URL.Path, "/gifs") {
				limit = maxGIF + 64<<10 // the file plus the multipart envelope
			}
			if r.ContentLength > limit {
				tooLarge(w, r, limit)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		next.ServeHTTP(w, r)
	})
}

func tooLarge(w http.ResponseWriter, r *http.Request, limit int64) {
	w.Header().Set("Connection", "close")
	errorPage(w, r, http.StatusRequestEntityTooLarge, tr(r, "errors.page.too_large.title"),
		tr(r, "errors.page.too_large.message", "Size", humanBytes(r, limit)))
}

// humanBytes says a size limit in the request's language: "5 MiB", "64 KiB", "100 bytes".
func humanBytes(r *http.Request, n int64) string {
	if n < 1<<10 {
		return i18n.T(r.Context(), "errors.size.bytes", "Count", n)
	}
	return media.HumanBytes(n)
}

// recoverPanics turns a panic into a logged 500 instead of a dropped connection.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				w.WriteHeader(http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
