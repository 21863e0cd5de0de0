//! The TypeScript shapes of the package, written out by hand.
//!
//! They are the JSON shapes of the REST bodies (SPEC §4), which the core's
//! serde types define; the functions in `lib.rs` name them with
//! `unchecked_param_type`/`unchecked_return_type`. Hand-written rather than
//! derived, so the core needs no wasm-only dependency, and checked by
//! `tsc --noEmit` on `tests/node/usage.ts` in `tests/run`.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** The record id scheme this package computes. */
export const ID_SCHEME: "v1";

/**
 * A record as a client sends it: the body of `POST /records`.
 *
 * `quantity` as a string keeps its exact digits (`"100.10"`, `"1E+2"`); a
 * number is read as `String(n)` writes it, a bigint exactly. `vintage` may be
 * an integer-valued string such as `"2023"`. Other keys are ignored.
 */
export interface RecordInput {
  project_name: string;
  registry: string;
  vintage: number | string;
  quantity: string | number | bigint;
  serial_number: string;
}

/** A record's canonical fields: what its id is computed from. */
export interface CanonicalRecord {
  project_name: string;
  registry: string;
  vintage: number;
  /** Truncated to 4 decimals and written with exactly 4, e.g. `"100.1000"`. */
  quantity: string;
  serial_number: string;
}

/** The body of `POST /ids`: an id and the canonical fields it was computed from. */
export interface DerivedId {
  id: string;
  canonical: CanonicalRecord;
}

/** Stable codes of field problems. */
export type ErrorCode =
  | "missing" | "not_a_string" | "invalid_unicode" | "empty" | "contains_separator"
  | "control_character" | "too_long" | "not_a_number" | "not_positive" | "too_large"
  | "not_an_integer" | "out_of_range" | "not_an_object" | "unknown_field" | "negative"
  | "invalid_currency" | "not_allowed" | "invalid_format";

/** One problem with one field. */
export interface FieldError {
  field: string;
  code: ErrorCode;
  /** A sentence that starts with the field's name. */
  message: string;
}

export type EventType = "CREATED" | "SOLD" | "RETIRED" | "CANCELLED";
export type Status = "ACTIVE" | "SOLD" | "RETIRED" | "CANCELLED";

/** One entry of a record's history, as `GET /records/{id}/events` returns it. */
export interface Event {
  /** A UUID (v7 when the server made it). */
  id: string;
  record_id: string;
  seq: number;
  event_type: EventType;
  /** `SOLD`: `buyer` (required), `price`, `currency`, `note`; `RETIRED`: `beneficiary`, `reason`; `CANCELLED`: `reason`. */
  payload?: Record<string, unknown> | null;
  /** RFC 3339 (any offset; read as UTC), or a `Date`. */
  created_at: string | Date;
}

/** A record's state after some prefix of its events. */
export interface RecordState {
  record_id: string;
  status: Status;
  last_seq: number;
  /** RFC 3339, UTC. */
  created_at: string;
  /** RFC 3339, UTC: when the last event applied happened. */
  updated_at: string;
  /** The buyer of the latest sale, if the credits were ever sold. */
  owner: string | null;
}

/** Stable codes of lifecycle errors. */
export type TransitionCode =
  | "no_events" | "not_created" | "already_created" | "already_final" | "out_of_sequence"
  | "wrong_record" | "time_went_backwards" | "timestamp_out_of_range" | "invalid_payload";

/** A record breaks the v1 field rules; `errors` lists every problem at once. */
export class ValidationError extends Error {
  readonly name: "ValidationError";
  readonly errors: FieldError[];
  /** The record's index, when it came from `recordIds`. */
  readonly row?: number;
}

/** An event cannot follow a record's state (HTTP 409), or its payload is invalid (`invalid_payload`, with `errors`). */
export class TransitionError extends Error {
  readonly name: "TransitionError";
  readonly code: TransitionCode;
  readonly errors: FieldError[];
}

/** Options of `recordIds`. */
export interface RecordIdsOptions {
  /** `"throw"` (the default): the first invalid record throws. `"collect"`: its `ValidationError` takes its place. */
  errors?: "throw" | "collect";
}

/**
 * The v1 ids of many records, in order. The first invalid record throws its
 * `ValidationError`, whose `row` is its index.
 */
export function recordIds(inputs: RecordInput[], options?: { errors?: "throw" }): string[];
/** The v1 ids of many records, in order; each invalid record gets its `ValidationError` in its place. */
export function recordIds(inputs: unknown[], options: { errors: "collect" }): (string | ValidationError)[];
export function recordIds(inputs: unknown[], options?: RecordIdsOptions): (string | ValidationError)[];
"#;
