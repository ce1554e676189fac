package realtime

import "testing"

// TestCleanTextStripsControlsAndOverrides: what a message may not carry is taken out, line
// ends become \n, and everything else (tabs, the direction marks, other scripts) stays.
func TestCleanTextStripsControlsAndOverrides(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"invoice\u202egpj.exe", "invoicegpj.exe"},               // right-to-left override
		{"\u202a\u202b\u202c\u202d\u202ehi", "hi"},               // every embedding and override
		{"\u2066a\u2067b\u2068c\u2069", "abc"},                   // isolates
		{"\x1b[2J\x1b[31mred", "[2J[31mred"},                     // a terminal escape
		{"a\x00b\x07c\x08d\x7fe", "abcde"},                       // NUL, bell, backspace, DEL
		{"a\u0085b\u009bc", "abc"},                               // C1 controls
		{"one\r\ntwo\rthree\nfour", "one\ntwo\nthree\nfour"},     // line ends
		{"col\tcol", "col\tcol"},                                 // tabs stay
		{"\u200fשלום, world\u200e!", "\u200fשלום, world\u200e!"}, // direction marks stay
		{"  \u202e  spaced  \x00 ", "spaced"},                    // trimmed after stripping
		{"日本語", "日本語"},
	} {
		got, err := CleanText(tc.in, 2000)
		if err != nil || got != tc.want {
			t.Errorf("CleanText(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	// Only what is taken out: nothing left to send.
	for _, in := range []string{"\u202e", "\x00\x01", "\u2066\u2069 \r\n"} {
		if got, err := CleanText(in, 2000); err == nil {
			t.Errorf("CleanText(%q) = %q; want it refused as empty", in, got)
		}
	}
	// The limit counts what is kept.
	if _, err := CleanText("ab\u202e\u202e\u202e", 2); err != nil {
		t.Errorf("two characters and three overrides refused at a limit of 2: %v", err)
	}
}
