-- SPEC §7: the Merkle log. Every committed event is a leaf, in the order of
-- GET /events (tx, pos over settled transactions: one total order every
-- process agrees on); `idx` is its position in the log (from 0) and `hash`
-- its RFC 9162 leaf hash. Every checkpoint signed is kept. Several processes
-- may append the same leaves: they agree, so the second insert is a no-op.
CREATE TABLE log_leaves (
    idx      BIGINT PRIMARY KEY CHECK (idx >= 0),
    event_id UUID   NOT NULL UNIQUE REFERENCES events (id),
    hash     BYTEA  NOT NULL CHECK (length(hash) = 32)
);
CREATE TABLE log_checkpoints (
    size      BIGINT      PRIMARY KEY CHECK (size >= 0),
    root      BYTEA       NOT NULL CHECK (length(root) = 32),
    note      TEXT        NOT NULL,
    signed_at TIMESTAMPTZ NOT NULL
);
CREATE TRIGGER log_leaves_no_update BEFORE UPDATE OR DELETE ON log_leaves
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER log_leaves_no_truncate BEFORE TRUNCATE ON log_leaves
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER log_checkpoints_no_update BEFORE UPDATE OR DELETE ON log_checkpoints
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER log_checkpoints_no_truncate BEFORE TRUNCATE ON log_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
