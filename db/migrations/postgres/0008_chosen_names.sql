-- A nickname a person chose (the /me form), as opposed to the one generated for them. A
-- chosen name that someone present in a room already goes by keeps its bearer out of that
-- room until they choose another (no impersonating by renaming away and coming back);
-- generated names that happen to meet are let be.
ALTER TABLE identities ADD COLUMN name_chosen BOOLEAN NOT NULL DEFAULT FALSE;
