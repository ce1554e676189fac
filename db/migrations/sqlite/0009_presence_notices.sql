-- Who was in each room when the server stopped is read back from the log at start: a
-- person's last joined/left/kicked notice in a room says whether they were there. This index
-- keeps that read from scanning every message.
CREATE INDEX messages_presence ON messages (room_id, subject_id, seq) WHERE kind = 'system' AND notice IN ('joined', 'left', 'kicked');
