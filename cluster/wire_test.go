package cluster

import (
	"bytes"
	"reflect"
	"testing"

	"gifchat/i18n"
)

func TestWireRoundTrip(t *testing.T) {
	e := Entry{Room: "abcdefghijklmnop", Seq: 1 << 40, Audience: []int64{3, -1, 1 << 50}}
	e.Frags[i18n.En] = []byte("<p>hello</p>")
	e.Frags[i18n.Ko] = []byte("<p>안녕</p>")
	got, c, err := decode(encodeEntry(e))
	if err != nil || c != nil || got == nil {
		t.Fatalf("decode entry: %v %v %v", got, c, err)
	}
	if !reflect.DeepEqual(*got, e) {
		t.Fatalf("entry came back as %+v, want %+v", *got, e)
	}
	everyone := Entry{Room: "r", Seq: 1}
	got, _, err = decode(encodeEntry(everyone))
	if err != nil || got.Audience != nil || got.Seq != 1 || len(got.Frags[i18n.Ko]) != 0 {
		t.Fatalf("entry for everyone: %+v %v", got, err)
	}

	ctl := Control{Room: "r", Kind: ControlClose, Identity: 42, Data: []byte{0, 1, 2}, From: "instance-a"}
	_, gotC, err := decode(encodeControl(ctl))
	if err != nil || gotC == nil || !reflect.DeepEqual(*gotC, ctl) {
		t.Fatalf("control came back as %+v (%v), want %+v", gotC, err, ctl)
	}
}

// Whatever arrives on a room's subject, a broken message is refused, never a panic or a
// half-read entry.
func TestWireRefusesMalformed(t *testing.T) {
	good := encodeEntry(Entry{Room: "room", Seq: 7, Audience: []int64{1, 2}, Frags: [i18n.Count][]byte{[]byte("abc"), []byte("def")}})
	for i := range good {
		if _, _, err := decode(good[:i]); err == nil {
			t.Errorf("a message cut after %d of %d bytes was accepted", i, len(good))
		}
	}
	for _, bad := range [][]byte{nil, {'x'}, append(bytes.Clone(good), 0), {wireEntry, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}} {
		if _, _, err := decode(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encodeEntry(Entry{Room: "room", Seq: 7, Audience: []int64{1, 2}}))
	f.Add(encodeControl(Control{Room: "room", Kind: ControlMembers}))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, c, err := decode(b)
		if err == nil && (e == nil) == (c == nil) {
			t.Fatalf("decode gave entry %v and control %v", e, c)
		}
		if e != nil {
			again, _, err := decode(encodeEntry(*e))
			if err != nil || !reflect.DeepEqual(again.Audience, e.Audience) || again.Seq != e.Seq || again.Room != e.Room {
				t.Fatalf("re-encoding %+v gave %+v, %v", e, again, err)
			}
		}
	})
}
