-- The PostgreSQL schema: the same rules as the SQLite one, in native types.
--
-- `pos` gives both tables an insertion order. Several processes insert at
-- once, so a row can commit after rows inserted later; `tx` (the inserting
-- transaction's id) lets the event feed hand out events without gaps: it
-- orders by (tx, pos) and only returns events of transactions older than
-- every transaction still running (see src/store/postgres/mod.rs).
CREATE TABLE records (
    pos           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx            BIGINT        NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    id            TEXT          NOT NULL UNIQUE CHECK (id ~ '^[0-9a-f]{64}$'),
    project_name  TEXT          NOT NULL,
    registry      TEXT          NOT NULL,
    vintage       SMALLINT      NOT NULL CHECK (vintage BETWEEN 1900 AND 2100),
    quantity      NUMERIC(18,4) NOT NULL CHECK (quantity > 0),
    serial_number TEXT          NOT NULL,
    created_at    TIMESTAMPTZ   NOT NULL
);

CREATE INDEX records_order ON records (tx, pos);
CREATE INDEX records_registry ON records (registry, tx, pos);
CREATE INDEX records_vintage ON records (vintage, tx, pos);

CREATE TABLE events (
    pos        BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx         BIGINT      NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    id         UUID        NOT NULL UNIQUE,
    record_id  TEXT        NOT NULL REFERENCES records (id),
    seq        INTEGER     NOT NULL CHECK (seq >= 1),
    event_type TEXT        NOT NULL CHECK (event_type IN ('CREATED', 'SOLD', 'RETIRED', 'CANCELLED')),
    payload    JSONB,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (record_id, seq)
);

CREATE INDEX events_order ON events (tx, pos);

-- At most one final event per record: the database's own guard against a
-- double retire, whatever the application does.
CREATE UNIQUE INDEX events_one_final ON events (record_id)
    WHERE event_type IN ('RETIRED', 'CANCELLED');

CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER records_no_update BEFORE UPDATE OR DELETE ON records
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER records_no_truncate BEFORE TRUNCATE ON records
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
