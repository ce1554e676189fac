package components

import "testing"

// The fingerprint follows everything the panel shows besides the language, and nothing else.
func TestMembersDigest(t *testing.T) {
	ann := Member{Person: Person{ID: 1, Name: "ann", Colour: "c1"}, Owner: true}
	bo := Member{Person: Person{ID: 2, Name: "bo", Colour: "c2"}}
	base := MembersDigest(1, []Member{ann, bo})
	if again := MembersDigest(1, []Member{ann, bo}); again != base {
		t.Fatalf("same panel, two fingerprints: %s %s", base, again)
	}
	renamed, recoloured, notOwner := bo, bo, ann
	renamed.Name = "bob"
	recoloured.Colour = "c3"
	notOwner.Owner = false
	// A name and colour that swap their boundary must not collide either.
	shifted := bo
	shifted.Name, shifted.Colour = "boc", "2"
	seen := map[string]string{base: "base"}
	for what, d := range map[string]string{
		"order":      MembersDigest(1, []Member{bo, ann}),
		"owner id":   MembersDigest(2, []Member{ann, bo}),
		"owner mark": MembersDigest(1, []Member{notOwner, bo}),
		"name":       MembersDigest(1, []Member{ann, renamed}),
		"colour":     MembersDigest(1, []Member{ann, recoloured}),
		"boundary":   MembersDigest(1, []Member{ann, shifted}),
		"one fewer":  MembersDigest(1, []Member{ann}),
		"empty":      MembersDigest(1, nil),
	} {
		if other, dup := seen[d]; dup {
			t.Errorf("%s and %s have the same fingerprint %s", what, other, d)
		}
		seen[d] = what
		if len(d) == 0 || len(d) > 13 {
			t.Errorf("%s: fingerprint %q is not 1-13 base-36 digits", what, d)
		}
	}
}
