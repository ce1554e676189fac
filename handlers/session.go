package handlers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"time"

	"gifchat/db"
	"gifchat/i18n"
)

// SessionCookie is the name of the cookie that carries a visitor's session token over plain
// HTTP. Over HTTPS it is HostSessionCookie.
const SessionCookie = "gifchat_session"

// HostSessionCookie is the session cookie's name on secure requests. The __Host- prefix makes
// the browser keep it only if it is Secure, has Path=/ and no Domain, so a sibling subdomain
// or a plain-HTTP answer (a network attacker's) cannot set or shadow it.
const HostSessionCookie = "__Host-" + SessionCookie

// sessionStore is what the session middleware needs from storage.
type sessionStore interface {
	CreateIdentitySession(ctx context.Context, tokenHash, nickname, colour string) (db.Identity, error)
	SessionByToken(ctx context.Context, tokenHash string) (db.Session, error)
	TouchSession(ctx context.Context, tokenHash string) error
}

// sessionTouchEvery is how stale a session's last use may be before a request records a new
// one: often enough for the idle sweep (-identity-ttl, days), rarely enough that a request
// is not also a write.
const sessionTouchEvery = time.Hour

type identityKey struct{}

type secureKey struct{}

// withSecure records whether the request reached us over HTTPS (see isSecure), for the
// session cookie's flags; securityHeaders calls it once per request.
func withSecure(r *http.Request, secure bool) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), secureKey{}, secure))
}

func requestSecure(r *http.Request) bool {
	secure, _ := r.Context().Value(secureKey{}).(bool)
	return secure || r.TLS != nil
}

// isSecure reports whether the browser's request was HTTPS: TLS here, or, with trustProxy,
// a reverse proxy that terminated TLS and says so in X-Forwarded-Proto (the last entry, the
// one our proxy wrote, as with X-Forwarded-For). Without trustProxy the header is the
// client's own claim and is ignored.
func isSecure(r *http.Request, trustProxy bool) bool {
	if r.TLS != nil {
		return true
	}
	if !trustProxy {
		return false
	}
	vs := r.Header.Values("X-Forwarded-Proto")
	if len(vs) == 0 {
		return false
	}
	last := vs[len(vs)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	return strings.EqualFold(strings.TrimSpace(last), "https")
}

// sessionToken returns the token the request carries under either name, the __Host- one
// first, and the name it came under. A browser that was given the cookie over plain HTTP
// (before a proxy was trusted, say) still carries the plain name.
func sessionToken(r *http.Request) (token, name string) {
	for _, name := range []string{HostSessionCookie, SessionCookie} {
		if c, err := r.Cookie(name); err == nil && len(c.Value) == 43 {
			return c.Value, name
		}
	}
	return "", ""
}

// setSessionCookie gives the browser its session token: HttpOnly, SameSite=Lax, for a year;
// on a secure request Secure and under the __Host- name.
func setSessionCookie(w http.ResponseWriter, r *http.Request, token string) {
	name, secure := SessionCookie, requestSecure(r)
	if secure {
		name = HostSessionCookie
	}
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    token,
		Path:     "/",
		MaxAge:   int((365 * 24 * time.Hour).Seconds()),
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		Secure:   secure,
	})
}

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
		if token, name := sessionToken(r); token != "" {
			sess, err := store.SessionByToken(r.Context(), hashToken(token))
			if err == nil {
				id := sess.Identity
				if time.Since(time.UnixMilli(sess.LastSeen)) >= sessionTouchEvery {
					if err := store.TouchSession(r.Context(), hashToken(token)); err != nil {
						// Only the idle sweep needs it, a little later than it would have.
						slog.WarnContext(r.Context(), "touch session", "err", err)
					}
				}
				if name == SessionCookie && requestSecure(r) {
					// Moved to the __Host- name, and so made Secure, on its first HTTPS visit.
					setSessionCookie(w, r, token)
					http.SetCookie(w, &http.Cookie{Name: SessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
				}
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
				return
			}
			if !errors.Is(err, db.ErrNotFound) {
				serverError(w, r, fmt.Errorf("session lookup: %w", err))
				return
			}
		}
		if refused := guard.Allow(r, 0, ActionNewSession); refused != "" {
			w.Header().Set("Retry-After", "10")
			errorPage(w, r, http.StatusTooManyRequests, tr(r, "errors.page.new_visitors.title"), refused)
			return
		}
		token, err := newToken()
		if err != nil {
			serverError(w, r, err)
			return
		}
		id, err := store.CreateIdentitySession(r.Context(), hashToken(token), newNickname(i18n.From(r.Context())), newColour())
		if err != nil {
			serverError(w, r, fmt.Errorf("create session: %w", err))
			return
		}
		setSessionCookie(w, r, token)
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

// Colours is the palette of identity colours; each is a CSS class with light and dark shades.
var Colours = []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10", "c11"}

func pick(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0
	}
	return int(v.Int64())
}

func newColour() string { return Colours[pick(len(Colours))] }
