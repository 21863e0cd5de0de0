-- SPEC §7: the Merkle log. Every committed event is a leaf, in the order of
-- GET /events; `idx` is its position in the log (from 0) and `hash` its
-- RFC 9162 leaf hash. Every checkpoint the server signed is kept. Both are
-- append-only, like events.
CREATE TABLE log_leaves (
    idx      INTEGER PRIMARY KEY CHECK (idx >= 0),
    event_id TEXT    NOT NULL UNIQUE REFERENCES events (id),
    hash     BLOB    NOT NULL CHECK (length(hash) = 32)
);
CREATE TABLE log_checkpoints (
    size      INTEGER PRIMARY KEY CHECK (size >= 0),
    root      BLOB    NOT NULL CHECK (length(root) = 32),
    note      TEXT    NOT NULL,
    signed_at TEXT    NOT NULL
);
CREATE TRIGGER log_leaves_no_update BEFORE UPDATE ON log_leaves
BEGIN SELECT RAISE(ABORT, 'the log is append-only'); END;
CREATE TRIGGER log_leaves_no_delete BEFORE DELETE ON log_leaves
BEGIN SELECT RAISE(ABORT, 'the log is append-only'); END;
CREATE TRIGGER log_checkpoints_no_update BEFORE UPDATE ON log_checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER log_checkpoints_no_delete BEFORE DELETE ON log_checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
