//! Requests per API key, or per client address without one.
//!
//! The limiter is [`governor`]'s GCRA (a token bucket without a refill task)
//! with one state per client, used from an axum middleware rather than
//! through `tower_governor`: that layer writes its own `x-ratelimit-*`
//! headers and hands its error handler only the wait, while this server
//! answers with the IETF draft's `RateLimit-Policy` and `RateLimit` fields
//! (draft-ietf-httpapi-ratelimit-headers) on every limited response, which
//! need the remaining burst of the client's own state (governor's
//! [`StateInformationMiddleware`]), and with a [`Problem`] for the 429.
//!
//! The client is the API key the authentication layer found ([`Caller`]:
//! this layer runs after it, so a made-up token cannot buy a fresh bucket),
//! else the peer address, an IPv6 one cut to its /64 (one host's usual
//! share). A request that authentication refuses ([`refused`]) counts too:
//! a 403 against the key that lacks the scope, a 401 (no key, or a made-up
//! token) against its address, so made-up tokens are limited like requests
//! without one and never touch a real key's bucket.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::access::Caller;
use crate::problem::Problem;
use crate::routes::AppState;

/// The largest number of requests `--rate-limit` and `--rate-burst` take.
pub(crate) const MAX_REQUESTS: u32 = 1_000_000;

/// The policy's name in the `RateLimit-Policy` and `RateLimit` fields.
const POLICY: &str = "default";

/// How often the states of clients that are back to a full burst are
/// dropped, so the limiter's memory follows the clients of the last minutes.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers §3).
static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit` (draft-ietf-httpapi-ratelimit-headers §4).
static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// A checked `--rate-limit`: `count` requests per `window`, with a burst.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    count: NonZeroU32,
    window: Window,
    burst: Option<NonZeroU32>,
}

/// The window of a [`Rate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Window {
    Second,
    Minute,
    Hour,
}

impl Window {
    fn seconds(self) -> u32 {
        match self {
            Self::Second => 1,
            Self::Minute => 60,
            Self::Hour => 3600,
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Self::Second => "s",
            Self::Minute => "m",
            Self::Hour => "h",
        }
    }
}

impl Rate {
    /// `N/s`, `N/m` or `N/h` (N from 1 to 1,000,000), or `off` (`None`).
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        if raw == "off" {
            return Ok(None);
        }
        let usage = || {
            format!(
                "{raw:?} is not a rate: give N/s, N/m or N/h with N from 1 to {MAX_REQUESTS} \
                 (such as 100/s), or off"
            )
        };
        let (count, unit) = raw.split_once('/').ok_or_else(usage)?;
        let window = match unit {
            "s" => Window::Second,
            "m" => Window::Minute,
            "h" => Window::Hour,
            _ => return Err(usage()),
        };
        let count = count
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| count.parse::<u32>().ok())
            .flatten()
            .filter(|n| *n <= MAX_REQUESTS)
            .and_then(NonZeroU32::new)
            .ok_or_else(usage)?;
        Ok(Some(Self {
            count,
            window,
            burst: None,
        }))
    }

    /// The rate with `--rate-burst`.
    #[must_use]
    pub fn with_burst(self, burst: NonZeroU32) -> Self {
        Self {
            burst: Some(burst),
            ..self
        }
    }

    /// `--rate-burst`, when given.
    pub fn explicit_burst(&self) -> Option<NonZeroU32> {
        self.burst
    }

    /// The governor quota: one request every window / count, `burst` at once.
    fn quota(&self) -> Option<Quota> {
        let every = Duration::from_secs(u64::from(self.window.seconds())) / self.count.get();
        Quota::with_period(every).map(|q| q.allow_burst(self.burst.unwrap_or(self.count)))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, self.window.unit())
    }
}

/// Who a request counts against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Client {
    /// An API key, by name.
    Key(String),
    /// A peer address (an IPv6 one cut to its /64).
    Address(IpAddr),
    /// A request without a peer address (served without
    /// [`super::serve`]): all such requests share one state.
    Unknown,
}

impl Client {
    fn of(request: &Request) -> Self {
        if let Some(name) = request
            .extensions()
            .get::<Caller>()
            .and_then(|c| c.actor.as_ref())
        {
            return Self::Key(name.clone());
        }
        match request.extensions().get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(peer)) => Self::Address(match peer.ip().to_canonical() {
                IpAddr::V6(ip) => {
                    IpAddr::V6(Ipv6Addr::from_bits(ip.to_bits() & !u128::from(u64::MAX)))
                }
                ip @ IpAddr::V4(_) => ip,
            }),
            None => Self::Unknown,
        }
    }
}

/// The limiter of every client, and the policy it advertises.
pub struct Limiter {
    rate: Rate,
    states: RateLimiter<
        Client,
        DefaultKeyedStateStore<Client>,
        DefaultClock,
        StateInformationMiddleware,
    >,
    policy: HeaderValue,
}

impl Limiter {
    /// A limiter for `rate`, with a task that drops the states of idle
    /// clients every minute while the limiter lives (so it needs a Tokio
    /// runtime).
    pub fn new(rate: Rate) -> Result<Arc<Self>, String> {
        let quota = rate
            .quota()
            .ok_or_else(|| format!("the rate {rate} cannot be enforced"))?;
        let policy = HeaderValue::try_from(format!(
            "\"{POLICY}\";q={};w={}",
            rate.count,
            rate.window.seconds()
        ))
        .map_err(|e| e.to_string())?;
        let limiter = Arc::new(Self {
            rate,
            states: RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
            policy,
        });
        tokio::spawn(sweep(Arc::downgrade(&limiter)));
        Ok(limiter)
    }

