//! Signed notes (C2SP signed-note) carrying checkpoints (C2SP
//! tlog-checkpoint).
//!
//! Written here rather than with the `signed_note` crate, which follows Go's
//! `sumdb/note` in verifying only the first of several signature lines of
//! one key and skipping the rest: here every line of the pinned key must
//! verify (C2SP: "If a signature from a known key fails to verify, clients
//! SHOULD reject the whole note"). The parsing rules are Go's, and
//! `tests/vectors/log.json` holds Go's and C2SP's published notes and keys.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::checkpoint::Checkpoint;
use super::key::{valid_name, SignerKey, VerifierKey};
use super::LogError;

/// Signature lines read before a note is refused (Go's limit; C2SP asks to
/// accept at least 16).
pub const MAX_SIGNATURES: usize = 100;

/// The largest note read, in bytes.
pub const MAX_NOTE_BYTES: usize = 1 << 20;

/// The signed note of `checkpoint`, signed with `key` (C2SP tlog-checkpoint
/// over C2SP signed-note): the body, a blank line, and the signature line
/// `— name base64(key ID || Ed25519 signature of the body)`. Ed25519 is
/// deterministic, so the same checkpoint and key give the same text.
///
/// The checkpoint's origin should be the key's name, which
/// [`open_checkpoint`] requires, and one line ([`Checkpoint::new`] checks it).
pub fn sign_checkpoint(checkpoint: &Checkpoint, key: &SignerKey) -> String {
    let body = checkpoint.body();
    let line = key.signature_line(body.as_bytes());
    format!("{body}\n{line}")
}

/// A signed note of any `text` (C2SP signed-note): the text, a blank line,
/// the signature line of `key`.
///
/// # Errors
/// [`LogError::MalformedNote`] for a text that does not end with a newline
/// or holds control characters other than newlines.
pub fn sign_note(text: &str, key: &SignerKey) -> Result<String, LogError> {
    if !text.ends_with('\n') {
        return Err(LogError::MalformedNote("the text must end with a newline"));
    }
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(LogError::MalformedNote(
            "a note holds no control characters but newlines",
        ));
    }
    let line = key.signature_line(text.as_bytes());
    Ok(format!("{text}\n{line}"))
}

/// The text of a signed note that `key` signed (C2SP signed-note): the
/// note's text, with its final newline.
///
/// The note must be well-formed as Go's `sumdb/note` reads it: valid UTF-8
/// (a `&str`), no control characters but newlines, the text and the
/// signature lines separated by the note's last blank line, each signature
/// line `— name base64(4-byte key ID || signature)` with a valid key name,
/// at most [`MAX_SIGNATURES`] of them. Every signature line of the pinned
/// key (its name and key ID) must verify; lines of other keys are ignored
/// (witness cosignatures, a rotated key), even when they share the name or
/// the ID but not both.
///
/// # Errors
/// [`LogError::MalformedNote`] for a note that does not read;
/// [`LogError::InvalidSignature`] for a line of the pinned key that does
/// not verify; [`LogError::UnverifiedNote`] when no line is the pinned key's.
pub fn open_note<'a>(note: &'a str, key: &VerifierKey) -> Result<&'a str, LogError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(LogError::MalformedNote("the note is too large"));
    }
    if note.chars().any(|c| c < ' ' && c != '\n') {
        return Err(LogError::MalformedNote(
            "a note holds no control characters but newlines",
        ));
    }
    let split = note.rfind("\n\n").ok_or(LogError::MalformedNote(
        "no blank line before the signatures",
    ))?;
    let (text, signatures) = note.split_at(split + 1);
    let signatures = signatures
        .strip_prefix('\n')
        .and_then(|s| s.strip_suffix('\n'))
        .filter(|s| !s.is_empty())
        .ok_or(LogError::MalformedNote(
            "the signatures must end with a newline",
        ))?;
    let mut verified = false;
    for (n, line) in signatures.split('\n').enumerate() {
        if n >= MAX_SIGNATURES {
            return Err(LogError::MalformedNote("too many signatures"));
        }
        let (name, id, signature) = signature_line(line)?;
        if name != key.name() || id != key.id() {
            continue;
        }
        if !key.verifies(text.as_bytes(), &signature) {
            return Err(LogError::InvalidSignature {
                name: name.to_owned(),
            });
        }
        verified = true;
    }
    if verified {
        Ok(text)
    } else {
        Err(LogError::UnverifiedNote {
            name: key.name().to_owned(),
        })
    }
}

/// Reads `— name base64(key ID || signature)`.
fn signature_line(line: &str) -> Result<(&str, u32, Vec<u8>), LogError> {
    let malformed = LogError::MalformedNote("a signature line is not '— name base64'");
    let rest = line.strip_prefix("\u{2014} ").ok_or(malformed.clone())?;
    let (name, encoded) = rest.split_once(' ').ok_or(malformed.clone())?;
    if !valid_name(name) || encoded.is_empty() {
        return Err(malformed);
    }
    let bytes = STANDARD.decode(encoded).map_err(|_| malformed.clone())?;
    match bytes.as_slice() {
        [a, b, c, d, signature @ ..] if !signature.is_empty() => Ok((
            name,
            u32::from_be_bytes([*a, *b, *c, *d]),
            signature.to_vec(),
        )),
        _ => Err(malformed),
    }
}

/// The checkpoint a signed note carries, once the note's signature by the
/// pinned `key` is verified ([`open_note`]) and its text read as a
/// checkpoint ([`Checkpoint::parse_body`]). The checkpoint's origin must be
/// the key's name (C2SP tlog-checkpoint: "The log's key name in its
/// signature line SHOULD match the origin line"; here it must), so a
/// checkpoint another log signed with the same key is refused.
///
/// # Errors
/// Those of [`open_note`] and [`Checkpoint::parse_body`], and
/// [`LogError::WrongOrigin`].
pub fn open_checkpoint(note: &str, key: &VerifierKey) -> Result<Checkpoint, LogError> {
    let text = open_note(note, key)?;
    let checkpoint = Checkpoint::parse_body(text)?;
    if checkpoint.origin != key.name() {
        return Err(LogError::WrongOrigin {
            origin: checkpoint.origin,
            key: key.name().to_owned(),
        });
    }
    Ok(checkpoint)
}
