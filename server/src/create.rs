//! Creating records from host values: the one flow that `POST /records`,
//! `POST /records/batch` and the import command share. The core validates
//! and canonicalizes each input; the valid ones go to the store together (one
//! transaction); each input gets its own outcome, in input order.

use std::sync::Arc;

use carbon_tracker_core::api::{self, ApiError};
use serde_json::Value;

use crate::store::{
    Answer, Created, IdempotencyKey, Remember, SavedResponse, Store, StoreError, Write,
};

/// What became of one input.
#[derive(Debug)]
pub(crate) enum Outcome<'a> {
    /// The input is not a valid record; nothing was stored for it.
    Invalid(&'a ApiError),
    /// The store's answer for the valid record.
    Stored(&'a Result<Created, StoreError>),
}

/// What became of every input.
#[derive(Debug, Default)]
pub(crate) struct Outcomes {
    /// Per input: why it is not a valid record, or `None` for a valid one.
    invalid: Vec<Option<ApiError>>,
    /// The store's answers for the valid inputs, in input order.
    stored: Vec<Result<Created, StoreError>>,
}

impl Outcomes {
    /// Each input's outcome, in input order.
    pub(crate) fn each(&self) -> Vec<Outcome<'_>> {
        merge(&self.invalid, &self.stored)
    }
}

fn merge<'a>(
    invalid: &'a [Option<ApiError>],
    stored: &'a [Result<Created, StoreError>],
) -> Vec<Outcome<'a>> {
    let mut stored = stored.iter();
    invalid
        .iter()
        .filter_map(|i| match i {
            Some(e) => Some(Outcome::Invalid(e)),
            None => stored.next().map(Outcome::Stored),
        })
        .collect()
}

/// How an answer is rendered from the outcomes, to keep it for an
/// `Idempotency-Key`.
pub(crate) type RenderOutcomes = fn(&[Outcome<'_>]) -> SavedResponse;

/// Validates every input and creates the valid ones in one store call, by
/// `actor`, keeping the answer `render` makes for `key` (SPEC §8). The outer
/// error means nothing was written.
pub(crate) async fn create_all(
    store: &dyn Store,
    inputs: Vec<Value>,
    actor: Option<String>,
    key: Option<(IdempotencyKey, RenderOutcomes)>,
) -> Result<Answer<Outcomes>, StoreError> {
    let mut invalid = Vec::with_capacity(inputs.len());
    let mut records = Vec::new();
    for value in inputs {
        match api::record_input_from_value(value).and_then(|input| api::canonicalize(&input)) {
            Ok(record) => {
                records.push(record);
                invalid.push(None);
            }
            Err(e) => invalid.push(Some(e)),
        }
    }
    let expected = records.len();
    if records.is_empty() && key.is_none() {
        return Ok(Answer::Done(Outcomes {
            invalid,
            stored: Vec::new(),
        }));
    }
    let remember = key.map(|(key, render)| {
        let invalid = invalid.clone();
        Remember {
            key,
            render: Arc::new(move |stored: &Vec<Result<Created, StoreError>>| {
                render(&merge(&invalid, stored))
            }),
        }
    });
    let stored = match store.create(records, Write { actor, remember }).await? {
        Answer::Done(stored) => stored,
        Answer::Kept(saved) => return Ok(Answer::Kept(saved)),
        Answer::Replayed(saved) => return Ok(Answer::Replayed(saved)),
    };
    if stored.len() != expected {
        return Err(StoreError::stopped(format!(
            "the store answered {} of {expected} creates",
            stored.len()
        )));
    }
    Ok(Answer::Done(Outcomes { invalid, stored }))
}
