-- migrate:up
-- Adding a NOT NULL column needs a constant default, so existing rows get 0.
ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1));

-- migrate:down
-- DROP COLUMN needs SQLite 3.35 or later.
ALTER TABLE notes DROP COLUMN pinned;
