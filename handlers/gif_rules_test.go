package handlers_test

// Who may post a GIF, and how much: admission, the guard, the quotas, whispers.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"gifchat/db"
	. "gifchat/handlers"
)

// Only an admitted member may post: not someone who has not given a private room's password,
// not someone barred, not someone who could not get a place, not into a missing room.
func TestGIFUploadNeedsAdmission(t *testing.T) {
	ts := startGIFServer(t, gifServerOptions{})
	alice, bob, carol := ts.newPerson(t), ts.newPerson(t), ts.newPerson(t)
	data := testGIF(t, 10, 10, 1, 20)
	refused := func(t *testing.T, person *http.Client, room string, status int, reason string) {
		t.Helper()
		resp, text := ts.uploadGIF(t, person, room, "x.gif", data)
		if resp.StatusCode != status || !strings.Contains(text, reason) {
			t.Fatalf("upload: %s, want %d with %q\n%s", resp.Status, status, reason, text)
		}
		if RoomIDPattern.MatchString(room) && ts.Rooms.Hub(room) != nil && len(ts.gifMessages(t, room)) != 0 {
			t.Fatal("a refused upload left a message")
		}
		if files := ts.files(t); len(files) != 0 {
			t.Fatalf("a refused upload left files: %v", files)
		}
	}

	t.Run("private room not entered", func(t *testing.T) {
		room := ts.createRoom(t, alice, "Secret", 0, "hunter22")
		refused(t, bob, room, http.StatusForbidden, "private")
		// After the password, the same person may post.
		resp, text := ts.postForm(t, noRedirect(bob), "/rooms/"+room+"/enter", url.Values{"password": {"hunter22"}}, nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("enter: %s\n%s", resp.Status, text)
		}
		if resp, text := ts.uploadGIF(t, bob, room, "x.gif", data); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("upload after entering: %s\n%s", resp.Status, text)
		}
		ts.postForm(t, noRedirect(alice), "/rooms/"+room+"/delete", url.Values{"confirm": {"yes"}}, nil)
		ts.gifs.Wait()
	})
	t.Run("barred", func(t *testing.T) {
		room := ts.createRoom(t, alice, "Strict", 0, "")
		until := time.Now().Add(time.Hour).UnixMilli()
		if err := ts.Store.BarFromRoom(context.Background(), room, ts.identity(t, bob).ID, until); err != nil {
			t.Fatal(err)
		}
		refused(t, bob, room, http.StatusForbidden, "removed by the owner")
	})
	t.Run("full room", func(t *testing.T) {
		room := ts.createRoom(t, alice, "Pair", 2, "")
		readFrame(t, ts.dialRoom(t, alice, room, 0))
		readFrame(t, ts.dialRoom(t, carol, room, 0))
		refused(t, bob, room, http.StatusConflict, "full")
		// Someone who holds a place may post.
		if resp, text := ts.uploadGIF(t, carol, room, "x.gif", data); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("member's upload: %s\n%s", resp.Status, text)
		}
		ts.postForm(t, noRedirect(alice), "/rooms/"+room+"/delete", url.Values{"confirm": {"yes"}}, nil)
		ts.gifs.Wait()
	})
	t.Run("missing room", func(t *testing.T) {
		refused(t, bob, "aaaaaaaaaaaaaaaa", http.StatusNotFound, "not found")
		refused(t, bob, "AAAAAAAAAAAAAAAA", http.StatusNotFound, "not found")
	})
}

func TestGIFUploadAsksTheGuard(t *testing.T) {
	ts := startGIFServer(t, gifServerOptions{guard: refuseUploads{}})
	alice := ts.newPerson(t)
	room := ts.createRoom(t, alice, "Limited", 0, "")
	resp, text := ts.uploadGIF(t, alice, room, "x.gif", testGIF(t, 10, 10, 1, 30))
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(text, "too many uploads") {
		t.Fatalf("guarded upload: %s\n%s", resp.Status, text)
	}
	if len(ts.files(t)) != 0 || len(ts.gifMessages(t, room)) != 0 {
		t.Fatal("a refused upload left a file or message")
	}
}

// The status fragment a scripted refusal returns escapes what it carries.
func TestGIFRefusalReasonIsEscaped(t *testing.T) {
	ts := startGIFServer(t, gifServerOptions{guard: guardFunc(func(string) string { return `<img src=x onerror=alert(1)>` })})
	alice := ts.newPerson(t)
	room := ts.createRoom(t, alice, "Escapes", 0, "")
	_, text := ts.uploadGIF(t, alice, room, "x.gif", testGIF(t, 4, 4, 1, 50))
	if strings.Contains(text, "<img src=x") || !strings.Contains(text, "&lt;img") {
		t.Fatalf("reason not escaped: %s", text)
	}
}

