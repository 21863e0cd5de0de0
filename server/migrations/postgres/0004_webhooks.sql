-- Webhooks (server/README.md, "Webhooks"): endpoints that receive the event
-- feed, signed per the Standard Webhooks specification, and a log of every
-- delivery attempt. The durable outbox is each endpoint's `cursor` over the
-- append-only feed: the last event delivered (answered 2xx) or skipped (not
-- subscribed), in feed order ((tx, pos) over settled transactions); NULL
-- before the first event. It advances only after a 2xx, in the same
-- transaction as that attempt's log row, so a crash loses nothing
-- (at-least-once). Several processes may serve one database: a session
-- advisory lock per endpoint lets one of them deliver it at a time.
CREATE TABLE webhook_endpoints (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url         TEXT        NOT NULL UNIQUE,
    -- `whsec_` + base64 of the 32-byte HMAC key; shown once, by `webhooks add`.
    secret      TEXT        NOT NULL,
    -- Comma-separated event types (CREATED,SOLD,…), never empty.
    event_types TEXT        NOT NULL CHECK (event_types <> ''),
    created_at  TIMESTAMPTZ NOT NULL,
    cursor      UUID        REFERENCES events (id)
);
CREATE TABLE webhook_deliveries (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id BIGINT      NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id    UUID        NOT NULL,
    attempt     INTEGER     NOT NULL CHECK (attempt >= 1),
    at          TIMESTAMPTZ NOT NULL,
    -- The HTTP status, or NULL when no response came (then `error` says why).
    status      INTEGER,
    error       TEXT
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
