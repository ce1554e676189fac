package db

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"gifchat/db/dbtest"
	"gifchat/vocab"
)

// The shared-presence tests run on PostgreSQL only: it is the cluster's database.

func clusterStore(t *testing.T) *Store {
	t.Helper()
	s, err := OpenPostgres(context.Background(), dbtest.PostgresURL(t), PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func person(t *testing.T, s *Store, name string) Identity {
	t.Helper()
	id, err := s.CreateIdentitySession(context.Background(), fmt.Sprintf("token-%s-%d", name, time.Now().UnixNano()), name, "c1")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func clusterRoom(t *testing.T, s *Store, owner Identity, capacity int) Room {
	t.Helper()
	r, err := s.CreateRoom(context.Background(), Room{ID: fmt.Sprintf("room%d", time.Now().UnixNano()), Title: "Shared", Capacity: capacity, OwnerID: owner.ID})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func instance(t *testing.T, s *Store, name string) string {
	t.Helper()
	id, err := s.StartInstance(context.Background(), name, time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func admit(t *testing.T, s *Store, room string, who Identity, inst string) Admitted {
	t.Helper()
	a, err := s.AdmitConnection(context.Background(), Admission{Room: room, Identity: who, Instance: inst})
	if err != nil {
		t.Fatalf("admit %s: %v", who.Nickname, err)
	}
	return a
}

func people(t *testing.T, s *Store, room string) []string {
	t.Helper()
	ps, err := s.RoomPeople(context.Background(), room)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range ps {
		out = append(out, p.Nickname)
	}
	return out
}

// Twelve people joining a room of three through three instances at once: exactly three get
// in, whatever the interleaving, and their join notices take consecutive seqs.
func TestSharedCapacityAdmitsExactly(t *testing.T) {
	s := clusterStore(t)
	owner := person(t, s, "owner")
	room := clusterRoom(t, s, owner, 3)
	insts := []string{instance(t, s, "a"), instance(t, s, "b"), instance(t, s, "c")}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var admitted []Admitted
	full := 0
	for i := range 12 {
		who := person(t, s, fmt.Sprintf("p%02d", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := s.AdmitConnection(context.Background(), Admission{Room: room.ID, Identity: who, Instance: insts[i%3]})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				admitted = append(admitted, a)
			case errors.Is(err, ErrFull):
				full++
			default:
				t.Errorf("admit: %v", err)
			}
		}()
	}
	wg.Wait()
	if len(admitted) != 3 || full != 9 {
		t.Fatalf("admitted %d and refused %d as full, want 3 and 9", len(admitted), full)
	}
	var seqs []int64
	for _, a := range admitted {
		if !a.Newcomer || a.Joined == nil || a.Joined.Notice != vocab.NoticeJoined {
			t.Fatalf("a newcomer's admission has no join notice: %+v", a)
		}
		seqs = append(seqs, a.Joined.Seq)
	}
	slices.Sort(seqs)
	if seqs[0]+1 != seqs[1] || seqs[1]+1 != seqs[2] {
		t.Fatalf("join notices took seqs %v, want consecutive", seqs)
	}
	if got := people(t, s, room.ID); len(got) != 3 {
		t.Fatalf("present: %v", got)
	}
}

// A second tab, on another instance, is no newcomer and takes no second place; a leave is
// announced only after the last connection on every instance has been gone for the debounce,
// and a reconnect within it (on another instance) makes no leave at all.
func TestLeavesAcrossInstances(t *testing.T) {
	ctx := context.Background()
	s := clusterStore(t)
	alice, bob := person(t, s, "alice"), person(t, s, "bob")
	room := clusterRoom(t, s, alice, 2)
	a, b := instance(t, s, "a"), instance(t, s, "b")
	first := admit(t, s, room.ID, alice, a)
	second := admit(t, s, room.ID, alice, b)
	if second.Newcomer || second.Joined != nil {
		t.Fatal("a second tab was taken for a newcomer")
	}
	admit(t, s, room.ID, bob, a) // capacity 2: Alice's two tabs hold one place

	// Alice's tab on A goes; her tab on B holds her place.
	if err := s.Disconnect(ctx, first.Conn); err != nil {
		t.Fatal(err)
	}
	if d, err := s.SettleDepartures(ctx, 0); err != nil || len(d) != 0 {
		t.Fatalf("a leave was settled while a tab is open elsewhere: %+v %v", d, err)
	}
	// Her last tab goes, and she comes back on A before the debounce: no leave.
	if err := s.Disconnect(ctx, second.Conn); err != nil {
		t.Fatal(err)
	}
	if d, err := s.SettleDepartures(ctx, time.Hour); err != nil || len(d) != 0 {
		t.Fatalf("a leave was settled within the debounce: %+v %v", d, err)
	}
	back := admit(t, s, room.ID, alice, a)
	if back.Newcomer {
		t.Fatal("coming back within the debounce made a new join")
	}
	if d, err := s.SettleDepartures(ctx, 0); err != nil || len(d) != 0 {
		t.Fatalf("a leave was settled for someone who came back: %+v %v", d, err)
	}
	// Now she goes for good: one leave, the ownership passes to Bob in the same commit.
	if err := s.Disconnect(ctx, back.Conn); err != nil {
		t.Fatal(err)
	}
	d, err := s.SettleDepartures(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 1 || len(d[0].Left) != 1 || d[0].Left[0].ID != alice.ID || d[0].NewOwner == nil || d[0].NewOwner.ID != bob.ID || d[0].Empty {
		t.Fatalf("departure: %+v", d)
	}
	if n := d[0].Notices; len(n) != 2 || n[0].Notice != vocab.NoticeLeft || n[1].Notice != vocab.NoticeOwner || n[1].Seq != n[0].Seq+1 {
		t.Fatalf("notices: %+v", n)
	}
	if r, _ := s.RoomByID(ctx, room.ID); r.OwnerID != bob.ID {
		t.Fatalf("owner is %d, want Bob", r.OwnerID)
	}
	if again, _ := s.SettleDepartures(ctx, 0); len(again) != 0 {
		t.Fatalf("the leave was announced twice: %+v", again)
	}
}

// A killed instance's lease runs out: any instance reaps it, its connections go, its people
// leave after the debounce; a restarted instance of the same name drops its earlier
// incarnation's rows at once.
func TestDeadInstancesAreReaped(t *testing.T) {
	ctx := context.Background()
	s := clusterStore(t)
	alice, bob, carol := person(t, s, "alice"), person(t, s, "bob"), person(t, s, "carol")
	room := clusterRoom(t, s, alice, 10)
	dead, err := s.StartInstance(ctx, "dead", time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	alive := instance(t, s, "alive")
	admit(t, s, room.ID, alice, dead)
	admit(t, s, room.ID, bob, alive)
	time.Sleep(5 * time.Millisecond)
	reaped, err := s.ReapInstances(ctx)
	if err != nil || !slices.Contains(reaped, dead) || slices.Contains(reaped, alive) {
		t.Fatalf("reaped %v (%v), want %s only", reaped, err, dead)
	}
	if err := s.RenewLease(ctx, dead, time.Minute); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("a reaped instance renewed its lease: %v", err)
	}
	d, err := s.SettleDepartures(ctx, 0)
	if err != nil || len(d) != 1 || d[0].Left[0].ID != alice.ID || d[0].NewOwner == nil || d[0].NewOwner.ID != bob.ID {
		t.Fatalf("after the reap: %+v %v", d, err)
	}

	// "alive" restarts (a crash, then the same name): Bob's old connection goes with the old
	// incarnation, Carol's on the new one stays.
	again := instance(t, s, "alive")
	admit(t, s, room.ID, carol, again)
	d, err = s.SettleDepartures(ctx, 0)
	if err != nil || len(d) != 1 || len(d[0].Left) != 1 || d[0].Left[0].ID != bob.ID {
		t.Fatalf("after the restart: %+v %v", d, err)
	}
	if got := people(t, s, room.ID); !slices.Equal(got, []string{"carol"}) {
		t.Fatalf("present: %v", got)
	}
}

// The admission rule is the hub's: password entry (not for the owner), bars of the person and
// of their address, the lock (not for the owner), and someone present stays admitted.
func TestSharedAdmissionRule(t *testing.T) {
	ctx := context.Background()
	s := clusterStore(t)
	owner, guest, barred := person(t, s, "owner"), person(t, s, "guest"), person(t, s, "barred")
	room := clusterRoom(t, s, owner, 10)
	inst := instance(t, s, "a")
	if err := s.SetRoomPassword(ctx, room.ID, "hash"); err != nil {
		t.Fatal(err)
	}
	try := func(who Identity, addr string) error {
		_, err := s.AdmitConnection(ctx, Admission{Room: room.ID, Identity: who, Address: addr, Instance: inst})
		return err
	}
	if err := try(guest, ""); !errors.Is(err, ErrNeedsPassword) {
		t.Fatalf("no password entered: %v", err)
	}
	if err := try(owner, ""); err != nil {
		t.Fatalf("the owner needs no password: %v", err)
	}
	if err := s.AddRoomEntry(ctx, room.ID, guest.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRoomEntry(ctx, room.ID, barred.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.BarAddresses(ctx, room.ID, owner.ID, []string{"192.0.2.1"}, time.Now().Add(time.Hour).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	var be *BarredError
	if err := try(guest, "192.0.2.1"); !errors.As(err, &be) {
		t.Fatalf("a barred address got in: %v", err)
	}
	if err := s.BarFromRoom(ctx, room.ID, barred.ID, BanUntil); err != nil {
		t.Fatal(err)
	}
	if err := try(barred, ""); !errors.As(err, &be) || be.Until != BanUntil {
		t.Fatalf("a banned person got in: %v", err)
	}
	if err := s.SetRoomLocked(ctx, room.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := try(guest, ""); !errors.Is(err, ErrLocked) {
		t.Fatalf("a locked room let a newcomer in: %v", err)
	}
	if err := try(owner, ""); err != nil {
		t.Fatalf("someone present (the owner) is refused by the lock: %v", err)
	}
	if _, err := s.AdmitConnection(ctx, Admission{Room: "nosuchroom", Identity: guest, Instance: inst}); !errors.Is(err, ErrRoomGone) {
		t.Fatalf("a missing room: %v", err)
	}
}

// A kick removes the person's connections on every instance and commits its notice.
func TestRemovePersonEverywhere(t *testing.T) {
	ctx := context.Background()
	s := clusterStore(t)
	owner, bob := person(t, s, "owner"), person(t, s, "bob")
	room := clusterRoom(t, s, owner, 10)
	a, b := instance(t, s, "a"), instance(t, s, "b")
	admit(t, s, room.ID, bob, a)
	admit(t, s, room.ID, bob, b)
	n, err := s.RemovePerson(ctx, room.ID, bob, vocab.NoticeKicked)
	if err != nil || n.Notice != vocab.NoticeKicked || n.SubjectID != bob.ID {
		t.Fatalf("remove: %+v %v", n, err)
	}
	var conns int
	if err := s.read.GetContext(ctx, &conns, "SELECT COUNT(*) FROM connections WHERE room_id = $1", room.ID); err != nil || conns != 0 {
		t.Fatalf("%d connections left (%v)", conns, err)
	}
	if _, err := s.RemovePerson(ctx, room.ID, bob, vocab.NoticeKicked); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removing someone absent: %v", err)
	}
	if d, _ := s.SettleDepartures(ctx, 0); len(d) != 0 {
		t.Fatalf("a kick was also announced as a leave: %+v", d)
	}
}

// A room empty past the grace is removed once, whichever instance reaps; a join that comes
// first keeps it.
func TestEmptyRoomsAreReaped(t *testing.T) {
	ctx := context.Background()
	s := clusterStore(t)
	owner := person(t, s, "owner")
	kept, gone := clusterRoom(t, s, owner, 10), clusterRoom(t, s, owner, 10)
	never := clusterRoom(t, s, owner, 10) // nobody ever entered: its age counts
	inst := instance(t, s, "a")
	for _, r := range []Room{kept, gone} {
		c := admit(t, s, r.ID, owner, inst)
		if err := s.Disconnect(ctx, c.Conn); err != nil {
			t.Fatal(err)
		}
	}
	d, err := s.SettleDepartures(ctx, 0)
	if err != nil || len(d) != 2 || !d[0].Empty || !d[1].Empty {
		t.Fatalf("departures: %+v %v", d, err)
	}
	admit(t, s, kept.ID, owner, inst) // came back before the reaper
	var wg sync.WaitGroup
	var mu sync.Mutex
	var removed []string
	for range 3 { // three instances' reapers at once
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _, err := s.ReapEmptyRooms(ctx, 0)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			removed = append(removed, r...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(removed)
	if want := []string{gone.ID, never.ID}; !slices.Equal(removed, want) {
		t.Fatalf("removed %v, want %v, once each", removed, want)
	}
	if _, err := s.RoomByID(ctx, gone.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the reaped room is still there: %v", err)
	}
	if _, err := s.AdmitConnection(ctx, Admission{Room: gone.ID, Identity: owner, Instance: inst}); !errors.Is(err, ErrRoomGone) {
		t.Fatalf("joining a reaped room: %v", err)
	}
}

func TestSharedPresenceNeedsPostgres(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "x.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.StartInstance(context.Background(), "a", time.Second, 0); !errors.Is(err, ErrNotClustered) {
		t.Fatalf("SQLite started a cluster instance: %v", err)
	}
}

// Instances' group commits over overlapping sets of rooms, at once: every batch commits (no
// deadlock between two statements taking room locks in different orders), and every room's
// log is numbered 1..n with no gap or repeat.
func TestConcurrentBatchesAcrossRooms(t *testing.T) {
	ctx := context.Background()
	s := clusterStore(t)
	alice := person(t, s, "alice")
	var rooms []Room
	for range 6 {
		rooms = append(rooms, clusterRoom(t, s, alice, 10))
	}
	const writers, batches = 8, 40
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				var msgs []*Message
				// Each batch covers a different subset of rooms, in a different order.
				for k := range len(rooms) {
					r := rooms[(w*7+b*5+k*(1+w%3))%len(rooms)]
					if (w+b+k)%3 != 0 {
						msgs = append(msgs, &Message{RoomID: r.ID, AuthorID: alice.ID, Kind: vocab.KindText, Body: fmt.Sprintf("w%d b%d k%d", w, b, k)})
					}
				}
				if err := s.InsertMessages(ctx, msgs); err != nil {
					t.Errorf("writer %d batch %d: %v", w, b, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, r := range rooms {
		var got []int64
		if err := s.read.SelectContext(ctx, &got, "SELECT seq FROM messages WHERE room_id = $1 ORDER BY seq", r.ID); err != nil {
			t.Fatal(err)
		}
		for i, seq := range got {
			if seq != int64(i+1) {
				t.Fatalf("room %s: seqs %v have a gap or repeat at %d", r.ID, got, i)
			}
		}
	}
}
