-- Webhooks (server/README.md, "Webhooks"): endpoints that receive the event
-- feed, signed per the Standard Webhooks specification, and a log of every
-- delivery attempt. The durable outbox is each endpoint's `cursor` over the
-- append-only feed: the last event delivered (answered 2xx) or skipped (not
-- subscribed), in feed order; NULL before the first event. It advances only
-- after a 2xx, in the same transaction as that attempt's log row, so a crash
-- loses nothing (at-least-once).
CREATE TABLE webhook_endpoints (
    id          INTEGER PRIMARY KEY,
    url         TEXT    NOT NULL UNIQUE,
    -- `whsec_` + base64 of the 32-byte HMAC key; shown once, by `webhooks add`.
    secret      TEXT    NOT NULL,
    -- Comma-separated event types (CREATED,SOLD,…), never empty.
    event_types TEXT    NOT NULL CHECK (event_types <> ''),
    created_at  TEXT    NOT NULL,
    cursor      TEXT    REFERENCES events (id)
);
CREATE TABLE webhook_deliveries (
    id          INTEGER PRIMARY KEY,
    endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id    TEXT    NOT NULL,
    attempt     INTEGER NOT NULL CHECK (attempt >= 1),
    at          TEXT    NOT NULL,
    -- The HTTP status, or NULL when no response came (then `error` says why).
    status      INTEGER,
    error       TEXT
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
