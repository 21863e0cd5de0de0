//! Signed webhooks: the event feed (`GET /events`) POSTed to registered
//! endpoints, in feed order, signed per the Standard Webhooks specification,
//! at least once, from a durable cursor per endpoint. How it works and how a
//! receiver checks a signature: server/README.md, "Webhooks".
//!
//! - [`store`]: what the database keeps (endpoints, cursors, the delivery
//!   log), a trait each backend implements in a file of its own;
//! - `sign`: secrets and signatures;
//! - [`deliver`]: the worker `serve` runs;
//! - here: the `webhooks` subcommands and the checks of what they are given.

pub mod deliver;
pub(crate) mod sign;
pub mod store;

use std::process::ExitCode;
use std::time::Duration;

use carbon_tracker_core::lifecycle::EventType;
use clap::{Args, Subcommand};
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::config::SettingError;
use crate::store::{BoxError, Store};
pub use deliver::Deliverer;
pub use store::WebhookStore;
use store::{types_text, NewEndpoint};

/// `webhooks …`: manage the endpoints `serve` delivers the event feed to.
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Registers an endpoint and prints its signing secret, once. A running
    /// server starts delivering to it within a second: every event stored
    /// after this command (or every event, with --from-start), in feed order.
    Add {
        /// Where to POST events: an http:// or https:// URL.
        url: String,
        /// The event types to deliver, comma-separated: CREATED, SOLD,
        /// RETIRED, CANCELLED, SPLIT (default: all).
        #[arg(long)]
        events: Option<String>,
        /// Deliver the whole feed from its first event, not only what comes
        /// after this command.
        #[arg(long)]
        from_start: bool,
    },
    /// Lists the endpoints: URL, event types, when added, and the last event
    /// delivered or skipped. Secrets are not shown.
    List,
    /// Removes an endpoint and its delivery log.
    Remove {
        /// The endpoint's URL, as added.
        url: String,
    },
    /// Shows an endpoint's latest delivery attempts, oldest first: time,
    /// event id, attempt, HTTP status or error.
    Deliveries {
        /// The endpoint's URL, as added.
        url: String,
        /// How many of the latest attempts to show.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Delivers again every event after EVENT_ID (or every event, with
    /// --from-start), in feed order, then goes on with new events.
    #[command(group(clap::ArgGroup::new("start").required(true).args(["after", "from_start"])))]
    Replay {
        /// The endpoint's URL, as added.
        url: String,
        /// The event after which to deliver again.
        #[arg(long, value_name = "EVENT_ID")]
        after: Option<String>,
        /// Deliver again from the feed's first event.
        #[arg(long)]
        from_start: bool,
    },
}

/// Delivery settings of `serve`.
#[derive(Debug, Args)]
pub struct WebhookArgs {
    /// Webhook retries: the first retry waits up to this many milliseconds
    /// (a random time, "full jitter"), each later one up to twice as long as
    /// the one before, up to --webhook-retry-cap-ms.
    #[arg(long, env = "WEBHOOK_RETRY_BASE_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub webhook_retry_base_ms: u64,

    /// Webhook retries: the longest wait between two attempts, in
    /// milliseconds (default 5 minutes).
    #[arg(long, env = "WEBHOOK_RETRY_CAP_MS", default_value_t = 300_000,
          value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub webhook_retry_cap_ms: u64,

    /// Webhook deliveries: how long one POST may take, in milliseconds,
    /// before it counts as failed and is retried.
    #[arg(long, env = "WEBHOOK_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub webhook_timeout_ms: u64,
}

/// The checked delivery settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WebhookSettings {
    /// The first retry's longest wait.
    pub retry_base: Duration,
    /// The longest wait between attempts.
    pub retry_cap: Duration,
    /// How long one POST may take.
    pub timeout: Duration,
}

