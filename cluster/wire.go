package cluster

import (
	"encoding/binary"
	"encoding/json"
	"errors"
)

// The wire format of a room's subject: one type byte, then the fields as uvarint lengths and
// values. Fragments are sent as they are (no base64), each language's in turn.
const (
	wireEntry   = 'e'
	wireControl = 'c'
)

var errWire = errors.New("cluster: malformed message")

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func encodeEntry(e Entry) []byte {
	n := 32 + len(e.Room) + 10*len(e.Audience)
	for _, f := range e.Frags {
		n += len(f) + 4
	}
	b := make([]byte, 0, n)
	b = append(b, wireEntry)
	b = appendString(b, e.Room)
	b = binary.AppendUvarint(b, uint64(e.Seq))
	b = binary.AppendUvarint(b, uint64(len(e.Audience)))
	for _, id := range e.Audience {
		b = binary.AppendVarint(b, id)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Frags)))
	for _, f := range e.Frags {
		b = appendBytes(b, f)
	}
	return b
}

func encodeControl(c Control) []byte {
	b := make([]byte, 0, 32+len(c.Room)+len(c.Kind)+len(c.Data)+len(c.From))
	b = append(b, wireControl)
	b = appendString(b, c.Room)
	b = appendString(b, c.Kind)
	b = binary.AppendVarint(b, c.Identity)
	b = appendBytes(b, c.Data)
	return appendString(b, c.From)
}

// reader takes a message apart; the first error sticks and later reads return zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errWire
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errWire
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errWire
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// decode returns an Entry or a Control from a room subject's message.
func decode(msg []byte) (e *Entry, c *Control, err error) {
	if len(msg) == 0 {
		return nil, nil, errWire
	}
	r := &reader{b: msg[1:]}
	switch msg[0] {
	case wireEntry:
		e = &Entry{Room: string(r.bytes()), Seq: int64(r.uvarint())}
		n := r.uvarint()
		if n > uint64(len(r.b)) {
			return nil, nil, errWire
		}
		for range n {
			e.Audience = append(e.Audience, r.varint())
		}
		langs := r.uvarint()
		for i := range langs {
			f := r.bytes()
			if i < uint64(len(e.Frags)) { // a language this instance does not know is skipped
				e.Frags[i] = f
			}
		}
	case wireControl:
		c = &Control{Room: string(r.bytes()), Kind: string(r.bytes()), Identity: r.varint()}
		c.Data = r.bytes()
		c.From = string(r.bytes())
	default:
		return nil, nil, errWire
	}
	if r.err != nil || len(r.b) != 0 {
		return nil, nil, errWire
	}
	return e, c, nil
}

func encodeLobby(ev LobbyEvent) []byte {
	b, _ := json.Marshal(ev) // a struct of strings, bytes and numbers cannot fail
	return b
}

func decodeLobby(msg []byte) (LobbyEvent, error) {
	var ev LobbyEvent
	err := json.Unmarshal(msg, &ev)
	return ev, err
}
