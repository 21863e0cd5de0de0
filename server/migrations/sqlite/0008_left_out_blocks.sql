-- The ranges of the blocks migration 2 left out of `live_blocks` because an
-- earlier block held some of their credits (listed in `block_overlaps`).
-- Their credits stay held, with their children's, whatever happens to them
-- (SPEC §6: the same credits are never registered twice), so a new block is
-- checked against these ranges too. Filled once, by the migration
-- (src/store/blocks.rs); never changed after. Credit numbers are stored as in
-- `live_blocks`. These ranges may overlap each other and the live ones.
CREATE TABLE left_out_blocks (
    record_id TEXT    PRIMARY KEY REFERENCES block_overlaps (record_id),
    scheme    TEXT    NOT NULL,
    prefix    TEXT    NOT NULL,
    first     INTEGER NOT NULL,
    last      INTEGER NOT NULL,
    CHECK (first <= last)
);
CREATE INDEX left_out_blocks_by_range ON left_out_blocks (scheme, prefix, first);
CREATE TRIGGER left_out_blocks_no_update BEFORE UPDATE ON left_out_blocks
BEGIN SELECT RAISE(ABORT, 'left-out blocks are fixed'); END;
CREATE TRIGGER left_out_blocks_no_delete BEFORE DELETE ON left_out_blocks
BEGIN SELECT RAISE(ABORT, 'left-out blocks are fixed'); END;
