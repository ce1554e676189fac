package handlers

import (
	"fmt"

	"gifchat/i18n"
)

// Generated nicknames: an adjective, an animal and a number, in the visitor's language on
// their first visit ("brisk-otter-42", "재빠른-수달-42"). Every one is a valid nickname
// (CleanNickname) of at most MaxNickname characters; a person can choose their own at /me.
var nicknameWords = [i18n.Count]struct{ adjectives, animals []string }{
	i18n.En: {
		adjectives: []string{"brisk", "calm", "daring", "eager", "fuzzy", "gentle", "happy", "jolly", "keen", "lucky",
			"mellow", "nimble", "plucky", "quick", "rosy", "sunny", "tidy", "witty", "zesty", "bold", "breezy", "cosy", "dapper", "lively"},
		animals: []string{"otter", "panda", "heron", "lynx", "koala", "gecko", "badger", "finch", "moose", "walrus",
			"puffin", "tapir", "yak", "marmot", "quokka", "ibis", "newt", "orca", "wombat", "ferret", "magpie", "bison", "crane", "seal"},
	},
	i18n.Ko: {
		adjectives: []string{"재빠른", "느긋한", "용감한", "씩씩한", "복슬복슬한", "상냥한", "행복한", "명랑한", "날렵한", "똑똑한",
			"부드러운", "민첩한", "당찬", "발그레한", "화창한", "깔끔한", "상큼한", "대담한", "산뜻한", "포근한", "멋진", "활기찬", "졸린", "수줍은"},
		animals: []string{"수달", "판다", "왜가리", "스라소니", "코알라", "도마뱀", "오소리", "참새", "사슴", "바다코끼리",
			"퍼핀", "맥", "야크", "마멋", "쿼카", "따오기", "도롱뇽", "범고래", "웜뱃", "족제비", "까치", "들소", "두루미", "물범"},
	},
}

// newNickname makes a nickname in the language l.
func newNickname(l i18n.Lang) string {
	w := nicknameWords[l]
	return fmt.Sprintf("%s-%s-%02d", w.adjectives[pick(len(w.adjectives))], w.animals[pick(len(w.animals))], pick(100))
}
