package handlers

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gifchat/components"
	"gifchat/db"
	"gifchat/media"
	"gifchat/realtime"
	"gifchat/vocab"
)

// GIFStore is what the GIF routes need from the media store.
type GIFStore interface {
	Stage(r io.Reader) (*media.Upload, error)
	Publish(ctx context.Context, u *media.Upload, post func(ctx context.Context, info media.GIFInfo) error) error
	Open(ctx context.Context, name string) (*os.File, error)
}

// Upload form limits.
const (
	gifField        = "gif" // the file input's name
	maxGIFNameBytes = 255
	maxUploadParts  = 8 // a form with the file and a few fields; more is not our form
)

// gifRefusal is an upload refused with a status and a reason for the uploader (a catalog
// message, errors.gif.* or errors.media.*, said in the uploader's language).
type gifRefusal struct {
	status int
	why    *realtime.Refusal
}

func (e *gifRefusal) Error() string { return e.why.Error() }

// refuseGIF is a gifRefusal said by the catalog message errors.gif.<key>.
func refuseGIF(status int, key string, kv ...any) *gifRefusal {
	return &gifRefusal{status, &realtime.Refusal{Key: "errors.gif." + key, Args: kv}}
}

// gifRestarting answers an upload that arrived while the server stops: not posted, try again.
func gifRestarting(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "5")
	gifRefuse(w, r, http.StatusServiceUnavailable, tr(r, "errors.gif.restarting"))
}

// handleUploadGIF posts a GIF to a room: checked like any post (admitted member), validated
// while it is read, stored under its SHA-256, then delivered to the room through the hub like
// any other message. A scripted upload (upload.js) gets 204 or a refusal for its status
// area; a plain form post is sent back to the room, or shown the refusal as a page.
func handleUploadGIF(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := identityFrom(r.Context())
		if d.GIFs == nil {
			gifRefuse(w, r, http.StatusServiceUnavailable, tr(r, "errors.gif.unavailable"))
			return
		}
		id := r.PathValue("id")
		var hub *realtime.Hub
		if roomIDPattern.MatchString(id) {
			hub = d.Rooms.Hub(id)
		}
		if hub == nil {
			gifRefuse(w, r, http.StatusNotFound, reason(r, realtime.ErrRoomGone))
			return
		}
		room := hub.Room()
		// Admitted means what joining means (the room's one rule): in the room now, or
		// allowed in with a place free to take.
		if err := hub.Admit(r.Context(), me, barAddr(r)); err != nil {
			var ref *realtime.Refusal
			switch {
			case !errors.As(err, &ref) || ref == realtime.ErrCheckFailed:
				gifServerError(w, r, err)
			case ref == realtime.ErrRoomGone && d.Rooms.Stopping():
				gifRestarting(w, r)
			case ref == realtime.ErrRoomGone:
				gifRefuse(w, r, http.StatusNotFound, reason(r, ref))
			case ref == realtime.ErrNeedsPassword:
				gifRefuse(w, r, http.StatusForbidden, tr(r, "errors.gif.needs_password"))
			case ref == realtime.ErrFull:
				gifRefuse(w, r, http.StatusConflict, tr(r, "errors.gif.full"))
			default:
				gifRefuse(w, r, http.StatusForbidden, reason(r, ref))
			}
			return
		}
		if refused := d.Guard.Allow(r, me.ID, ActionUpload); refused != "" {
			gifRefuse(w, r, http.StatusTooManyRequests, refused)
			return
		}

		up, name, to, err := receiveGIF(r, d.GIFs)
		if err != nil {
			var ref *gifRefusal
			if errors.As(err, &ref) {
				gifRefuse(w, r, ref.status, reason(r, ref.why))
				return
			}
			gifServerError(w, r, err)
			return
		}
		defer up.Discard()
		if err := checkGIFQuota(r.Context(), d, room.ID, up.Info); err != nil {
			var ref *gifRefusal
			if errors.As(err, &ref) {
				gifRefuse(w, r, ref.status, reason(r, ref.why))
				return
			}
			gifServerError(w, r, err)
			return
		}
		// The client going away must not cut a publish short: once the message is queued it
		// will be stored, and the file must still be there when it is.
		ctx := context.WithoutCancel(r.Context())
		err = d.GIFs.Publish(ctx, up, func(ctx context.Context, info media.GIFInfo) error {
			msg := &db.Message{Kind: vocab.KindGIF, GIF: info.SHA256, GIFWidth: info.Width, GIFHeight: info.Height, Body: name}
			if to != 0 { // the composer is whispering: so is the GIF
				msg.Kind, msg.RecipientID = vocab.KindWhisper, to
			}
			return hub.Post(ctx, me, msg)
		})
		if errors.Is(err, realtime.ErrRoomGone) && d.Rooms.Stopping() {
			gifRestarting(w, r)
			return
		}
		if errors.Is(err, realtime.ErrRoomGone) {
			gifRefuse(w, r, http.StatusNotFound, tr(r, "errors.gif.room_closed"))
			return
		}
		var refusal *realtime.Refusal
		if errors.As(err, &refusal) {
			gifRefuse(w, r, http.StatusConflict, tr(r, "errors.gif.refused", "Reason", reason(r, refusal)))
			return
		}
		if err != nil {
			gifServerError(w, r, err)
			return
		}
		d.Log.Info("gif posted", "room", room.ID, "author", me.ID, "gif", up.Info.SHA256, "bytes", up.Info.Bytes, "frames", up.Info.Frames)
		if d.Events.GIFPosted != nil {
			d.Events.GIFPosted(up.Info.Bytes)
		}
		if scripted(r) {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		http.Redirect(w, r, "/rooms/"+room.ID, http.StatusSeeOther)
	})
}

