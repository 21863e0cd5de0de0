-- SPEC §6: credit blocks. A partial action splits a block: the parent gets a
-- final SPLIT event, so the event types and the one-final-event rule gain SPLIT.
ALTER TABLE events DROP CONSTRAINT events_event_type_check;
ALTER TABLE events ADD CONSTRAINT events_event_type_check
    CHECK (event_type IN ('CREATED', 'SOLD', 'RETIRED', 'CANCELLED', 'SPLIT'));
DROP INDEX events_one_final;
CREATE UNIQUE INDEX events_one_final ON events (record_id)
    WHERE event_type IN ('RETIRED', 'CANCELLED', 'SPLIT');

-- The ranges the blocks that are not SPLIT hold (src/store/blocks.rs): a
-- mutable index beside the append-only tables, kept by the transaction that
-- writes the records. Credit numbers reach 2^64 - 1, past bigint, so the
-- ranges are numeric. The exclusion constraint is the guard across processes:
-- two transactions inserting overlapping blocks cannot both commit.
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE TABLE live_blocks (
    record_id TEXT     PRIMARY KEY REFERENCES records (id),
    scheme    TEXT     NOT NULL,
    prefix    TEXT     NOT NULL,
    credits   NUMRANGE NOT NULL CHECK (NOT isempty(credits)),
    CONSTRAINT live_blocks_no_overlap
        EXCLUDE USING gist (scheme WITH =, prefix WITH =, credits WITH &&)
);

-- Blocks stored before this migration that overlap an earlier one: kept, not
-- indexed, and reported.
CREATE TABLE block_overlaps (
    record_id TEXT PRIMARY KEY REFERENCES records (id),
    earlier   TEXT NOT NULL REFERENCES records (id)
);
