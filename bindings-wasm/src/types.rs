//! The TypeScript declarations that are not core shapes: the constant, the
//! error classes (JavaScript classes in `js/errors.js` and `js/verify.js`)
//! and the overloads of `recordIds`.
//!
//! The shapes themselves (`RecordInput`, `CanonicalRecord`, `DerivedId`,
//! `FieldError`, `ErrorCode`, `Event`, `EventType`, `RecordState`, `Status`,
//! `TransitionCode`) are derived from the core's types by tsify (the core's
//! `typescript` feature), never hand-kept; the functions in `lib.rs` name them
//! with `unchecked_param_type`/`unchecked_return_type`. Everything is checked
//! by `tsc --noEmit` on `tests/node/usage.ts` in `tests/run`. The
//! verifier's shapes (`Certificate`, `CertifiedRecord`, `CertifiedEvent`,
//! `Checkpoint`, `Verified`) are the core's too, with its `log-small` feature.

use wasm_bindgen::prelude::*;

#[cfg(feature = "ids")]
#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** The record id scheme this package computes. */
export const ID_SCHEME: "v1";

/** A record breaks the v1 field rules; `errors` lists every problem at once. */
export class ValidationError extends Error {
  readonly name: "ValidationError";
  readonly errors: FieldError[];
  /** The record's index, when it came from `recordIds`. */
  readonly row?: number;
}

/** An event cannot follow a record's state, or its payload breaks its event type's rules (then `errors` lists the problems). */
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

#[cfg(feature = "verify")]
#[wasm_bindgen(typescript_custom_section)]
const VERIFY_TYPES: &str = r#"
/**
 * A certificate does not verify against the pinned key. `code` says what
 * failed (the core's codes): `"signature"` (the checkpoint is not signed by the
 * key, or is not a checkpoint of its log), `"proof"` (an event is not in the
 * log as shown: a tampered event, record or proof), `"replay"` (the history
 * breaks the lifecycle rules), `"id"` (an id is not the one the fields give),
 * `"lineage"` (the records are not one line of descent from a registered
 * block, or a child is not what its parent's split makes) or
 * `"consistency"` (the checkpoint and the trusted one do not extend each
 * other). `detail` is the code of what failed inside (`"root_mismatch"`,
 * `"unverified_note"`, `"out_of_sequence"`, `"missing_ancestor"`,
 * `"not_derived"`…), `null` for `"id"`.
 */
export class CertificateError extends Error {
  readonly name: "CertificateError";
  readonly code: "signature" | "proof" | "replay" | "id" | "lineage" | "consistency";
  readonly detail: string | null;
}
"#;
