package realtime

import (
	"context"
	"errors"
	"time"

	"gifchat/cluster"
	"gifchat/components"
	"gifchat/db"
	"gifchat/i18n"
	"gifchat/vocab"
)

// Several instances (../shared/CLUSTER.md). The instance that commits an entry of a room's
// log delivers it to its own sockets and publishes it, rendered in every language, on the
// room's subject; every instance delivers in seq order: a duplicate is dropped, a gap (a
// publish overtaken by another instance's, or lost) is filled from the database first, where
// the room's row lock guarantees everything before a committed seq is committed too. A hub
// also checks the room's last seq now and then and after the broker reconnects, for a
// publisher that died between its commit and its publish.
//
// One process has cluster.Local: nothing is published, nothing arrives, and a hub's own
// deliveries are in order by construction.

// TailCheck is how often a hub in a cluster compares what it delivered with the room's log.
const TailCheck = 20 * time.Second

// fillRows is how many missing entries are read from the database at a time.
const fillRows = 500

// ClusterHooks observe the fan-out across instances for metrics; nil fields are skipped.
type ClusterHooks struct {
	Published  func()
	Delivered  func() // an entry from another instance delivered here
	Duplicate  func() // an entry this instance had already delivered
	GapFilled  func(entries int)
	FillFailed func()
}

// clustered reports whether other instances share the rooms.
func (rs *Rooms) clustered() bool { return rs.broker.Instance() != "" }

// watchTails checks every hub's tail every TailCheck until the registry stops.
func (rs *Rooms) watchTails() {
	t := time.NewTicker(TailCheck)
	defer t.Stop()
	for {
		select {
		case <-rs.ctx.Done():
			return
		case <-t.C:
			rs.checkTails()
		}
	}
}

// checkTails has every hub deliver what its room's log holds beyond what it delivered: one
// read of every room's last seq, and work only for the hubs behind it. The same read heals a
// room event the broker lost: a room this instance does not run is started, and a hub whose
// room the database no longer has is ended.
func (rs *Rooms) checkTails() {
	last, err := rs.store.LastSeqs(rs.ctx)
	if err != nil {
		rs.log.Warn("cluster: tail check", "err", err)
		return
	}
	for id := range last {
		if rs.Hub(id) == nil {
			if r, err := rs.store.RoomByID(rs.ctx, id); err == nil {
				rs.Add(r)
			}
		}
	}
	for _, h := range rs.allHubs() {
		seq, ok := last[h.id]
		if !ok {
			// Maybe created after the read: only a room the database does not have goes.
			if _, err := rs.store.RoomByID(rs.ctx, h.id); errors.Is(err, db.ErrNotFound) {
				rs.dropRoom(h.id)
			}
			continue
		}
		h.do(func() { h.checkTailAt(seq) })
	}
}

// joinCluster subscribes a new hub to its room's subject, then reads where the room's log
// stands: whatever arrives before the hub's goroutine runs waits for it, and whatever was
// committed before the subscription is counted as delivered (a socket gets it by replay).
func (h *Hub) joinCluster(ctx context.Context) {
	stop, err := h.rooms.broker.SubscribeRoom(h.id, cluster.RoomHandlers{
		Entry:   func(e cluster.Entry) { h.do(func() { h.remoteEntry(e) }) },
		Control: func(c cluster.Control) { h.do(func() { h.remoteControl(c) }) },
	})
	if err != nil {
		h.log.Error("cluster: subscribe", "err", err) // the tail check delivers, late
	} else {
		h.unsubscribe = stop
	}
	if h.delivered, err = h.rooms.store.RoomLastSeq(ctx, h.id); err != nil {
		h.log.Error("cluster: room's last seq", "err", err)
	}
}

// audienceOf is who may see an entry: nil for everyone, a whisper's two people.
func audienceOf(m db.Message) []int64 {
	if m.Kind == vocab.KindWhisper {
		return []int64{m.AuthorID, m.RecipientID}
	}
	return nil
}

// logged records that entry seq was delivered here and, in a cluster, publishes it with its
// fragment in every language (the other instances' readers may read either).
func (h *Hub) logged(seq int64, f *frag, audience []int64) {
	h.delivered = max(h.delivered, seq)
	if !h.rooms.clustered() {
		return
	}
	e := cluster.Entry{Room: h.id, Seq: seq, Audience: audience}
	for l := range i18n.Count {
		e.Frags[l] = f.In(i18n.Lang(l))
	}
	if err := h.rooms.broker.PublishEntry(e); err != nil {
		h.log.Warn("cluster: publish", "err", err, "seq", seq) // the others' tail checks fill it
		return
	}
	if hk := h.rooms.clusterHooks.Published; hk != nil {
		hk()
	}
}

// remoteEntry delivers an entry another instance committed, in seq order.
func (h *Hub) remoteEntry(e cluster.Entry) {
	if h.closed || h.draining {
		return
	}
	if e.Seq <= h.delivered {
		if hk := h.rooms.clusterHooks.Duplicate; hk != nil {
			hk()
		}
		return
	}
	if e.Seq > h.delivered+1 && !h.catchUp(e.Seq-1) {
		return // the database did not answer: the tail check delivers it all, in order
	}
	f := &frag{by: e.Frags}
	for l := range f.done {
		f.done[l] = true
	}
	h.deliverTo(f, e.Audience, e.Seq)
	h.delivered = e.Seq
	if hk := h.rooms.clusterHooks.Delivered; hk != nil {
		hk()
	}
}

// checkTailAt delivers what the room's log holds up to last beyond what this hub delivered.
func (h *Hub) checkTailAt(last int64) {
	if h.closed || h.draining {
		return
	}
	h.catchUp(last)
}

// catchUp delivers, in order, the entries after the last delivered up to upto from the
// database, and reports whether it got there. In one process there is never a gap.
func (h *Hub) catchUp(upto int64) bool {
	if !h.rooms.clustered() || upto <= h.delivered {
		return true
	}
	ctx := context.Background()
	filled := 0
	defer func() {
		if hk := h.rooms.clusterHooks.GapFilled; hk != nil && filled > 0 {
			hk(filled)
		}
	}()
	for h.delivered < upto {
		rows, err := h.rooms.store.EntriesBetween(ctx, h.id, h.delivered, min(upto, h.delivered+fillRows))
		if err == nil && len(rows) == 0 {
			h.log.Error("cluster: entries missing from the log", "after", h.delivered, "upto", upto)
			return false
		}
		if err != nil {
			h.log.Warn("cluster: fill a gap", "err", err, "after", h.delivered)
			if hk := h.rooms.clusterHooks.FillFailed; hk != nil {
				hk()
			}
			return false
		}
		for _, m := range rows {
			entry := m
			view := components.MessageOOB
			if m.TargetSeq != 0 { // an event: the entry it changed, as it is now
				if entry, err = h.rooms.store.MessageBySeq(ctx, h.id, m.TargetSeq); err != nil {
					h.log.Warn("cluster: fill a gap: changed entry", "err", err, "seq", m.TargetSeq)
					return false
				}
				view = components.MessageReplaceOOB
			}
			h.deliverTo(h.render(view(MessageView(entry))), audienceOf(entry), m.Seq)
			h.delivered = m.Seq
			filled++
		}
	}
	return true
}
