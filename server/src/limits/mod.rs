//! Limits on what one client can take from the server (server/README.md,
//! "Limits"):
//!
//! - `rate`: requests per API key, or per client address without one
//!   (`--rate-limit`, `--rate-burst`), answered over the limit with 429
//!   `rate_limited`, `Retry-After` and the IETF draft's `RateLimit` headers;
//! - `serve`: the HTTP/1 connection loop, with a header read timeout, a
//!   body read timeout, a cap on the size of a request's head and a cap on
//!   open connections, which `axum::serve` does not expose;
//! - here: the flags and their checks.

mod rate;
mod serve;

use std::num::NonZeroU32;
use std::time::Duration;

use clap::Args;

use crate::config::{setting, SettingError};
pub(crate) use rate::{rate_limited, refused};
pub use rate::{Limiter, Rate};
pub use serve::serve;

/// The flags of the limits (`serve` only).
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// Requests each API key may make (the bearer token of `Authorization:
    /// Bearer`, not checked here), or each client address without one: N/s,
    /// N/m or N/h, such as 100/s; `off` for no limit. A client over it gets
    /// 429 with Retry-After. /health is never limited.
    #[arg(long, env = "RATE_LIMIT", default_value = "off")]
    pub rate_limit: String,

    /// Requests a client may make at once after being idle, above the steady
    /// rate of --rate-limit (default: N, one window's worth).
    #[arg(long, env = "RATE_BURST")]
    pub rate_burst: Option<String>,

    /// How long a client may take to send a request's head (request line and
    /// headers), in milliseconds; the connection is closed after it. Also how
    /// long an idle keep-alive connection stays open.
    #[arg(long, env = "HEADER_TIMEOUT_MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    pub header_timeout_ms: u64,

    /// How long a client may take to send a request's whole body, in
    /// milliseconds, counted from the end of its head: a slower body is
    /// answered 408 and the connection closed.
    #[arg(long, env = "BODY_TIMEOUT_MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    pub body_timeout_ms: u64,

    /// Most connections open at once; further clients wait in the listen
    /// queue until one closes.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,

    /// Largest request head (request line and headers) in bytes; a larger
    /// one is answered 431 and the connection closed.
    #[arg(long, env = "MAX_HEADER_BYTES", default_value_t = 16_384,
          value_parser = clap::value_parser!(u32).range(1_024..=1_048_576))]
    pub max_header_bytes: u32,
}

/// The checked limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitSettings {
    /// `--rate-limit` and `--rate-burst`; `None` when off.
    pub rate: Option<Rate>,
    /// `--header-timeout-ms`.
    pub header_timeout: Duration,
    /// `--body-timeout-ms`.
    pub body_timeout: Duration,
    /// `--max-connections`.
    pub max_connections: u32,
    /// `--max-header-bytes`.
    pub max_header_bytes: u32,
}

/// The defaults, for [`LimitSettings::flags`].
const DEFAULT_TIMEOUT_MS: u64 = 30_000;
const DEFAULT_MAX_CONNECTIONS: u32 = 512;
const DEFAULT_MAX_HEADER_BYTES: u32 = 16_384;

impl LimitArgs {
    /// Checks the limits.
    pub fn settings(&self) -> Result<LimitSettings, SettingError> {
        let rate = setting("RATE_LIMIT (--rate-limit)", &self.rate_limit, Rate::parse)?;
        let burst = self
            .rate_burst
            .as_deref()
            .map(|raw| setting("RATE_BURST (--rate-burst)", raw, parse_burst))
            .transpose()?;
        let rate = match (rate, burst) {
            (Some(rate), Some(burst)) => Some(rate.with_burst(burst)),
            (rate, None) => rate,
            (None, Some(_)) => return Err(SettingError {
                setting: "RATE_BURST (--rate-burst)",
                problem:
                    "a burst needs a rate: give --rate-limit (RATE_LIMIT) too, or unset RATE_BURST"
                        .to_owned(),
            }),
        };
        Ok(LimitSettings {
            rate,
            header_timeout: Duration::from_millis(self.header_timeout_ms),
            body_timeout: Duration::from_millis(self.body_timeout_ms),
            max_connections: self.max_connections,
            max_header_bytes: self.max_header_bytes,
        })
    }
}

/// `--rate-burst`: a number of requests from 1 to 1,000,000.
fn parse_burst(raw: &str) -> Result<NonZeroU32, String> {
    raw.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| raw.parse::<u32>().ok())
        .flatten()
        .filter(|n| *n <= rate::MAX_REQUESTS)
        .and_then(NonZeroU32::new)
        .ok_or_else(|| format!("{raw:?} is not a number of requests from 1 to 1000000"))
}

impl LimitSettings {
    /// The flags that set these limits, each with a leading space; empty for
    /// the defaults (for [`crate::config::Settings::command_line`]).
    pub fn flags(&self) -> String {
        let mut flags = String::new();
        if let Some(rate) = &self.rate {
            flags.push_str(&format!(" --rate-limit {rate}"));
            if let Some(burst) = rate.explicit_burst() {
                flags.push_str(&format!(" --rate-burst {burst}"));
            }
        }
        for (flag, value) in [
            ("--header-timeout-ms", self.header_timeout),
            ("--body-timeout-ms", self.body_timeout),
        ] {
            if value != Duration::from_millis(DEFAULT_TIMEOUT_MS) {
                flags.push_str(&format!(" {flag} {}", value.as_millis()));
            }
        }
        if self.max_connections != DEFAULT_MAX_CONNECTIONS {
            flags.push_str(&format!(" --max-connections {}", self.max_connections));
        }
        if self.max_header_bytes != DEFAULT_MAX_HEADER_BYTES {
            flags.push_str(&format!(" --max-header-bytes {}", self.max_header_bytes));
        }
        flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(rate: &str, burst: Option<&str>) -> LimitArgs {
        LimitArgs {
            rate_limit: rate.to_owned(),
            rate_burst: burst.map(str::to_owned),
            header_timeout_ms: DEFAULT_TIMEOUT_MS,
            body_timeout_ms: DEFAULT_TIMEOUT_MS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
        }
    }

    #[test]
    fn rates_are_read_and_written_back() {
        let off = args("off", None).settings().unwrap();
        assert_eq!(off.rate, None);
        assert_eq!(off.flags(), "");
        let limited = args("100/s", Some("200")).settings().unwrap();
        assert_eq!(limited.flags(), " --rate-limit 100/s --rate-burst 200");
        let per_minute = args("60/m", None).settings().unwrap();
        assert_eq!(per_minute.flags(), " --rate-limit 60/m");
    }

    #[test]
    fn bad_rates_name_the_flag() {
        for (rate, burst, setting) in [
            ("100", None, "RATE_LIMIT (--rate-limit)"),
            ("0/s", None, "RATE_LIMIT (--rate-limit)"),
            ("100/d", None, "RATE_LIMIT (--rate-limit)"),
            ("1000001/s", None, "RATE_LIMIT (--rate-limit)"),
            (" 100/s", None, "RATE_LIMIT (--rate-limit)"),
            ("100/s", Some("0"), "RATE_BURST (--rate-burst)"),
            ("100/s", Some("-1"), "RATE_BURST (--rate-burst)"),
            ("off", Some("10"), "RATE_BURST (--rate-burst)"),
        ] {
            let error = args(rate, burst).settings().unwrap_err();
            assert_eq!(error.setting, setting, "{rate} {burst:?}");
        }
    }
}
