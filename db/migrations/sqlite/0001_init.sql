-- Identities are the anonymous people: one per browser session cookie.
CREATE TABLE identities (
    id         INTEGER PRIMARY KEY,
    nickname   TEXT    NOT NULL,
    colour     TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

-- Sessions map the SHA-256 of a cookie token to an identity; the token itself is never stored.
CREATE TABLE sessions (
    token_hash  TEXT    PRIMARY KEY,
    identity_id INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE rooms (
    id            TEXT    PRIMARY KEY,
    title         TEXT    NOT NULL,
    capacity      INTEGER NOT NULL,
    password_hash TEXT,
    owner_id      INTEGER NOT NULL REFERENCES identities(id),
    created_at    INTEGER NOT NULL
);

-- room_entries records who has given a private room's password.
CREATE TABLE room_entries (
    room_id     TEXT    NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    identity_id INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (room_id, identity_id)
);

-- room_bars keeps kicked people out of a room until a time.
CREATE TABLE room_bars (
    room_id     TEXT    NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    identity_id INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
    until       INTEGER NOT NULL,
    PRIMARY KEY (room_id, identity_id)
);

-- gifs are content-addressed files under the data directory, named by their SHA-256.
CREATE TABLE gifs (
    sha256     TEXT    PRIMARY KEY,
    width      INTEGER NOT NULL,
    height     INTEGER NOT NULL,
    frames     INTEGER NOT NULL,
    bytes      INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id      TEXT    NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    author_id    INTEGER REFERENCES identities(id),
    kind         TEXT    NOT NULL CHECK (kind IN ('text', 'gif', 'system', 'whisper')),
    body         TEXT    NOT NULL,
    gif_sha256   TEXT    REFERENCES gifs(sha256),
    recipient_id INTEGER REFERENCES identities(id),
    created_at   INTEGER NOT NULL
);

-- Paging a room's history walks this index backwards by id.
CREATE INDEX messages_room_id ON messages (room_id, id);
CREATE INDEX messages_gif ON messages (gif_sha256) WHERE gif_sha256 IS NOT NULL;
CREATE INDEX sessions_identity ON sessions (identity_id);
