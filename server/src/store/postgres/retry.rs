//! Which PostgreSQL failures another try may cure, and the retry loop.
//!
//! A deadlock, a serialization failure, a unique or exclusion violation means writers
//! collided: the transaction rolled back, and running it again sees the
//! other writer's work (the core then decides anew). A lost connection or a
//! server going away may be cured by a new connection. Everything else is
//! final. What persists becomes the [`StoreError`] every backend gives for
//! that fault.

use std::future::Future;
use std::time::Duration;

use deadpool_postgres::{Object, Pool, PoolError};
use tokio_postgres::error::SqlState;

use crate::problem::chain;
use crate::store::StoreError;

/// Tries of one operation when the database reports a transient failure.
const ATTEMPTS: u32 = 5;

/// The longest one store operation may take, retries included, before the
/// request gets a 503 instead of hanging on a database that does not answer.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `op` on a pooled connection, again (after a short pause) while it
/// fails in a way another try may not, within [`OPERATION_TIMEOUT`].
pub(super) async fn run<T, F, Fut>(pool: &Pool, op: F) -> Result<T, StoreError>
where
    F: Fn(Object) -> Fut + Send + Sync,
    Fut: Future<Output = Result<T, Failed>> + Send,
{
    let tries = async {
        let mut attempt = 1;
        loop {
            let outcome = match pool.get().await {
                Ok(client) => op(client).await,
                Err(e) => Err(Failed::from_pool(e)),
            };
            match outcome {
                Ok(value) => return Ok(value),
                Err(Failed { error, retry }) if retry && attempt < ATTEMPTS => {
                    tracing::warn!(%error, attempt, "retrying a PostgreSQL operation");
                    tokio::time::sleep(Duration::from_millis(25) * 2_u32.pow(attempt)).await;
                    attempt += 1;
                }
                Err(failed) => return Err(failed.error),
            }
        }
    };
    tokio::time::timeout(OPERATION_TIMEOUT, tries)
        .await
        .unwrap_or_else(|_| {
            Err(StoreError::stopped(format!(
                "PostgreSQL did not answer within {} s",
                OPERATION_TIMEOUT.as_secs()
            )))
        })
}

/// One try's failure, and whether another try may succeed.
pub(super) struct Failed {
    pub(super) error: StoreError,
    retry: bool,
}

impl Failed {
    pub(super) fn from_pool(e: PoolError) -> Self {
        match e {
            PoolError::Backend(e) => Self::from(e),
            PoolError::Closed => Self::final_(StoreError::stopped("the server is shutting down")),
            other => Self::final_(StoreError::unavailable(
                "no PostgreSQL connection",
                chain(&other),
            )),
        }
    }

    /// The write would follow events of a transaction with a newer id than
    /// its own, out of the feed's order: another try, in a new transaction,
    /// comes after them (see `sql::lock_records`).
    pub(super) fn out_of_order() -> Self {
        Self {
            error: StoreError::WriteConflict(
                "the events this write follows were written by a newer transaction".into(),
            ),
            retry: true,
        }
    }

    const fn final_(error: StoreError) -> Self {
        Self {
            error,
            retry: false,
        }
    }

    /// A failed `COMMIT`: retried only when the database says it rolled back.
    /// A connection lost during a commit leaves its outcome unknown, so the
    /// request gets a 503 rather than a second try.
    pub(super) fn at_commit(e: tokio_postgres::Error) -> Self {
        Self::from(e).unknown_outcome()
    }

    /// This failure, of a statement that commits (a `COMMIT`, or a statement
    /// outside a transaction): a lost connection leaves its outcome unknown,
    /// so it is final (503); a collision still rolled back and is retried.
    pub(super) fn unknown_outcome(self) -> Self {
        match self.error {
            StoreError::Unavailable { source, .. } if self.retry => Self::final_(StoreError::Unavailable {
                context: "the connection to PostgreSQL was lost during a commit, whose outcome is unknown".to_owned(),
                source,
            }),
            error => Self { error, ..self },
        }
    }
}

/// Writers collided: the transaction rolled back, and another try sees the
/// other writer's work.
fn collision(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        [
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
            // A statement sent in the same round trip as one that failed
            // (a deadlock, say), reporting the rolled-back transaction
            // rather than the cause: another try decides anew.
            SqlState::IN_FAILED_SQL_TRANSACTION,
            SqlState::UNIQUE_VIOLATION,
            // Another process's block took the credits: the retry's look
            // finds it and answers serial_overlap.
            SqlState::EXCLUSION_VIOLATION,
        ]
        .contains(c)
    })
}

impl From<tokio_postgres::Error> for Failed {
    fn from(e: tokio_postgres::Error) -> Self {
        if collision(&e) {
            return Self {
                error: StoreError::WriteConflict(Box::new(e)),
                retry: true,
            };
        }
        // A rule of the schema (class 23: a CHECK, a foreign key, the
        // append-only triggers): the same answer as SQLite's constraints.
        if e.code().is_some_and(|c| c.code().starts_with("23")) {
            return Self::final_(StoreError::WriteConflict(Box::new(e)));
        }
        // The connection broke or the server is going away: a new connection
        // (perhaps to the restarted server) may succeed.
        let lost = e.is_closed()
            || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>())
            || e.code().is_some_and(|c| {
                [
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                ]
                .contains(c)
            });
        Self {
            error: StoreError::unavailable("PostgreSQL failed", e),
            retry: lost,
        }
    }
}

impl From<StoreError> for Failed {
    fn from(error: StoreError) -> Self {
        Self::final_(error)
    }
}
