-- Several instances on one database (../shared/CLUSTER.md): who is present in a room is shared.
-- Times here are the database's clock (Unix milliseconds of clock_timestamp()), the one clock
-- every instance agrees on.

-- instances: one row per running process, kept alive by refreshing lease_until. A row whose
-- lease ran out belongs to a dead process: any instance deletes it, and with it (by cascade)
-- its connections. name is the instance's stable name; a restarted instance deletes the rows
-- of its previous incarnation (same name) at start.
CREATE TABLE instances (
    id          TEXT   PRIMARY KEY,
    name        TEXT   NOT NULL,
    started_at  BIGINT NOT NULL,
    lease_until BIGINT NOT NULL
);
CREATE INDEX instances_name ON instances (name);

-- room_people: who holds a place in a room. A person is present from the join (joined_at,
-- which orders the ownership hand-over) until their leave is announced; gone_since is set when
-- their last connection went and cleared when one comes back (on any instance), so a person
-- who moves from one instance to another within the leave debounce makes no leave and join.
CREATE TABLE room_people (
    room_id     TEXT   NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    identity_id BIGINT NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
    joined_at   BIGINT NOT NULL,
    gone_since  BIGINT,
    PRIMARY KEY (room_id, identity_id)
);
CREATE INDEX room_people_gone ON room_people (gone_since) WHERE gone_since IS NOT NULL;

-- connections: one row per open socket, on the instance that holds it.
CREATE TABLE connections (
    id          BIGSERIAL PRIMARY KEY,
    room_id     TEXT   NOT NULL,
    identity_id BIGINT NOT NULL,
    instance_id TEXT   NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    FOREIGN KEY (room_id, identity_id) REFERENCES room_people (room_id, identity_id) ON DELETE CASCADE
);
CREATE INDEX connections_person ON connections (room_id, identity_id);
CREATE INDEX connections_instance ON connections (instance_id);

-- A room with nobody in it since empty_since is removed after the grace, by whichever
-- instance's reaper gets there first.
ALTER TABLE rooms ADD COLUMN empty_since BIGINT;
