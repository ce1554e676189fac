package handlers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"time"

	"gifchat/db"
)

// SessionCookie is the name of the cookie that carries a visitor's session token.
const SessionCookie = "gifchat_session"

// sessionStore is what the session middleware needs from storage.
type sessionStore interface {
	CreateIdentitySession(ctx context.Context, tokenHash, nickname, colour string) (db.Identity, error)
	IdentityBySession(ctx context.Context, tokenHash string) (db.Identity, error)
}

type identityKey struct{}

// identityFrom returns the visitor's identity; every route behind withSession has one.
func identityFrom(ctx context.Context) db.Identity {
	id, _ := ctx.Value(identityKey{}).(db.Identity)
	return id
}

// withSession gives every visitor an anonymous identity. The cookie holds a random token; the
// database holds only its SHA-256, so a leaked database holds no usable sessions. A small own
// piece rather than a session library: all we keep is "token -> identity row", and the row is
// what the rest of the app needs. Each new identity is a row, so minting them is limited per
// client address (ActionNewSession): a script that drops its cookie cannot fill the database.
func withSession(store sessionStore, guard Guard, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(SessionCookie); err == nil && len(c.Value) == 43 {
			id, err := store.IdentityBySession(r.Context(), hashToken(c.Value))
			if err == nil {
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
				return
			}
			if !errors.Is(err, db.ErrNotFound) {
				serverError(w, r, fmt.Errorf("session lookup: %w", err))
				return
			}
		}
		if reason := guard.Allow(r, 0, ActionNewSession); reason != "" {
			w.Header().Set("Retry-After", "10")
			errorPage(w, r, http.StatusTooManyRequests, "Too many new visitors", reason)
			return
		}
		token, err := newToken()
		if err != nil {
			serverError(w, r, err)
			return
		}
		id, err := store.CreateIdentitySession(r.Context(), hashToken(token), newNickname(), newColour())
		if err != nil {
			serverError(w, r, fmt.Errorf("create session: %w", err))
			return
		}
		http.SetCookie(w, &http.Cookie{
			Name:     SessionCookie,
			Value:    token,
			Path:     "/",
			MaxAge:   int((365 * 24 * time.Hour).Seconds()),
			HttpOnly: true,
			SameSite: http.SameSiteLaxMode,
			Secure:   r.TLS != nil,
		})
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	})
}

func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

var (
	adjectives = []string{"brisk", "calm", "daring", "eager", "fuzzy", "gentle", "happy", "jolly", "keen", "lucky",
		"mellow", "nimble", "plucky", "quick", "rosy", "sunny", "tidy", "witty", "zesty", "bold", "breezy", "cosy", "dapper", "lively"}
	animals = []string{"otter", "panda", "heron", "lynx", "koala", "gecko", "badger", "finch", "moose", "walrus",
		"puffin", "tapir", "yak", "marmot", "quokka", "ibis", "newt", "orca", "wombat", "ferret", "magpie", "bison", "crane", "seal"}
)

// Colours is the palette of identity colours; each is a CSS class with light and dark shades.
var Colours = []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10", "c11"}

func pick(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0
	}
	return int(v.Int64())
}

func newNickname() string {
	return fmt.Sprintf("%s-%s-%02d", adjectives[pick(len(adjectives))], animals[pick(len(animals))], pick(100))
}

func newColour() string { return Colours[pick(len(Colours))] }
