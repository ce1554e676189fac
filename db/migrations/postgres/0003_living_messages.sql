-- Living messages: an entry can be edited, deleted and reacted to. Each change is an event row
-- in the room's log (kind edit, delete or react, target_seq naming the entry it changes) with
-- the room's next seq, so a reconnecting browser replays changes in order; the entry itself
-- holds its latest state (text, edited_at, deleted), and reactions are a table of their own.
ALTER TABLE messages DROP CONSTRAINT messages_kind_check;
ALTER TABLE messages ADD CONSTRAINT messages_kind_check
    CHECK (kind IN ('text', 'gif', 'system', 'whisper', 'edit', 'delete', 'react'));
ALTER TABLE messages ADD COLUMN target_seq BIGINT;
ALTER TABLE messages ADD COLUMN edited_at BIGINT;
ALTER TABLE messages ADD COLUMN deleted BOOLEAN NOT NULL DEFAULT FALSE;

-- One row per person per emoji per entry: present means "reacted".
CREATE TABLE reactions (
    room_id     TEXT   NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    message_seq BIGINT NOT NULL,
    emoji       TEXT   NOT NULL,
    identity_id BIGINT NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (room_id, message_seq, emoji, identity_id)
);
