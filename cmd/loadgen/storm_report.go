package main

// What a storm run reports: its JSON section and its summary line.

import (
	"fmt"
)

// StormResult holds the figures of a storm run. Times are seconds from the signal.
type StormResult struct {
	People         int     `json:"people"`
	Rooms          int     `json:"rooms"`
	SendersPerRoom int     `json:"senders_per_room"`
	RatePerSender  float64 `json:"rate_per_sender"`
	Restart        string  `json:"restart"` // term or kill
	Backoff        string  `json:"backoff"`
	KeepSending    bool    `json:"keep_sending"`
	Members        int     `json:"members"` // sockets up at the signal

	ChatSeconds float64 `json:"chat_seconds"` // the chat before the signal

	ExitSeconds float64 `json:"exit_seconds"` // signal -> the old process gone
	// ListeningSeconds: signal -> the new one's port has a listening socket (from then on
	// the crowd's reconnects wait in its queue instead of being refused).
	ListeningSeconds float64 `json:"listening_seconds"`
	DownSeconds      float64 `json:"down_seconds"`     // signal -> the new one answers /healthz
	AllBackSeconds   float64 `json:"all_back_seconds"` // signal -> the last socket open again
	// AllCaughtUpSeconds: signal -> the last member back and holding every entry up to its
	// room's noted seq (the newest entry any member held at the signal).
	AllCaughtUpSeconds float64 `json:"all_caught_up_seconds"`
	Back               Summary `json:"back"` // per reconnected socket, ms from the signal

	Reconnected int `json:"reconnected"` // sockets that went down and came back
	NotBack     int `json:"not_back"`    // sockets still down at the end
	CaughtUp    int `json:"caught_up"`
	NotCaughtUp int `json:"not_caught_up"`
	// Missing: messages at or below the noted seq a member lacked at the end though another
	// member of its room had them (summed over members).
	Missing int64 `json:"missing"`
	// JoinsPerSec is Reconnected / AllBackSeconds; JoinsPerSecFromHealthy counts from the
	// moment the new server answered /healthz instead.
	JoinsPerSec            float64 `json:"joins_per_s"`
	JoinsPerSecFromHealthy float64 `json:"joins_per_s_from_healthy"`

	// CPUSeconds is the CPU time the restarted server had used at the end (its start
	// included); Frames and Bytes what the members received from the signal to the end:
	// replays, member lists, notices. Panels counts the frames among them that carried the
	// whole members panel: a socket whose page shows the room's panel (?panel=) gets none.
	CPUSeconds float64 `json:"cpu_seconds"`
	Frames     int64   `json:"frames"`
	Bytes      int64   `json:"bytes"`
	Panels     int64   `json:"whole_panels"`

	PID           int   `json:"pid"`                   // the restarted server's
	PeakRSS       int64 `json:"peak_rss_bytes"`        // its VmHWM at the end
	RSSEnd        int64 `json:"rss_end_bytes"`         // its VmRSS at the end
	RSSBefore     int64 `json:"rss_before_bytes"`      // the old process's VmRSS just before the signal
	PeakRSSBefore int64 `json:"peak_rss_before_bytes"` // and its VmHWM

	Sent    int64 `json:"sent"`
	Refused int64 `json:"refused"`
	// Lost, Duplicated, Reordered, Stray: as in chat mode, over the whole run. Lost counts
	// deliveries; Partial and Unconfirmed count messages: stored and delivered to some of
	// the room but not all, and never delivered to anyone (the server did not take them in:
	// in flight when it stopped).
	Expected    int64 `json:"expected_deliveries"`
	Deliveries  int64 `json:"deliveries"`
	Lost        int64 `json:"lost"`
	Partial     int64 `json:"partial"`
	Unconfirmed int64 `json:"unconfirmed"`
	// UnconfirmedBeforeSignal: those of them written before the signal.
	UnconfirmedBeforeSignal int64 `json:"unconfirmed_before_signal"`
	Duplicated              int64 `json:"duplicated"`
	Reordered               int64 `json:"reordered"`
	Stray                   int64 `json:"stray"`

	// Notices are the distinct notices above the noted seq the members received after the
	// signal, i.e. what the restart made the server say (joins, leaves, owner changes);
	// NoticeReceptions counts every member's copy.
	Notices          int            `json:"notices"`
	NoticeKinds      map[string]int `json:"notice_kinds,omitempty"`
	NoticeReceptions int            `json:"notice_receptions"`
	// NoticeFirstMs and NoticeLastMs: when the first and the last of them came (its first
	// copy), ms from the signal.
	NoticeFirstMs float64 `json:"notice_first_ms,omitempty"`
	NoticeLastMs  float64 `json:"notice_last_ms,omitempty"`

	// ReconnectAttempts are the dials after the signal (a refused one included);
	// MaxAttemptsPerSocket the most one socket needed.
	ReconnectAttempts    int64 `json:"reconnect_attempts"`
	MaxAttemptsPerSocket int64 `json:"max_attempts_per_socket"`
	// Refusals are the failed dials by reason (connection refused, an HTTP status);
	// CloseReasons why sockets went down (e.g. 1012, or a network error after SIGKILL);
	// Ended the sockets that ended for good (a 4xxx close), by reason.
	Refusals     map[string]int `json:"refusals,omitempty"`
	CloseReasons map[string]int `json:"close_reasons,omitempty"`
	Ended        map[string]int `json:"ended,omitempty"`

	// ServerLog counts the server's log lines (both processes) by level; ServerWarnings its
	// warnings and errors by message; DataRaces the race detector's reports.
	ServerLog      map[string]int `json:"server_log,omitempty"`
	ServerWarnings map[string]int `json:"server_warnings,omitempty"`
	DataRaces      int            `json:"data_races,omitempty"`
}

