-- migrate:up
-- INTEGER PRIMARY KEY makes id the rowid. AUTOINCREMENT is left out on
-- purpose: it creates the internal sqlite_sequence table, which would
-- survive `down --all`.
CREATE TABLE users (
    id           INTEGER PRIMARY KEY,
    email        TEXT    NOT NULL UNIQUE COLLATE NOCASE CHECK (email LIKE '%_@_%'),
    display_name TEXT    NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    created_at   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- migrate:down
DROP TABLE users;
