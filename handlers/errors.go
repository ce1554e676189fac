package handlers

import (
	"bytes"
	"fmt"
	"html"
	"log/slog"
	"net/http"

	"github.com/a-h/templ"

	"gifchat/components"
	"gifchat/i18n"
	"gifchat/realtime"
)

// render writes a component with a status, rendering into a buffer first so that a render
// error becomes a clean 500 instead of a truncated page.
func render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	var buf bytes.Buffer
	if err := c.Render(r.Context(), &buf); err != nil {
		if r.Context().Err() != nil {
			return // the client went away; nothing to answer and nothing wrong with the server
		}
		serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorPage shows a whole-page refusal. It is the one place a status becomes a page. title
// and message are already in the request's language (see tr and reason).
func errorPage(w http.ResponseWriter, r *http.Request, status int, title, message string) {
	me := realtime.PersonView(identityFrom(r.Context()))
	render(w, r, status, components.ErrorView(components.ErrorPage{Me: me, Status: status, Title: title, Message: message}))
}

// tr puts a catalog message (errors.*.toml, ...) into the request's language.
func tr(r *http.Request, id string, kv ...any) string { return i18n.T(r.Context(), id, kv...) }

// reason is a refusal (or any error) in words for the person who made the request: a
// refusal's own reason, or that the server could not do it, never the error's text.
func reason(r *http.Request, err error) string { return realtime.Reason(i18n.From(r.Context()), err) }

func notFound(w http.ResponseWriter, r *http.Request) {
	errorPage(w, r, http.StatusNotFound, tr(r, "errors.page.not_found.title"), tr(r, "errors.page.not_found.message"))
}

// serverError logs the cause and shows the user a plain message, never the error text. The
// page is written by hand: rendering is what may have failed. A request whose context has
// ended (the browser went away, or the server is stopping and cut it) failed for that
// reason alone: nobody is there to read a page, and nothing is wrong to alert on.
func serverError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		slog.DebugContext(r.Context(), "request ended before it was answered", "method", r.Method, "path", r.URL.Path, "err", err)
		return
	}
	slog.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	l := i18n.From(r.Context())
	title := html.EscapeString(l.T("errors.page.server.title"))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, `<!DOCTYPE html><html lang="%s"><title>%s · %s</title><h1>%s</h1><p>%s <a href="/">%s</a></p></html>`,
		l.Code(), title, html.EscapeString(l.T("brand")), title,
		html.EscapeString(l.T("errors.page.server.message")), html.EscapeString(l.T("nav.back_to_lobby")))
}
