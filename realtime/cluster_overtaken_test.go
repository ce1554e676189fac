package realtime

import (
	"context"
	"slices"
	"testing"

	"gifchat/cluster/natstest"
	"gifchat/db"
	"gifchat/vocab"
)

// An entry committed off the hub's goroutine (the settler's leave and hand-over notices are)
// can be overtaken by a later entry, whose gap fill delivers it from the database first; its
// own delivery, when the hub gets to it, must not show it a second time. Found by the kill -9
// process test: every reader on the surviving instance saw the leave notices twice.
func TestClusterEntryOvertakenByGapFillIsDeliveredOnce(t *testing.T) {
	nodes := clusterNodes(t, natstest.URL(t), 1)
	n := nodes[0]
	owner := n.person("owner")
	room := clusterRoom(t, nodes, owner)
	s := n.dial(owner, room.ID, 0)
	s.waitText(owner.Nickname + " joined")

	late := &db.Message{RoomID: room.ID, Kind: vocab.KindNotice, Notice: vocab.NoticeOwner, SubjectID: owner.ID, SubjectName: owner.Nickname}
	if err := n.store.InsertMessages(context.Background(), []*db.Message{late}); err != nil {
		t.Fatal(err)
	}
	s.say("overtaking") // its fan-out fills the gap: the notice first, from the database
	s.waitFor("the overtaking message", func(string) bool { return slices.Contains(s.texts(vocab.KindText), "overtaking") })
	h := n.rooms.Hub(room.ID)
	if !h.call(func() { h.fanOut(*late) }) {
		t.Fatal("the hub stopped")
	}
	s.say("after")
	s.waitFor("the next message", func(string) bool { return slices.Contains(s.texts(vocab.KindText), "after") })
	seen := 0
	for _, m := range s.messages() {
		if m.ID == late.Seq {
			seen++
		}
	}
	if seen != 1 {
		t.Fatalf("the notice at seq %d was delivered %d times, want once", late.Seq, seen)
	}
}