// TestGIFQuotas: an upload that would take a room's GIFs past -max-gif-bytes-per-room is
// refused with 413, one that would take all stored GIFs past -max-gif-store-bytes with 507,
// each with its reason for the uploader (the status fragment for upload.js, a page without
// JS), and nothing is stored. A GIF already in the room, or already stored, adds nothing and
// is still posted.
func TestGIFQuotas(t *testing.T) {
	const kib = 1 << 10
	ts := startGIFServer(t, gifServerOptions{maxPerRoom: 35 * kib, maxStore: 45 * kib})
	alice := ts.newPerson(t)
	roomA := ts.createRoom(t, alice, "GIFs A", 0, "")
	roomB := ts.createRoom(t, alice, "GIFs B", 0, "")
	gifs := make([][]byte, 5) // about 10 KiB each, each different
	for i := range gifs {
		gifs[i] = paddedGIF(t, 10*kib+i)
	}
	post := func(room string, i int, want int, reason string) {
		t.Helper()
		body, ctype := multipartBody(t, gifPart{"gif", fmt.Sprintf("g%d.gif", i), gifs[i]})
		for _, scripted := range []bool{true, false} {
			resp, text := ts.upload(t, alice, room, body, ctype, scripted, false)
			if want == http.StatusNoContent && !scripted {
				want = http.StatusSeeOther
			}
			if resp.StatusCode != want || !strings.Contains(text, reason) {
				t.Fatalf("GIF %d (scripted %v): %s, want %d saying %q\n%s", i, scripted, resp.Status, want, reason, text)
			}
			if scripted && reason != "" && !strings.Contains(text, `data-gif-status="error"`) {
				t.Fatalf("GIF %d: a scripted refusal is not the status fragment:\n%s", i, text)
			}
			if want/100 == 2 || want/100 == 3 {
				return // posted once is enough
			}
		}
	}
	post(roomA, 0, http.StatusNoContent, "")
	post(roomA, 1, http.StatusNoContent, "")
	post(roomA, 2, http.StatusNoContent, "")
	post(roomA, 3, http.StatusRequestEntityTooLarge, "a room may hold")
	post(roomA, 0, http.StatusNoContent, "") // already in the room: it fits
	post(roomB, 3, http.StatusNoContent, "")
	post(roomB, 4, http.StatusInsufficientStorage, "no space left for new GIFs")
	post(roomB, 0, http.StatusNoContent, "") // already stored: it fits
	if n, m := len(ts.gifMessages(t, roomA)), len(ts.gifMessages(t, roomB)); n != 4 || m != 2 {
		t.Errorf("%d GIF messages in A, %d in B; want 4 and 2", n, m)
	}
	sum := sha256.Sum256(gifs[4])
	refused := hex.EncodeToString(sum[:])
	if _, err := ts.Store.GIFByHash(context.Background(), refused); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("the refused GIF was stored: %v", err)
	}
	if ts.hasFile(refused) {
		t.Error("the refused GIF left its file")
	}
}

// A GIF uploaded while the composer whispers is a whisper too: only its two people get it,
// and a whisper to someone gone is refused with the reason, nothing posted.
func TestGIFInWhisperModeIsAWhisper(t *testing.T) {
	ts := startGIFServer(t, gifServerOptions{})
	alice, bob, carol := ts.newPerson(t), ts.newPerson(t), ts.newPerson(t)
	room := ts.createRoom(t, alice, "Quiet GIFs", 0, "")
	a := ts.joined(t, alice, room)
	b := ts.joined(t, bob, room)
	c := ts.joined(t, carol, room)
	a.waitFor(t, ts.identity(t, carol).Nickname+" joined")
	bobID := ts.identity(t, bob).ID

	body, ctype := multipartBody(t, gifPart{"to", "-", []byte(fmt.Sprint(bobID))}, gifPart{"gif", "secret.gif", testGIF(t, 9, 9, 1, 77)})
	if resp, text := ts.upload(t, alice, room, body, ctype, true, false); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("whispered upload: %s\n%s", resp.Status, text)
	}
	b.waitFor(t, `alt="GIF from `)
	a.waitFor(t, `alt="GIF from `)
	c.say(t, "sync")
	c.waitFor(t, "sync")
	if strings.Contains(c.received(), `alt="GIF from `) {
		t.Error("a GIF whispered to bob reached carol")
	}
	if !strings.Contains(b.received(), `data-kind="whisper"`) {
		t.Error("bob's GIF is not shown as a whisper")
	}

	body, ctype = multipartBody(t, gifPart{"to", "-", []byte("987654")}, gifPart{"gif", "nobody.gif", testGIF(t, 9, 9, 1, 78)})
	resp, text := ts.upload(t, alice, room, body, ctype, true, false)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(text, "That person has left") {
		t.Errorf("a GIF whispered to nobody here: %s\n%s", resp.Status, text)
	}
}
