-- The unique index of final events again, its condition written as
-- comparisons: SQLite evaluates an IN list of more than two constants
-- through a temporary B-tree that it builds for every event inserted (seen
-- in profiles of the writer thread as B-tree opens and closes per event).
DROP INDEX events_one_final;
CREATE UNIQUE INDEX events_one_final ON events (record_id)
    WHERE event_type = 'RETIRED' OR event_type = 'CANCELLED' OR event_type = 'SPLIT';