    /// Counts one request of `client`: `Ok` with the `RateLimit` field's
    /// value, or `Err` with the seconds to wait.
    fn check(&self, client: &Client) -> Result<HeaderValue, u64> {
        match self.states.check_key(client) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                let burst = state.quota().burst_size().get();
                let refill = state.quota().replenish_interval() * burst.saturating_sub(remaining);
                Ok(service_limit(u64::from(remaining), whole_seconds(refill)))
            }
            Err(refused) => {
                Err(whole_seconds(refused.wait_time_from(self.states.clock().now())).max(1))
            }
        }
    }
}

/// Drops, every [`SWEEP_EVERY`], the states of clients back to a full burst,
/// until the limiter is dropped.
async fn sweep(limiter: Weak<Limiter>) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.tick().await;
    loop {
        every.tick().await;
        let Some(limiter) = limiter.upgrade() else {
            return;
        };
        limiter.states.retain_recent();
        limiter.states.shrink_to_fit();
    }
}

/// A duration in whole seconds, rounded up.
fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The `RateLimit` field: `remaining` requests, all of the burst back in
/// `seconds`.
fn service_limit(remaining: u64, seconds: u64) -> HeaderValue {
    // Digits and ASCII punctuation only: always a valid header value.
    HeaderValue::try_from(format!("\"{POLICY}\";r={remaining};t={seconds}"))
        .unwrap_or_else(|_| HeaderValue::from_static("\"default\";r=0"))
}

/// The middleware: counts every request but `/health` against its client,
/// adds the `RateLimit-Policy` and `RateLimit` fields to the answer, and
/// answers 429 `rate_limited` with `Retry-After` over the limit.
pub(crate) async fn rate_limited(
    State(app): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(limiter) = app.limiter.as_ref() else {
        return next.run(request).await;
    };
    if request.uri().path() == "/health" {
        return next.run(request).await;
    }
    match limiter.check(&Client::of(&request)) {
        Ok(limit) => limiter.advertise(next.run(request).await, limit),
        Err(wait) => limiter.too_many(wait),
    }
}

/// The answer to a request that authentication refused (`refusal`, a 401 or
/// 403): counted against `key` (a known key that lacks the scope), else
/// against the request's address like one without a key, and the 429
/// instead once that is over the limit.
pub(crate) fn refused(
    app: &AppState,
    request: &Request,
    key: Option<String>,
    refusal: Response,
) -> Response {
    let Some(limiter) = app.limiter.as_ref() else {
        return refusal;
    };
    let client = key.map_or_else(|| Client::of(request), Client::Key);
    match limiter.check(&client) {
        Ok(limit) => limiter.advertise(refusal, limit),
        Err(wait) => limiter.too_many(wait),
    }
}

impl Limiter {
    /// `response` with the `RateLimit-Policy` and `RateLimit` (`limit`) fields.
    fn advertise(&self, mut response: Response, limit: HeaderValue) -> Response {
        let headers = response.headers_mut();
        headers.insert(RATELIMIT_POLICY.clone(), self.policy.clone());
        headers.insert(RATELIMIT.clone(), limit);
        response
    }

    /// The 429 `rate_limited` for a client that must `wait` seconds.
    fn too_many(&self, wait: u64) -> Response {
        let rate = self.rate;
        let mut response = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "this client made more requests than the server allows ({rate}, bursts of {}); retry in {wait} s",
                rate.burst.unwrap_or(rate.count)
            ),
        )
        .with_help("wait the seconds of Retry-After; the RateLimit-Policy and RateLimit headers give the limit and what is left (draft-ietf-httpapi-ratelimit-headers)")
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        self.advertise(response, service_limit(0, wait))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_then_a_wait() {
        let rate = Rate::parse("2/m")
            .unwrap()
            .unwrap()
            .with_burst(NonZeroU32::new(3).unwrap());
        let limiter = Limiter::new(rate).unwrap();
        let (a, b) = (Client::Key("a".to_owned()), Client::Key("b".to_owned()));
        assert_eq!(limiter.check(&a).unwrap(), "\"default\";r=2;t=30");
        assert_eq!(limiter.check(&a).unwrap(), "\"default\";r=1;t=60");
        assert_eq!(limiter.check(&a).unwrap(), "\"default\";r=0;t=90");
        let wait = limiter.check(&a).unwrap_err();
        assert!((29..=30).contains(&wait), "{wait}");
        assert_eq!(limiter.check(&b).unwrap(), "\"default\";r=2;t=30");
        assert_eq!(limiter.policy, "\"default\";q=2;w=60");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let request = |peer: &str| {
            let mut request = Request::new(axum::body::Body::empty());
            request
                .extensions_mut()
                .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
            Client::of(&request)
        };
        assert_eq!(request("[2001:db8::1]:1"), request("[2001:db8::2]:2"));
        assert_ne!(request("[2001:db8::1]:1"), request("[2001:db8:0:1::1]:1"));
        assert_eq!(
            request("[::ffff:192.0.2.1]:1"),
            request("192.0.2.1:2"),
            "an IPv4-mapped address is the IPv4 address"
        );
    }
}
