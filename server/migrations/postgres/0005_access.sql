-- Write safety and access (SPEC §8, server/README.md "Access").
-- Every event names the API key whose request caused it; NULL on an open
-- server and for events written before keys existed. (Adding a nullable
-- column without a default rewrites no row; the append-only trigger is
-- not fired.)
ALTER TABLE events ADD COLUMN actor TEXT;

-- API keys: only the SHA-256 of each token is kept. A revoked key stays, so
-- the actors of old events still name a listed key.
CREATE TABLE api_keys (
    name         TEXT        NOT NULL PRIMARY KEY,
    token_hash   BYTEA       NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    -- Comma-separated scopes (read, create, trade, retire, admin), never empty.
    scopes       TEXT        NOT NULL CHECK (scopes <> ''),
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);

-- The answers kept for Idempotency-Key retries, written in the transaction
-- of the write they answer; purged after their time to live (records and
-- events are untouched). `scope` is the caller's key name ('' when open).
-- A request claims its key first in its transaction (status NULL), so a
-- repeat in another process waits on the row and then replays the answer.
CREATE TABLE idempotency_keys (
    scope       TEXT        NOT NULL,
    key         TEXT        NOT NULL,
    fingerprint TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    status      INTEGER,
    headers     TEXT,
    body        BYTEA,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);
