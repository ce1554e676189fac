package db

import (
	"context"
	"fmt"
	"testing"
)

// The owner's tools as stored: address bars beside identity bars, bans until the room closes
// and their lifting, a lock, and a password that changes (forgetting who entered the old one)
// or goes.
func TestOwnerToolsStored(t *testing.T) { eachStore(t, testOwnerToolsStored) }

func testOwnerToolsStored(t *testing.T, s *Store) {
	ctx := context.Background()
	owner := mustIdentity(t, s, "to", "owner")
	troll := mustIdentity(t, s, "tt", "troll")
	room := mustRoom(t, s, "ownerroom0000000", owner.ID)

	if err := s.BarFromRoom(ctx, room.ID, troll.ID, BanUntil); err != nil {
		t.Fatal(err)
	}
	if err := s.BarAddresses(ctx, room.ID, troll.ID, []string{"203.0.113.7", "2001:db8:1:2::"}, BanUntil); err != nil {
		t.Fatal(err)
	}
	if until, err := s.AddressBarredUntil(ctx, room.ID, "2001:db8:1:2::"); err != nil || until != BanUntil {
		t.Errorf("address bar: %d, %v", until, err)
	}
	if until, _ := s.AddressBarredUntil(ctx, room.ID, "198.51.100.1"); until != 0 {
		t.Errorf("an address never barred reads as barred until %d", until)
	}
	bans, err := s.Bans(ctx, room.ID)
	if err != nil || fmt.Sprint(len(bans)) != "1" || bans[0].ID != troll.ID {
		t.Fatalf("bans: %+v, %v", bans, err)
	}
	if err := s.Unban(ctx, room.ID, troll.ID); err != nil {
		t.Fatal(err)
	}
	if until, _ := s.BarredUntil(ctx, room.ID, troll.ID); until != 0 {
		t.Errorf("after unban the identity is barred until %d", until)
	}
	if until, _ := s.AddressBarredUntil(ctx, room.ID, "203.0.113.7"); until != 0 {
		t.Errorf("after unban the address is barred until %d", until)
	}

	if err := s.SetRoomLocked(ctx, room.ID, true); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.RoomByID(ctx, room.ID); !r.Locked {
		t.Error("the room did not stay locked")
	}
	if err := s.AddRoomEntry(ctx, room.ID, troll.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRoomPassword(ctx, room.ID, "$2a$10$newhash"); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.RoomByID(ctx, room.ID); !r.Private() || r.PasswordHash != "$2a$10$newhash" {
		t.Errorf("password after change: %+v", r)
	}
	if ok, _ := s.HasRoomEntry(ctx, room.ID, troll.ID); ok {
		t.Error("who entered the old password may still enter")
	}
	if err := s.SetRoomPassword(ctx, room.ID, ""); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.RoomByID(ctx, room.ID); r.Private() {
		t.Error("a removed password left the room private")
	}
}