// stormSummary is the storm's part of the summary line.
func (s *StormResult) summary() string {
	line := fmt.Sprintf("storm %s, %d people in %d rooms: exit %s, listening %s, down %s, all back %s (p50 %s), caught up %s, %.0f joins/s (%.0f/s from healthy), reconnected %d",
		s.Restart, s.People, s.Rooms, fmtSec(s.ExitSeconds), fmtSec(s.ListeningSeconds), fmtSec(s.DownSeconds), fmtSec(s.AllBackSeconds), fmtMs(s.Back.P50Ms),
		fmtSec(s.AllCaughtUpSeconds), s.JoinsPerSec, s.JoinsPerSecFromHealthy, s.Reconnected)
	if s.NotBack > 0 || s.NotCaughtUp > 0 {
		line += fmt.Sprintf(", NOT BACK %d, NOT CAUGHT UP %d", s.NotBack, s.NotCaughtUp)
	}
	line += fmt.Sprintf(", lost %d dup %d reordered %d", s.Lost, s.Duplicated, s.Reordered)
	if s.Unconfirmed > 0 || s.Partial > 0 {
		line += fmt.Sprintf(" (unconfirmed %d, %d of them sent before the signal; partial %d)", s.Unconfirmed, s.UnconfirmedBeforeSignal, s.Partial)
	}
	line += fmt.Sprintf(", notices %d", s.Notices)
	if len(s.NoticeKinds) > 0 {
		line += " (" + topReasons(s.NoticeKinds) + ")"
	}
	if s.Notices > 0 {
		line += fmt.Sprintf(" %s to %s after the signal", fmtMs(s.NoticeFirstMs), fmtMs(s.NoticeLastMs))
	}
	line += fmt.Sprintf(", attempts %d (max %d/socket)", s.ReconnectAttempts, s.MaxAttemptsPerSocket)
	if len(s.Refusals) > 0 {
		line += ", refused " + topReasons(s.Refusals)
	}
	if len(s.Ended) > 0 {
		line += ", ended " + topReasons(s.Ended)
	}
	line += fmt.Sprintf(", peak rss %s (before %s), cpu %.1fs, received %s in %d frames (%d whole members panels)",
		fmtBytes(float64(s.PeakRSS)), fmtBytes(float64(s.RSSBefore)), s.CPUSeconds, fmtBytes(float64(s.Bytes)), s.Frames, s.Panels)
	if n := s.ServerWarnings; len(n) > 0 {
		line += ", server log: " + topReasons(n)
	}
	if s.DataRaces > 0 {
		line += fmt.Sprintf(", DATA RACES %d", s.DataRaces)
	}
	return line
}

// fmtSec prints seconds as fmtMs does.
func fmtSec(s float64) string { return fmtMs(s * 1000) }