// receiveGIF reads the multipart body as a stream: exactly one file, validated and staged as
// it arrives (nothing is buffered whole in memory or spooled by the multipart package), its
// original name, and whom it whispers to (a "to" field, as the composer in whisper mode has;
// 0 for the whole room). Refusals are *gifRefusal; on any error nothing is left on disk.
func receiveGIF(r *http.Request, store GIFStore) (up *media.Upload, name string, to int64, err error) {
	defer func() {
		if err != nil && up != nil {
			up.Discard()
			up = nil
		}
	}()
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, "", 0, refuseGIF(http.StatusBadRequest, "not_multipart")
	}
	for parts := 0; ; parts++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return up, "", 0, readRefusal(err)
		}
		if parts >= maxUploadParts {
			return up, "", 0, refuseGIF(http.StatusBadRequest, "too_many_parts")
		}
		filename, isFile := uploadFileName(part.Header.Get("Content-Disposition"))
		if !isFile && part.FormName() == "to" {
			v, err := io.ReadAll(io.LimitReader(part, 32))
			if err != nil {
				return up, "", 0, readRefusal(err)
			}
			if len(v) > 0 {
				if to, err = strconv.ParseInt(string(v), 10, 64); err != nil || to <= 0 {
					return up, "", 0, refuseGIF(http.StatusBadRequest, "bad_recipient")
				}
			}
			continue
		}
		if !isFile && part.FormName() != gifField {
			if _, err := io.Copy(io.Discard, part); err != nil { // bounded by the body limit
				return up, "", 0, readRefusal(err)
			}
			continue
		}
		body := bufio.NewReader(part)
		if filename == "" {
			// A form submitted with no file chosen sends an empty, nameless file part.
			if _, err := body.Peek(1); err == io.EOF {
				continue
			} else if err != nil {
				return up, "", 0, readRefusal(err)
			}
		}
		if up != nil {
			return up, "", 0, refuseGIF(http.StatusBadRequest, "more_than_one")
		}
		if ref := checkFileName(filename); ref != nil {
			return nil, "", 0, ref
		}
		up, err = store.Stage(body)
		if err != nil {
			return nil, "", 0, stageRefusal(err)
		}
		name = filename
	}
	if up == nil {
		return nil, "", 0, refuseGIF(http.StatusBadRequest, "none")
	}
	return up, name, to, nil
}

// checkGIFQuota refuses a GIF that would take all stored GIFs past -max-gif-store-bytes
// (507: the server keeps no more) or the room's past -max-gif-bytes-per-room (413: a smaller
// GIF may still fit). A GIF already stored, or already in the room, adds nothing there.
// Uploads checked at the same moment may together pass a limit by their own sizes.
func checkGIFQuota(ctx context.Context, d Deps, roomID string, info media.GIFInfo) error {
	u, err := d.Store.GIFUsage(ctx, roomID, info.SHA256)
	if err != nil {
		return err
	}
	if !u.Stored && u.TotalBytes+info.Bytes > d.Config.MaxGIFStoreBytes {
		return refuseGIF(http.StatusInsufficientStorage, "store_full")
	}
	if !u.InRoom && u.RoomBytes+info.Bytes > d.Config.MaxGIFBytesPerRoom {
		return refuseGIF(http.StatusRequestEntityTooLarge, "room_quota", "Used", media.HumanBytes(u.RoomBytes),
			"Limit", media.HumanBytes(d.Config.MaxGIFBytesPerRoom), "Size", media.HumanBytes(info.Bytes))
	}
	return nil
}

// uploadFileName returns the part's filename exactly as sent (multipart.Part.FileName keeps
// only its last path element, which would hide a "../" from the check) and whether it had one.
func uploadFileName(disposition string) (string, bool) {
	_, params, err := mime.ParseMediaType(disposition)
	if err != nil {
		return "", false
	}
	name, ok := params["filename"]
	return name, ok
}

