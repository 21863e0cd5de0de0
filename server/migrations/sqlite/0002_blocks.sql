-- SPEC §6: credit blocks. A partial action splits a block: the parent gets a
-- final SPLIT event, so the event types and the one-final-event rule gain
-- SPLIT. SQLite cannot alter a CHECK, so the events table is rebuilt, rows
-- copied as they are (DROP TABLE fires no triggers).
CREATE TABLE events_v2 (
    pos        INTEGER PRIMARY KEY,
    id         TEXT    NOT NULL UNIQUE,
    record_id  TEXT    NOT NULL REFERENCES records (id),
    seq        INTEGER NOT NULL CHECK (seq >= 1),
    event_type TEXT    NOT NULL CHECK (event_type IN ('CREATED', 'SOLD', 'RETIRED', 'CANCELLED', 'SPLIT')),
    payload    TEXT,
    created_at TEXT    NOT NULL,
    UNIQUE (record_id, seq)
);
INSERT INTO events_v2 (pos, id, record_id, seq, event_type, payload, created_at)
    SELECT pos, id, record_id, seq, event_type, payload, created_at FROM events ORDER BY pos;
DROP TABLE events;
ALTER TABLE events_v2 RENAME TO events;

CREATE UNIQUE INDEX events_one_final ON events (record_id)
    WHERE event_type IN ('RETIRED', 'CANCELLED', 'SPLIT');
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

-- The ranges the blocks that are not SPLIT hold (src/store/blocks.rs): a
-- mutable index beside the append-only tables, kept by the transaction that
-- writes the records. Credit numbers are u64 stored with the top bit flipped
-- (blocks::sortable), so integer order is credit order.
-- One b-tree, keyed by range (WITHOUT ROWID): a split deletes one entry and
-- inserts two in the same leaf, the cheapest write the rule allows.
CREATE TABLE live_blocks (
    scheme    TEXT    NOT NULL,
    prefix    TEXT    NOT NULL,
    first     INTEGER NOT NULL,
    last      INTEGER NOT NULL,
    record_id TEXT    NOT NULL REFERENCES records (id),
    CHECK (first <= last),
    PRIMARY KEY (scheme, prefix, first)
) WITHOUT ROWID;

-- No two live blocks of one scheme and prefix share a credit. The indexed
-- ranges are disjoint, so only the one starting last at or before the new
-- block's end can overlap it.
CREATE TRIGGER live_blocks_no_overlap BEFORE INSERT ON live_blocks
WHEN (SELECT b.last FROM live_blocks b
      WHERE b.scheme = NEW.scheme AND b.prefix = NEW.prefix AND b.first <= NEW.last
      ORDER BY b.first DESC LIMIT 1) >= NEW.first
BEGIN SELECT RAISE(ABORT, 'serial_overlap: the block shares credits with a tracked block'); END;

-- Blocks stored before this migration that overlap an earlier one: kept, not
-- indexed, and reported.
CREATE TABLE block_overlaps (
    record_id TEXT PRIMARY KEY REFERENCES records (id),
    earlier   TEXT NOT NULL REFERENCES records (id)
);
