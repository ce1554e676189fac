package handlers

import (
	"net/http"

	"gifchat/static"
)

// addRoutes is the one map of every URL the server answers.
// Routes for people go through the session middleware; assets, health and metrics do not,
// so probes and caches never mint identities.
func addRoutes(mux *http.ServeMux, d Deps) {
	s := func(h http.Handler) http.Handler { return withSession(d.Store, d.Guard, h) }
	mux.Handle("GET /{$}", s(handleLobby(d)))
	mux.Handle("POST /rooms", s(handleCreateRoom(d)))
	mux.Handle("GET /rooms/events", s(handleLobbyEvents(d.Lobby, d.Log)))
	mux.Handle("GET /rooms/{id}", s(handleRoom(d)))
	mux.Handle("POST /rooms/{id}/enter", s(handleEnter(d)))
	mux.Handle("GET /rooms/{id}/ws", s(handleRoomSocket(d)))
	mux.Handle("GET /rooms/{id}/messages", s(handleHistory(d)))
	mux.Handle("POST /rooms/{id}/messages", s(handlePostMessage(d)))
	mux.Handle("POST /rooms/{id}/delete", s(handleDeleteRoom(d)))
	mux.Handle("GET /rooms/{id}/messages/{seq}/edit", s(handleEditMessage(d)))
	mux.Handle("POST /rooms/{id}/messages/{seq}/edit", s(handleEditMessage(d)))
	mux.Handle("POST /rooms/{id}/messages/{seq}/delete", s(handleDeleteMessage(d)))
	mux.Handle("POST /rooms/{id}/gifs", s(handleUploadGIF(d)))
	mux.Handle("GET /me.css", s(handleMeCSS()))
	mux.Handle("GET /me", s(handleProfile(d)))
	mux.Handle("POST /me", s(handleSaveProfile(d)))
	mux.Handle("GET /lang", handleLanguage())         // no session: choosing a language is not a visit
	mux.Handle("GET /gifs/{name}", handleServeGIF(d)) // no session: public, cacheable, named by content
	mux.Handle("GET /healthz", handleHealthz(d.Store, d.Ready))
	mux.Handle("GET /favicon.ico", handleFavicon())
	mux.Handle("GET "+static.Prefix, static.Handler())
	if d.Metrics != nil {
		mux.Handle("GET /metrics", d.Metrics)
	}
	if d.Config.Dev {
		addDevRoutes(mux, d, s) // the component gallery and pprof: dev.go
	}
	// No session for unknown URLs: scanners must not mint identities.
	mux.Handle("/", http.HandlerFunc(notFound))
}
