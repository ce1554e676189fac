package handlers

import (
	"testing"
	"unicode/utf8"

	"gifchat/i18n"
)

// Every nickname the word lists can make, in every language, is one a person could have
// chosen: valid, and at most MaxNickname characters with the longest words and number.
func TestEveryGeneratedNicknameIsValid(t *testing.T) {
	for l := range i18n.Count {
		w := nicknameWords[l]
		if len(w.adjectives) < 20 || len(w.animals) < 20 {
			t.Errorf("%s: %d adjectives and %d animals, too few to tell people apart", i18n.Lang(l).Code(), len(w.adjectives), len(w.animals))
		}
		for _, adj := range w.adjectives {
			for _, animal := range w.animals {
				name := adj + "-" + animal + "-99"
				if clean, err := CleanNickname(name); err != nil || clean != name {
					t.Errorf("%s: %q is not a valid nickname: %v", i18n.Lang(l).Code(), name, err)
				}
				if n := utf8.RuneCountInString(name); n > MaxNickname {
					t.Errorf("%s: %q is %d characters", i18n.Lang(l).Code(), name, n)
				}
			}
		}
	}
}
