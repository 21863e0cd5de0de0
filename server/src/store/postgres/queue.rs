//! The queues of grouped work (writes, record reads, API key lookups): a few
//! tasks per process, each taking everything waiting at one moment, up to a
//! size, and handling it as one group (one transaction, one statement), so
//! that PostgreSQL does its per-statement work once for many requests.

use std::future::Future;
use std::sync::{Arc, PoisonError};

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::store::StoreError;

/// A queue's sending end, taken away at shutdown.
pub(super) type Sender<T> = std::sync::Mutex<Option<mpsc::UnboundedSender<T>>>;

/// Starts `tasks` tasks that take groups of up to `max` (by `size`) from one
/// queue and hand each to `handle`; they stop when the sender is dropped and
/// the queue is empty.
pub(super) fn start<T, F, Fut>(
    pool: &Pool,
    tasks: usize,
    max: usize,
    size: fn(&T) -> usize,
    handle: F,
) -> mpsc::UnboundedSender<T>
where
    T: Send + 'static,
    F: Fn(Pool, Vec<T>) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (sender, receiver) = mpsc::unbounded_channel();
    let receiver = Arc::new(Mutex::new(receiver));
    for _ in 0..tasks {
        let (pool, receiver) = (pool.clone(), Arc::clone(&receiver));
        tokio::spawn(async move {
            while let Some(group) = next_group(&receiver, max, size).await {
                handle(pool.clone(), group).await;
            }
        });
    }
    sender
}

/// Everything waiting in `receiver`, up to `max` by `size`, once at least
/// one item is.
async fn next_group<T>(
    receiver: &Mutex<mpsc::UnboundedReceiver<T>>,
    max: usize,
    size: fn(&T) -> usize,
) -> Option<Vec<T>> {
    let mut receiver = receiver.lock().await;
    let first = receiver.recv().await?;
    let mut total = size(&first);
    let mut group = vec![first];
    while total < max {
        match receiver.try_recv() {
            Ok(item) => {
                total += size(&item);
                group.push(item);
            }
            Err(_) => break,
        }
    }
    Some(group)
}

/// Hands the tasks behind `sender` the item `make` builds around a reply
/// channel, and waits for the reply; `tasks` names them in the error when
/// they stopped first.
pub(super) async fn ask<T, R>(
    sender: &Sender<T>,
    tasks: &str,
    make: impl FnOnce(oneshot::Sender<Result<R, StoreError>>) -> T,
) -> Result<R, StoreError> {
    let (reply, answer) = oneshot::channel();
    sender
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .and_then(|s| s.send(make(reply)).ok())
        .ok_or_else(|| StoreError::stopped("the server is shutting down"))?;
    answer
        .await
        .unwrap_or_else(|_| Err(StoreError::stopped(format!("the {tasks} stopped"))))
}

/// Closes the queue: its tasks finish what is waiting, then stop.
pub(super) fn close<T>(sender: &Sender<T>) {
    drop(sender.lock().unwrap_or_else(PoisonError::into_inner).take());
}
