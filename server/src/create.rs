//! Creating records from host values: the one flow that `POST /records`,
//! `POST /records/batch` and the import command share. The core validates
//! and canonicalizes each input; the valid ones go to the store together (one
//! transaction); each input gets its own outcome, in input order.

use carbon_tracker_core::api::{self, ApiError};
use serde_json::Value;

use crate::store::{Created, Store, StoreError};

/// What became of one input.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The input is not a valid record; nothing was stored for it.
    Invalid(ApiError),
    /// The store's answer for the valid record.
    Stored(Result<Created, StoreError>),
}

/// Validates every input and creates the valid ones in one store call. The
/// outer error means nothing was written.
pub(crate) async fn create_all(
    store: &dyn Store,
    inputs: Vec<Value>,
) -> Result<Vec<Outcome>, StoreError> {
    let mut outcomes = Vec::with_capacity(inputs.len());
    let mut records = Vec::new();
    for value in inputs {
        match api::record_input_from_value(value).and_then(|input| api::canonicalize(&input)) {
            Ok(record) => {
                records.push(record);
                outcomes.push(None);
            }
            Err(e) => outcomes.push(Some(Outcome::Invalid(e))),
        }
    }
    let expected = records.len();
    let mut stored = if records.is_empty() {
        Vec::new()
    } else {
        store.create(records).await?
    }
    .into_iter();
    if stored.len() != expected {
        return Err(StoreError::stopped(format!(
            "the store answered {} of {expected} creates",
            stored.len()
        )));
    }
    Ok(outcomes
        .into_iter()
        .map(|outcome| outcome.or_else(|| stored.next().map(Outcome::Stored)))
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default())
}
