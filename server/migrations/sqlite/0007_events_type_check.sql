-- The CHECK on events.event_type again, written as comparisons, as 0006 did
-- for the index of final events: SQLite evaluates an IN list of more than
-- two constants through a temporary B-tree that it builds again for every
-- event inserted (3 to 7 µs of a 10 µs insert, measured with Python's
-- sqlite3 on this schema).
--
-- A CHECK cannot be altered, and rebuilding the table would copy every
-- event. The new constraint is equivalent to the old one and leaves every
-- stored row as it is, so the stored schema text is edited in place: the
-- procedure SQLite documents for such changes
-- (https://www.sqlite.org/lang_altertable.html, "Making Other Kinds Of
-- Table Schema Changes"). `writable_schema = RESET` ends the edit and makes
-- this connection parse the schema again (a text that did not parse would
-- fail here, inside the migration's transaction); the server then bumps
-- `schema_version`, so that every other connection reads the new text too
-- (server/src/store/sqlite.rs). A database whose text differs (edited by
-- hand) keeps its IN list: correct, and as slow as before.
PRAGMA writable_schema = ON;
UPDATE sqlite_master
SET sql = replace(
    sql,
    'CHECK (event_type IN (''CREATED'', ''SOLD'', ''RETIRED'', ''CANCELLED'', ''SPLIT''))',
    'CHECK (event_type = ''CREATED'' OR event_type = ''SOLD'' OR event_type = ''RETIRED'' OR event_type = ''CANCELLED'' OR event_type = ''SPLIT'')'
)
WHERE type = 'table' AND name = 'events';
PRAGMA writable_schema = RESET;
