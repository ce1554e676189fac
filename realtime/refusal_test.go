package realtime

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"gifchat/i18n"
)

// A refusal is said in each reader's language when it is sent: its durations in that
// language's words, a reason it quotes too; its Error is the English, and errors.Is still
// tells one refusal from another.
func TestRefusalIsSaidInTheReadersLanguage(t *testing.T) {
	kicked := refusal("errors.owner.kicked", "Duration", 10*time.Minute)
	if got := kicked.Text(i18n.En); got != "You were removed by the owner. You can come back in 10 minutes." {
		t.Errorf("English: %q", got)
	}
	if got := kicked.Text(i18n.Ko); got != "방장이 내보냈습니다. 10분 후에 다시 들어올 수 있습니다." {
		t.Errorf("Korean: %q", got)
	}
	if _, ok := kicked.Args[1].(time.Duration); !ok || kicked.Error() != kicked.Text(i18n.En) {
		t.Errorf("saying a refusal changed it (%#v), or Error is not the English", kicked.Args)
	}
	quoted := refusal("errors.gif.refused", "Reason", ErrWhisperGone)
	if got := quoted.Text(i18n.Ko); got != "상대가 방을 나가서 귓속말을 보내지 못했습니다. GIF를 올리지 못했습니다." {
		t.Errorf("a quoted reason in Korean: %q", got)
	}
	wrapped := fmt.Errorf("media: publish: %w", ErrFull)
	if !errors.Is(wrapped, ErrFull) || errors.Is(wrapped, ErrLocked) {
		t.Error("errors.Is no longer tells the refusals apart")
	}
	if got := Reason(i18n.Ko, wrapped); got != "방이 가득 찼습니다." {
		t.Errorf("Reason of a wrapped refusal: %q", got)
	}
	if got := Reason(i18n.Ko, errors.New("db: disk full")); strings.Contains(got, "disk") || !strings.Contains(got, "다시 시도해 주세요") {
		t.Errorf("Reason of a plain error: %q", got)
	}
	if _, err := decodeCommand([]byte(`{"action":"dance"}`)); !errors.Is(err, ErrFrame) || Reason(i18n.Ko, err) != "메시지를 읽을 수 없습니다. 알 수 없는 동작입니다." {
		t.Errorf("a frame refusal: %v / %q", err, Reason(i18n.Ko, err))
	}
}

// A close frame carries at most 123 bytes of reason: a long Korean one is cut between
// characters, never inside one.
func TestCloseReasonsFitTheFrame(t *testing.T) {
	long := strings.Repeat("가", 60) // 180 bytes
	got := fitClose(long)
	if len(got) > 120 || !utf8.ValidString(got) || !strings.HasPrefix(long, got) || len(got) < 117 {
		t.Errorf("fitClose cut %d bytes to %d (%q)", len(long), len(got), got)
	}
	for _, key := range []string{closeSlow, closeRemoved, closeRoomClosed, closeRestarting} {
		for _, l := range i18n.All {
			if s := closeText(l, key); s == key || s == "" {
				t.Errorf("%s close reason %s is %q", l.Code(), key, s)
			}
		}
	}
}
