package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"gifchat/db"
	"gifchat/db/dbtest"
)

// TestIdleSweep: the app deletes sessions unused for IdentityTTL, and their identities when
// nothing in a room refers to them, every IdentitySweepEvery; an identity that owns a room
// stays. Close stops the sweep before it closes the database.
func TestIdleSweep(t *testing.T) {
	dir := t.TempDir()
	var postgres string
	if dbtest.OnPostgres() {
		postgres = dbtest.PostgresURLFor(t, dir)
	}
	a, err := New(context.Background(), Config{
		DataDir: dir, Postgres: postgres, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		IdentityTTL: 50 * time.Millisecond, IdentitySweepEvery: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	idle, err := a.Store.CreateIdentitySession(ctx, "idle-token", "idle-otter-01", "c1")
	if err != nil {
		t.Fatal(err)
	}
	owner, err := a.Store.CreateIdentitySession(ctx, "owner-token", "owner-otter-02", "c2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.CreateRoom(ctx, db.Room{ID: "ssssssssssssssss", Title: "Kept", Capacity: 10, OwnerID: owner.ID}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := a.Store.IdentityByID(ctx, idle.ID)
		if errors.Is(err, db.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the idle identity is still there after 10s: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The owner's session was made a moment after the idle one: a sweep may take the one
	// and find the other not yet idle for the TTL, so it goes by the next sweep.
	for {
		_, err := a.Store.SessionByToken(ctx, "owner-token")
		if errors.Is(err, db.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the owner's idle session is still there after 10s: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := a.Store.IdentityByID(ctx, owner.ID); err != nil {
		t.Errorf("an identity that owns a room was deleted: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.sweepDone:
	default:
		t.Fatal("the sweep runs on after Close")
	}
}
