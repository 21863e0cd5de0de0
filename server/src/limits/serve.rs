//! The connection loop: HTTP/1 over TCP, as `axum::serve` does it (HTTP/1
//! only, as the server's axum features always gave), with the limits that
//! `axum::serve` does not expose.
//!
//! - a cap on open connections: the loop takes a permit before it accepts,
//!   so over the cap clients wait in the kernel's listen queue (their
//!   connect succeeds; their request is read when a connection closes);
//! - hyper's header read timeout (which also closes idle keep-alive
//!   connections) and its cap on the size of a request's head (431);
//! - a body read timeout: a deadline from the end of the head for the whole
//!   body, not an idle timer, so a client that trickles a byte a second is
//!   cut off at the deadline all the same; the answer is then 408
//!   `body_timeout` with `Connection: close`, whatever the handler made of
//!   the broken body;
//! - the peer address as [`ConnectInfo`], as
//!   `into_make_service_with_connect_info::<SocketAddr>()` gives it;
//! - graceful shutdown: on the signal the loop stops accepting, every
//!   connection finishes its request in flight (its body bounded by the
//!   body timeout) and closes, and `serve` returns when all have.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

use super::LimitSettings;
use crate::problem::Problem;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The smallest read buffer of a connection: hyper's cap on what it buffers
/// of an unfinished head, and the largest body chunk it reads at once.
const MIN_READ_BUFFER: usize = 64 * 1024;

/// Serves `app` on `listener` within `limits` until `shutdown` resolves,
/// then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &LimitSettings,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(
        usize::try_from(limits.max_connections).unwrap_or(usize::MAX),
    ));
    let mut http = http1::Builder::new();
    let head_cap = usize::try_from(limits.max_header_bytes).unwrap_or(usize::MAX);
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(head_cap)
        .max_buf_size(head_cap.max(MIN_READ_BUFFER));
    let router = TowerToHyperService::new(app);
    // Dropping `stop` tells every connection to finish; `all_done.closed()`
    // resolves when every connection task has dropped its `running`.
    let (stop, stopping) = watch::channel(());
    let (all_done, running) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        // The semaphore is never closed.
        let Ok(slot) = slot else { break };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        tokio::spawn(connection(Connection {
            stream,
            peer,
            http: http.clone(),
            router: router.clone(),
            body_timeout: limits.body_timeout,
            slot,
            stopping: stopping.clone(),
            running: running.clone(),
        }));
    }
    drop(listener);
    drop(stop);
    drop(running);
    all_done.closed().await;
}

/// What a connection's task holds.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    http: http1::Builder,
    router: TowerToHyperService<Router>,
    body_timeout: Duration,
    /// Its place under the cap, given back when the task ends.
    slot: OwnedSemaphorePermit,
    /// Changes (its sender is dropped) when the server shuts down.
    stopping: watch::Receiver<()>,
    /// Dropped when the task ends.
    running: watch::Receiver<()>,
}

/// Serves one connection until it closes.
async fn connection(mut c: Connection) {
    let (peer, body_timeout, router) = (c.peer, c.body_timeout, c.router);
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let expired = Arc::new(AtomicBool::new(false));
        let mut request = request.map(|body| {
            // A request without a body (most reads) needs no timer.
            if http_body::Body::is_end_stream(&body) {
                return Body::new(body);
            }
            Body::new(DeadlineBody {
                inner: body,
                deadline: Box::pin(tokio::time::sleep(body_timeout)),
                expired: Arc::clone(&expired),
            })
        });
        request.extensions_mut().insert(ConnectInfo(peer));
        let answer = hyper::service::Service::call(&router, request);
        async move {
            let response = answer.await?;
            Ok::<_, Infallible>(if expired.load(Ordering::Acquire) {
                body_timeout_response(body_timeout)
            } else {
                response
            })
        }
    });
    let mut conn = pin!(c.http.serve_connection(TokioIo::new(c.stream), service));
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                break;
            }
            _ = c.stopping.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
    drop(c.slot);
    drop(c.running);
}

/// 408 `body_timeout`, closing the connection.
fn body_timeout_response(timeout: Duration) -> Response {
    let mut response = Problem::new(
        StatusCode::REQUEST_TIMEOUT,
        "body_timeout",
        format!(
            "the request body did not arrive within {} ms of its headers",
            timeout.as_millis()
        ),
    )
    .with_help("send the whole body at once; the server's --body-timeout-ms sets the time allowed")
    .into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Waits after a failed accept: at once for an error of the one connection,
/// a second for an error of the process (out of file descriptors), as
/// `axum::serve` does.
async fn accept_failed(e: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot accept a connection; retrying in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// The body did not arrive within the body timeout.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTimeout;

/// A request body with a deadline for all of it; `expired` is set when the
/// deadline cut it off.
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<Sleep>>,
    expired: Arc<AtomicBool>,
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.expired.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(BodyTimeout.into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