impl WebhookArgs {
    /// Checks the delivery settings.
    pub fn settings(&self) -> Result<WebhookSettings, SettingError> {
        if self.webhook_retry_cap_ms < self.webhook_retry_base_ms {
            return Err(SettingError {
                setting: "WEBHOOK_RETRY_CAP_MS (--webhook-retry-cap-ms)",
                problem: format!(
                    "{} ms is less than the base, {} ms: give a cap at least as long",
                    self.webhook_retry_cap_ms, self.webhook_retry_base_ms
                ),
            });
        }
        Ok(WebhookSettings {
            retry_base: Duration::from_millis(self.webhook_retry_base_ms),
            retry_cap: Duration::from_millis(self.webhook_retry_cap_ms),
            timeout: Duration::from_millis(self.webhook_timeout_ms),
        })
    }
}

impl WebhookSettings {
    /// The flags that set these settings, each with a leading space; empty
    /// for the defaults (for [`crate::config::Settings::command_line`]).
    pub fn flags(&self) -> String {
        let mut flags = String::new();
        for (flag, value, default) in [
            ("--webhook-retry-base-ms", self.retry_base, 1_000),
            ("--webhook-retry-cap-ms", self.retry_cap, 300_000),
            ("--webhook-timeout-ms", self.timeout, 10_000),
        ] {
            if value != Duration::from_millis(default) {
                flags.push_str(&format!(" {flag} {}", value.as_millis()));
            }
        }
        flags
    }
}

/// A command's error that names what was wrong.
fn bad(message: String) -> BoxError {
    message.into()
}

/// An endpoint URL: absolute http or https with a host, no credentials or
/// fragment; returned normalised (as the `url` crate writes it), the form
/// stored and looked up.
pub fn parse_url(raw: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(raw).map_err(|e| {
        format!("{raw:?} is not a URL ({e}): give an absolute http:// or https:// URL")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "{raw:?} has the scheme {:?}: webhooks are delivered over http:// or https:// only",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{raw:?} names no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{raw:?} holds credentials: they would be shown by `webhooks list`; \
             the signature authenticates deliveries instead"
        ));
    }
    if url.fragment().is_some() {
        return Err(format!(
            "{raw:?} has a #fragment, which is never sent: remove it"
        ));
    }
    Ok(url.to_string())
}

/// `--events`: comma-separated event type names (any case), at least one,
/// each once; `None` means all.
pub fn parse_event_types(raw: Option<&str>) -> Result<Vec<EventType>, String> {
    let Some(raw) = raw else {
        return Ok(EventType::ALL.to_vec());
    };
    let mut types = Vec::new();
    for name in raw.split(',') {
        let name = name.trim();
        let known = EventType::parse(&name.to_ascii_uppercase()).ok_or_else(|| {
            format!(
                "--events: unknown event type {name:?}: give a comma-separated list of {}",
                types_text(&EventType::ALL).replace(',', ", ")
            )
        })?;
        if !types.contains(&known) {
            types.push(known);
        }
    }
    Ok(types)
}

