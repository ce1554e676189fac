-- Living messages: an entry can be edited, deleted and reacted to. Each change is an event row
-- in the room's log (kind edit, delete or react, target_seq naming the entry it changes) with
-- the room's next seq, so a reconnecting browser replays changes in order; the entry itself
-- holds its latest state (text, edited_at, deleted), and reactions are a table of their own.
--
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt with the new kinds.
CREATE TABLE messages_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id      TEXT    NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    author_id    INTEGER REFERENCES identities(id),
    kind         TEXT    NOT NULL CHECK (kind IN ('text', 'gif', 'system', 'whisper', 'edit', 'delete', 'react')),
    body         TEXT    NOT NULL,
    gif_sha256   TEXT    REFERENCES gifs(sha256),
    recipient_id INTEGER REFERENCES identities(id),
    created_at   INTEGER NOT NULL,
    seq          INTEGER NOT NULL DEFAULT 0,
    notice       TEXT,
    subject_id   INTEGER REFERENCES identities(id) ON DELETE SET NULL,
    subject_name TEXT,
    target_seq   INTEGER,
    edited_at    INTEGER,
    deleted      INTEGER NOT NULL DEFAULT 0
);
INSERT INTO messages_new (id, room_id, author_id, kind, body, gif_sha256, recipient_id, created_at, seq, notice, subject_id, subject_name)
    SELECT id, room_id, author_id, kind, body, gif_sha256, recipient_id, created_at, seq, notice, subject_id, subject_name FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE UNIQUE INDEX messages_room_seq ON messages (room_id, seq);
CREATE INDEX messages_gif ON messages (gif_sha256) WHERE gif_sha256 IS NOT NULL;

-- One row per person per emoji per entry: present means "reacted".
CREATE TABLE reactions (
    room_id     TEXT    NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    message_seq INTEGER NOT NULL,
    emoji       TEXT    NOT NULL,
    identity_id INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (room_id, message_seq, emoji, identity_id)
);
