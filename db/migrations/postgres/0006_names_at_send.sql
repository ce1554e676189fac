-- A message keeps the name it was sent under. People can rename themselves (and change colour)
-- since this migration, so the author's nickname and colour, and a whisper's recipient's, are
-- stored with each message when it is sent and read from the row, never joined from
-- identities: renaming cannot rewrite history. Reactions and the members panel still show
-- people as they are now.
--
-- A notice names its subject the same way already (subject_name). The rename notice keeps the
-- name before in subject_name and the name after in body.
ALTER TABLE messages ADD COLUMN author_name TEXT;
ALTER TABLE messages ADD COLUMN author_colour TEXT;
ALTER TABLE messages ADD COLUMN recipient_name TEXT;
ALTER TABLE messages ADD COLUMN recipient_colour TEXT;

-- Rows from before carry the names their people have now: nobody could rename before, so
-- that is the name they were sent under. Only entries are filled in; events (edit, delete,
-- react) are never shown under a name.
UPDATE messages AS m SET author_name = i.nickname, author_colour = i.colour
FROM identities AS i
WHERE i.id = m.author_id AND m.kind IN ('text', 'gif', 'whisper');
UPDATE messages AS m SET recipient_name = i.nickname, recipient_colour = i.colour
FROM identities AS i
WHERE i.id = m.recipient_id AND m.kind = 'whisper';
