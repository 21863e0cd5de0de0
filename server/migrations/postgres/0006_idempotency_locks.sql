-- Idempotency-Key answers are written once, whole (SPEC §8): a write takes
-- an advisory lock per key for its transaction instead of claiming the key
-- with a row it later fills in (one insert, no update and dead row per
-- keyed write). Every committed row has its answer.
ALTER TABLE idempotency_keys
    ALTER COLUMN status SET NOT NULL,
    ALTER COLUMN headers SET NOT NULL,
    ALTER COLUMN body SET NOT NULL;
-- The hourly purge scans the table rather than every keyed write paying for
-- a second index (as on SQLite).
DROP INDEX idempotency_keys_age;