/// Runs a `webhooks` subcommand.
#[allow(
    clippy::print_stdout,
    reason = "the webhooks commands print their answers on stdout"
)]
pub async fn command(
    store: &dyn Store,
    hooks: &dyn WebhookStore,
    command: &WebhookCommand,
) -> Result<ExitCode, BoxError> {
    match command {
        WebhookCommand::Add {
            url,
            events,
            from_start,
        } => {
            let url = parse_url(url).map_err(bad)?;
            let event_types = parse_event_types(events.as_deref()).map_err(bad)?;
            let cursor = if *from_start {
                None
            } else {
                hooks.last_event().await?
            };
            let secret =
                sign::new_secret().map_err(|e| bad(format!("cannot draw a random secret: {e}")))?;
            let added = hooks
                .add_endpoint(NewEndpoint {
                    url: url.clone(),
                    secret,
                    event_types,
                    cursor,
                })
                .await?
                .ok_or_else(|| {
                    bad(format!(
                        "{url} is already registered: `webhooks remove` it first to change it"
                    ))
                })?;
            println!(
                "added {} (events: {}), delivering {}",
                added.url,
                types_text(&added.event_types),
                match added.cursor {
                    Some(after) => format!("every event after {after}"),
                    None => "every event of the feed".to_owned(),
                }
            );
            println!("secret: {}", added.secret);
            println!("(keep the secret now: it is not shown again)");
            Ok(ExitCode::SUCCESS)
        }
        WebhookCommand::List => {
            for e in hooks.endpoints().await? {
                println!(
                    "{}\tevents={}\tadded={}\tlast={}",
                    e.url,
                    types_text(&e.event_types),
                    e.created_at.format(&Rfc3339).unwrap_or_default(),
                    e.cursor.map_or_else(|| "-".to_owned(), |c| c.to_string())
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        WebhookCommand::Remove { url } => {
            let url = parse_url(url).map_err(bad)?;
            if hooks.remove_endpoint(&url).await? {
                println!("removed {url}");
                Ok(ExitCode::SUCCESS)
            } else {
                Err(unknown(&url))
            }
        }
        WebhookCommand::Deliveries { url, limit } => {
            let endpoint = find(hooks, url).await?;
            for d in hooks.deliveries(endpoint.id, *limit).await? {
                let outcome = match (d.status, &d.error) {
                    (Some(status), _) => status.to_string(),
                    (None, Some(error)) => format!("error: {error}"),
                    (None, None) => "error".to_owned(),
                };
                println!(
                    "{}\t{}\tattempt={}\t{outcome}",
                    d.at.format(&Rfc3339).unwrap_or_default(),
                    d.event,
                    d.attempt
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        WebhookCommand::Replay {
            url,
            after,
            from_start,
        } => {
            let endpoint = find(hooks, url).await?;
            let after = match (after, from_start) {
                (Some(raw), false) => {
                    let id = Uuid::parse_str(raw.trim()).map_err(|_| {
                        bad(format!("--after: {raw:?} is not an event id (a UUID)"))
                    })?;
                    if store.feed(Some(id), 1).await?.is_none() {
                        return Err(bad(format!("--after: no event has the id {id}")));
                    }
                    Some(id)
                }
                _ => None,
            };
            hooks.rewind(endpoint.id, after).await?;
            println!(
                "{} will receive again {}",
                endpoint.url,
                after.map_or_else(
                    || "every event of the feed".to_owned(),
                    |id| format!("every event after {id}")
                )
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn unknown(url: &str) -> BoxError {
    bad(format!(
        "no webhook endpoint has the URL {url}: `webhooks list` shows them"
    ))
}

/// The endpoint with this URL.
async fn find(hooks: &dyn WebhookStore, raw: &str) -> Result<store::Endpoint, BoxError> {
    let url = parse_url(raw).map_err(bad)?;
    hooks
        .endpoints()
        .await?
        .into_iter()
        .find(|e| e.url == url)
        .ok_or_else(|| unknown(&url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://127.0.0.1:9000/hook").as_deref(),
            Ok("http://127.0.0.1:9000/hook")
        );
        assert_eq!(
            parse_url("HTTPS://Example.com").as_deref(),
            Ok("https://example.com/")
        );
        for bad in [
            "ftp://example.com/",
            "example.com/hook",
            "http://",
            "http://u:p@example.com/",
            "http://example.com/#x",
            "mailto:a@b.c",
            "",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn event_types() {
        assert_eq!(parse_event_types(None), Ok(EventType::ALL.to_vec()));
        assert_eq!(
            parse_event_types(Some("RETIRED,sold,RETIRED")),
            Ok(vec![EventType::Retired, EventType::Sold])
        );
        let err = parse_event_types(Some("RETIRED,RETIRE")).unwrap_err();
        assert!(err.contains("\"RETIRE\""), "{err}");
        assert!(parse_event_types(Some("")).is_err());
        assert!(parse_event_types(Some("SOLD,")).is_err());
    }
}
