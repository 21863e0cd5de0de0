// The error class of the certificate verifier (the module
// `carbon-tracker/verify`). It lives in JavaScript because a thrown value must
// be a real `Error` subclass that users can test with `instanceof`.
// src/errors.rs re-exports `CertificateError` and builds every one with the
// factory.

/**
 * A certificate does not verify. `code` says what failed, the core's
 * CertificateError code: "signature", "proof", "replay", "id", "lineage" or
 * "consistency"; `detail` the code of what failed inside ("root_mismatch",
 * "unverified_note", "out_of_sequence", …), or null.
 */
export class CertificateError extends Error {
  constructor(message, code, detail) {
    super(message);
    this.code = code;
    this.detail = detail ?? null;
  }
}
CertificateError.prototype.name = "CertificateError";

export function certificateError(message, code, detail) {
  return new CertificateError(message, code, detail);
}
