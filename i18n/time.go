package i18n

import (
	"fmt"
	"time"
)

// Clock is a time of day as a log entry shows it: "15:04" in English, "오후 3:04" in Korean.
func (l Lang) Clock(t time.Time) string {
	h := t.Hour()
	ampm, h12 := "time.am", h%12
	if h >= 12 {
		ampm = "time.pm"
	}
	if h12 == 0 {
		h12 = 12
	}
	return l.T("time.clock", "H24", fmt.Sprintf("%02d", h), "H12", h12, "MM", fmt.Sprintf("%02d", t.Minute()), "AmPm", l.T(ampm))
}

// Duration says a length of time in whole minutes ("15 minutes", "15분"), or in seconds
// when it is under a minute.
func (l Lang) Duration(d time.Duration) string {
	if d < time.Minute {
		return l.T("time.seconds", "Count", int(d.Round(time.Second)/time.Second))
	}
	return l.T("time.minutes", "Count", int(d.Round(time.Minute)/time.Minute))
}
