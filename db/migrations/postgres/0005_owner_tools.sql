-- Owner tools: a locked room lets nobody new in; a kick or a ban also bars the client address
-- it came from (IPv6 by its /64), since a fresh cookie is only a cookie away. A ban is a bar
-- until the room closes (until = the largest time).
ALTER TABLE rooms ADD COLUMN locked BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE room_address_bars (
    room_id     TEXT    NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    address     TEXT    NOT NULL,
    identity_id BIGINT REFERENCES identities(id) ON DELETE SET NULL,
    until       BIGINT  NOT NULL,
    PRIMARY KEY (room_id, address)
);
CREATE INDEX room_address_bars_identity ON room_address_bars (identity_id);