// checkFileName refuses names that are not a plain file name. The name is never used on disk
// (files are named by their hash); it is kept as the message's text, so it must be one
// harmless line, and a name with a path in it is a client doing something odd.
func checkFileName(name string) *gifRefusal {
	switch {
	case len(name) > maxGIFNameBytes:
		return refuseGIF(http.StatusBadRequest, "name_too_long", "Max", maxGIFNameBytes)
	case !utf8.ValidString(name):
		return refuseGIF(http.StatusBadRequest, "name_not_text")
	case strings.ContainsAny(name, `/\`) || name == "." || name == "..":
		return refuseGIF(http.StatusBadRequest, "name_path")
	case strings.ContainsFunc(name, unicode.IsControl):
		return refuseGIF(http.StatusBadRequest, "name_control")
	case strings.ContainsFunc(name, isBidiControl):
		// Kept as the message's text, it must be as plain as any message ("cat\u202egif.exe"
		// reads "catexe.fig").
		return refuseGIF(http.StatusBadRequest, "name_bidi")
	}
	return nil
}

// stageRefusal maps a media error to its status, once: a refusal of the file keeps its own
// reason; a failed body is a too-large or interrupted request; anything else is ours (500).
func stageRefusal(err error) error {
	var ref *media.Error
	if errors.As(err, &ref) {
		status := http.StatusUnprocessableEntity
		switch {
		case errors.Is(err, media.ErrEmpty):
			status = http.StatusBadRequest
		case errors.Is(err, media.ErrNotGIF):
			status = http.StatusUnsupportedMediaType
		case errors.Is(err, media.ErrTooLarge):
			status = http.StatusRequestEntityTooLarge
		}
		return &gifRefusal{status, &realtime.Refusal{Key: ref.Key, Args: ref.Args}}
	}
	if errors.Is(err, media.ErrRead) {
		return readRefusal(err)
	}
	return err
}

func readRefusal(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return refuseGIF(http.StatusRequestEntityTooLarge, "upload_too_large", "Size", media.HumanBytes(mbe.Limit))
	}
	return refuseGIF(http.StatusBadRequest, "interrupted")
}

// scripted reports a request made by our own script (upload.js) or htmx, which wants a
// fragment for the status area rather than a page.
func scripted(r *http.Request) bool {
	return isHTMX(r) || r.Header.Get("X-Requested-With") == "XMLHttpRequest"
}

// gifRefuse answers a refused upload with its reason: a status-area fragment for upload.js,
// a page without JS. The rest of the body is read first (it is bounded by limitBodies):
// answering while the browser is still sending makes the server close the connection, and
// the browser then reports a network error instead of the reason.
func gifRefuse(w http.ResponseWriter, r *http.Request, status int, reason string) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
	}
	if r.Context().Err() != nil {
		// The uploader cancelled or went away: nobody to answer, and nothing went wrong
		// here (render would log the cancelled context as a server error).
		return
	}
	if scripted(r) {
		render(w, r, status, components.GIFStatus("error", reason))
		return
	}
	errorPage(w, r, status, tr(r, "errors.page.gif_not_posted.title"), reason)
}

func gifServerError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
	}
	if !scripted(r) {
		serverError(w, r, err)
		return
	}
	// Logged like serverError; the uploader sees a plain reason, never err's text.
	slog.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	render(w, r, http.StatusInternalServerError, components.GIFStatus("error", tr(r, "errors.gif.server")))
}

// gifHeaders are set on every served GIF: its type, no sniffing, a CSP that lets it do
// nothing even if opened on its own, and a year of caching (the name is its content's hash).
func setGIFHeaders(h http.Header) {
	h.Set("Content-Type", "image/gif")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
}

// handleServeGIF serves a stored GIF by its content-addressed name; any other name is a 404
// without touching the file system.
func handleServeGIF(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if d.GIFs == nil || !media.ValidName(name) {
			gifNotFound(w, r)
			return
		}
		f, err := d.GIFs.Open(r.Context(), name)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				d.Log.Error("open gif", "name", name, "err", err)
			}
			gifNotFound(w, r)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			d.Log.Error("stat gif", "name", name, "err", err)
			gifNotFound(w, r)
			return
		}
		setGIFHeaders(w.Header())
		w.Header().Set("ETag", `"`+strings.TrimSuffix(name, ".gif")+`"`)
		http.ServeContent(w, r, name, st.ModTime(), f)
	})
}

// gifNotFound is a plain 404 under the same locked-down CSP as the images (the page CSP is
// not applied under /gifs/).
func gifNotFound(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "no-store") // it is said in the request's language: keep no copy
	w.WriteHeader(http.StatusNotFound)
	io.WriteString(w, tr(r, "errors.gif.not_found")+"\n")
}
