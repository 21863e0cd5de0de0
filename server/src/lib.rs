#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod access;
pub mod audit;
pub mod config;
pub(crate) mod create;
pub mod export;
pub mod idempotency;
pub mod import;
pub mod limits;
pub(crate) mod openapi;
pub(crate) mod problem;
pub mod routes;
pub mod store;
pub mod tlog;
pub mod webhooks;

/// An error and its sources on one line, as the commands report a failure.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    problem::chain(e)
}
