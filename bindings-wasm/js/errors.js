// The package's error classes and its one constant. They live in JavaScript
// because a thrown value must be a real `Error` subclass that users can test
// with `instanceof`, and wasm-bindgen can only export Rust types as classes of
// its own. src/errors.rs re-exports `ValidationError`, `TransitionError` and
// `ID_SCHEME` from here and builds every thrown error with the two factories.

/** The record id scheme this package computes (the core's `ID_SCHEME`). */
export const ID_SCHEME = "v1";

/** A record breaks the v1 field rules; `errors` lists every problem at once. */
export class ValidationError extends Error {
  constructor(message, errors, row) {
    super(message);
    this.errors = errors;
    if (row !== undefined) {
      this.row = row;
    }
  }
}
ValidationError.prototype.name = "ValidationError";

/** An event cannot follow a record's state; `code` says why. */
export class TransitionError extends Error {
  constructor(message, code, errors) {
    super(message);
    this.code = code;
    this.errors = errors;
  }
}
TransitionError.prototype.name = "TransitionError";

export function validationError(message, errors, row) {
  return new ValidationError(message, errors, row);
}

export function transitionError(message, code, errors) {
  return new TransitionError(message, code, errors);
}
