-- The ranges of the blocks migration 2 left out of `live_blocks` because an
-- earlier block held some of their credits (listed in `block_overlaps`).
-- Their credits stay held, with their children's, whatever happens to them
-- (SPEC §6: the same credits are never registered twice), so a new block is
-- checked against these ranges too. Filled once, by the migration
-- (src/store/blocks.rs); never changed after, so a look inside the creating
-- transaction is race-free. These ranges may overlap each other and the
-- live ones.
CREATE TABLE left_out_blocks (
    record_id TEXT     PRIMARY KEY REFERENCES block_overlaps (record_id),
    scheme    TEXT     NOT NULL,
    prefix    TEXT     NOT NULL,
    credits   NUMRANGE NOT NULL CHECK (NOT isempty(credits))
);
CREATE INDEX left_out_blocks_by_range ON left_out_blocks USING gist (scheme, prefix, credits);
CREATE TRIGGER left_out_blocks_no_update BEFORE UPDATE OR DELETE ON left_out_blocks
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER left_out_blocks_no_truncate BEFORE TRUNCATE ON left_out_blocks
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
