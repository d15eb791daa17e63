-- migrate:up
-- Serves "a user's notes, newest first" and keeps ON DELETE CASCADE from
-- scanning the whole notes table when a user is deleted.
CREATE INDEX notes_user_id_created_at_idx ON notes (user_id, created_at DESC);

-- migrate:down
DROP INDEX notes_user_id_created_at_idx;
