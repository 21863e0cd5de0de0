-- Write safety and access (SPEC §8, server/README.md "Access").
-- Every event names the API key whose request caused it; NULL on an open
-- server and for events written before keys existed. (Adding a nullable
-- column rewrites no row, so the append-only triggers are not involved.)
ALTER TABLE events ADD COLUMN actor TEXT;

-- API keys: only the SHA-256 of each token is kept. A revoked key stays, so
-- the actors of old events still name a listed key.
CREATE TABLE api_keys (
    name         TEXT NOT NULL PRIMARY KEY,
    token_hash   BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    -- Comma-separated scopes (read, create, trade, retire, admin), never empty.
    scopes       TEXT NOT NULL CHECK (scopes <> ''),
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);

-- The answers kept for Idempotency-Key retries, written in the transaction
-- of the write they answer; purged after their time to live (records and
-- events are untouched). `scope` is the caller's key name ('' when open).
-- (A rowid table: answers of ~1 KB append to it in order; WITHOUT ROWID
-- would scatter them over the key's B-tree, at 4 rows a page.)
CREATE TABLE idempotency_keys (
    scope       TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    -- Unix seconds.
    created_at  INTEGER NOT NULL,
    status      INTEGER NOT NULL,
    -- JSON array of [name, value] pairs.
    headers     TEXT    NOT NULL,
    body        BLOB    NOT NULL,
    PRIMARY KEY (scope, key)
);
-- No index on created_at: the hourly purge scans the table rather than
-- every keyed write paying for a third B-tree.
