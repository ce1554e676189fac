-- Every entry of a room's log gets the room's next sequence number, assigned in the
-- transaction that stores it (rooms.last_seq is the last one given). Reconnect replay, paging
-- and the ids a later update targets use the sequence, never messages.id: ids are handed out
-- at insert, not at commit, so with several writers a reader could see 11 before 10 commits.
ALTER TABLE rooms ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;

-- Notices are data: which kind, and whom they name (by id, and by the name they had then).
-- Words are chosen when a notice is shown, in the reader's language.
ALTER TABLE messages ADD COLUMN notice TEXT;
ALTER TABLE messages ADD COLUMN subject_id INTEGER REFERENCES identities(id) ON DELETE SET NULL;
ALTER TABLE messages ADD COLUMN subject_name TEXT;

-- Existing history keeps its order: seq follows the old ids within each room.
UPDATE messages SET seq = numbered.n
FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY room_id ORDER BY id) AS n FROM messages) AS numbered
WHERE numbered.id = messages.id;
UPDATE rooms SET last_seq = COALESCE((SELECT MAX(seq) FROM messages WHERE messages.room_id = rooms.id), 0);

-- Old notices were English sentences; the ones gifchat wrote become data. The longer endings
-- are tried first. Anything else keeps its text and is shown as it was.
UPDATE messages SET notice = 'kicked', subject_name = substr(body, 1, length(body) - 25), body = ''
WHERE kind = 'system' AND notice IS NULL AND body LIKE '% was removed by the owner';
UPDATE messages SET notice = 'owner', subject_name = substr(body, 1, length(body) - 17), body = ''
WHERE kind = 'system' AND notice IS NULL AND body LIKE '% is now the owner';
UPDATE messages SET notice = 'closed', subject_name = substr(body, 1, length(body) - 16), body = ''
WHERE kind = 'system' AND notice IS NULL AND body LIKE '% closed the room';
UPDATE messages SET notice = 'joined', subject_name = substr(body, 1, length(body) - 7), body = ''
WHERE kind = 'system' AND notice IS NULL AND body LIKE '% joined';
UPDATE messages SET notice = 'left', subject_name = substr(body, 1, length(body) - 5), body = ''
WHERE kind = 'system' AND notice IS NULL AND body LIKE '% left';

DROP INDEX messages_room_id;
CREATE UNIQUE INDEX messages_room_seq ON messages (room_id, seq);
