package handlers

import (
	"bytes"
	"log/slog"
	"net/http"

	"github.com/a-h/templ"

	"gifchat/components"
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

// errorPage shows a whole-page refusal. It is the one place a status becomes a page.
func errorPage(w http.ResponseWriter, r *http.Request, status int, title, message string) {
	me := realtime.PersonView(identityFrom(r.Context()))
	render(w, r, status, components.ErrorView(components.ErrorPage{Me: me, Status: status, Title: title, Message: message}))
}

func notFound(w http.ResponseWriter, r *http.Request) {
	errorPage(w, r, http.StatusNotFound, "Page not found", "That page was not found. The room may have closed.")
}

// serverError logs the cause and shows the user a plain message, never the error text.
func serverError(w http.ResponseWriter, r *http.Request, err error) {
	slog.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	w.Write([]byte(`<!DOCTYPE html><html lang="en"><title>Something went wrong · GIF chat</title><h1>Something went wrong</h1><p>The server could not finish that. Please try again in a moment. <a href="/">Back to the lobby</a></p></html>`))
}
