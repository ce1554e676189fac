-- Sessions and identities nobody has used for a while (-identity-ttl) are deleted by a
-- periodic sweep. last_seen is when a session was last used, refreshed at most once an hour
-- (so not a write per request); sessions made before this migration count from creation.
ALTER TABLE sessions ADD COLUMN last_seen BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET last_seen = created_at;
CREATE INDEX sessions_last_seen ON sessions (last_seen);

-- Deleting an identity looks up every row that refers to it (to refuse, cascade or set
-- null); without these indexes each deleted identity would scan the whole log. Whispers and
-- notices are few, so their indexes hold only the rows that have the column.
CREATE INDEX messages_author ON messages (author_id) WHERE author_id IS NOT NULL;
CREATE INDEX messages_recipient ON messages (recipient_id) WHERE recipient_id IS NOT NULL;
CREATE INDEX messages_subject ON messages (subject_id) WHERE subject_id IS NOT NULL;
CREATE INDEX rooms_owner ON rooms (owner_id);
CREATE INDEX room_entries_identity ON room_entries (identity_id);
CREATE INDEX room_bars_identity ON room_bars (identity_id);
CREATE INDEX reactions_identity ON reactions (identity_id);
