-- Records are immutable snapshots of their canonical fields; events are the
-- append-only history. `pos` gives both tables a stable insertion order for
-- keyset pagination and the global feed.
CREATE TABLE records (
    pos           INTEGER PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE CHECK (length(id) = 64),
    project_name  TEXT    NOT NULL,
    registry      TEXT    NOT NULL,
    vintage       INTEGER NOT NULL CHECK (vintage BETWEEN 1900 AND 2100),
    -- Exact decimal text with 4 fractional digits, e.g. '100.0000'.
    quantity      TEXT    NOT NULL,
    serial_number TEXT    NOT NULL,
    created_at    TEXT    NOT NULL
);

CREATE INDEX records_registry ON records (registry, pos);
CREATE INDEX records_vintage ON records (vintage, pos);

CREATE TABLE events (
    pos        INTEGER PRIMARY KEY,
    id         TEXT    NOT NULL UNIQUE,
    record_id  TEXT    NOT NULL REFERENCES records (id),
    seq        INTEGER NOT NULL CHECK (seq >= 1),
    event_type TEXT    NOT NULL CHECK (event_type IN ('CREATED', 'SOLD', 'RETIRED', 'CANCELLED')),
    payload    TEXT,
    created_at TEXT    NOT NULL,
    UNIQUE (record_id, seq)
);

-- At most one final event per record: the store's own guard against a
-- double retire, whatever the application does.
CREATE UNIQUE INDEX events_one_final ON events (record_id)
    WHERE event_type IN ('RETIRED', 'CANCELLED');

CREATE TRIGGER records_no_update BEFORE UPDATE ON records
BEGIN SELECT RAISE(ABORT, 'records are immutable'); END;
CREATE TRIGGER records_no_delete BEFORE DELETE ON records
BEGIN SELECT RAISE(ABORT, 'records are immutable'); END;
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
