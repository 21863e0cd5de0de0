//! API keys and their scopes (SPEC §8): who may do what, and who did it.
//!
//! A key is a random token of 256 bits that the server shows once; the
//! database keeps only its SHA-256, so a stolen database holds no usable
//! token. Every request that needs a scope looks its key up afresh — a
//! revoke takes effect at once, in every process, with no cache to outlive
//! it. `API_TOKEN` stays: it is the key named `api-token` with every scope,
//! compared in constant time.
//!
//! A server is *open* while it has neither `API_TOKEN` nor an active key:
//! then writes need no key and their events have no `actor`. Reads need the
//! `read` scope only with `--private-reads`.

use std::fmt;
use std::process::ExitCode;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use carbon_tracker_core::Action;
use clap::{Args, Subcommand};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::problem::Problem;
use crate::routes::AppState;
use crate::store::{ApiKey, Store, StoreError};

/// What a key may do (SPEC §8). `admin` includes every other scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Reads, when the server runs with `--private-reads`.
    Read,
    /// `POST /records`, `POST /records/batch`, `POST /imports`.
    Create,
    /// `POST /records/{id}/sell`.
    Trade,
    /// `POST /records/{id}/retire` and `/cancel`.
    Retire,
    /// Everything the other scopes allow.
    Admin,
}

impl Scope {
    /// Every scope, in the order lists show them.
    pub const ALL: [Self; 5] = [
        Self::Read,
        Self::Create,
        Self::Trade,
        Self::Retire,
        Self::Admin,
    ];

    /// Its name: `read`, `create`, `trade`, `retire`, `admin`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Create => "create",
            Self::Trade => "trade",
            Self::Retire => "retire",
            Self::Admin => "admin",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// The scope a lifecycle action needs, wherever it is asked for (its
    /// endpoint, or a row of an import): `sell` needs `trade`; `retire` and
    /// `cancel` need `retire` (SPEC §8).
    pub const fn of_action(action: Action) -> Self {
        match action {
            Action::Sell => Self::Trade,
            Action::Retire | Action::Cancel => Self::Retire,
        }
    }

    /// The scope a request needs: `None` for one anybody may make (`POST
    /// /ids`, `/health`, and reads unless they are private).
    pub fn required(method: &Method, path: &str, private_reads: bool) -> Option<Self> {
        if path == "/health" {
            return None;
        }
        if *method != Method::POST {
            return private_reads.then_some(Self::Read);
        }
        match path {
            "/ids" => None,
            "/records" | "/records/batch" | "/imports" => Some(Self::Create),
            _ if path.ends_with("/sell") => Some(Self::of_action(Action::Sell)),
            _ if path.ends_with("/retire") => Some(Self::of_action(Action::Retire)),
            _ if path.ends_with("/cancel") => Some(Self::of_action(Action::Cancel)),
            // No such endpoint: the router answers 404 or 405; a key is
            // still needed, so that probing says nothing to a stranger.
            _ => Some(Self::Admin),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes, as `keys create --scope` takes it and the database
/// keeps it: comma-separated names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// Every scope (`API_TOKEN`'s).
    pub fn all() -> Self {
        Self(Scope::ALL.to_vec())
    }

    /// Whether these scopes allow `scope` (`admin` allows everything).
    pub fn allow(&self, scope: Scope) -> bool {
        self.0.contains(&scope) || self.0.contains(&Scope::Admin)
    }
}

impl std::str::FromStr for Scopes {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        let mut scopes = Vec::new();
        for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let scope = Scope::parse(&name.to_ascii_lowercase()).ok_or_else(|| {
                format!(
                    "{name:?} is not a scope: use {}",
                    Scope::ALL.map(Scope::as_str).join(", ")
                )
            })?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        if scopes.is_empty() {
            return Err(format!(
                "give at least one scope: {}",
                Scope::ALL.map(Scope::as_str).join(", ")
            ));
        }
        scopes.sort();
        Ok(Self(scopes))
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            &self
                .0
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(","),
        )
    }
}

/// The name `API_TOKEN` goes by, as a key and as the `actor` of its events.
pub const API_TOKEN_NAME: &str = "api-token";

/// Who made a request, for the handlers: the key's name (the events'
/// `actor`), `None` on an open server or for a request that needs no key,
/// and what it may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The key's name.
    pub actor: Option<String>,
    /// The key's scopes; every scope without a key (an open server, or a
    /// request that needs none). A handler whose request does more than its
    /// endpoint's scope (an import that records sales or retirements) checks
    /// the rest against these.
    pub scopes: Scopes,
}

/// No key and no scope: what a handler sees if the authentication layer did
/// not run (it always does), so that a missing layer fails closed.
impl Default for Caller {
    fn default() -> Self {
        Self {
            actor: None,
            scopes: Scopes(Vec::new()),
        }
    }
}

impl Caller {
    /// The caller without a key where none is needed.
    pub fn anyone() -> Self {
        Self {
            actor: None,
            scopes: Scopes::all(),
        }
    }

    /// `Ok` when the caller's scopes allow `scope`; else the 403
    /// `missing_scope` naming it, and `why` it is needed.
    pub fn require(&self, scope: Scope, why: &str) -> Result<(), Problem> {
        if self.scopes.allow(scope) {
            return Ok(());
        }
        let name = self.actor.as_deref().unwrap_or("sent");
        Err(missing_scope(name, &self.scopes, scope, why))
    }
}

/// The 403 for a key `name` with `scopes` that lacks `scope`.
fn missing_scope(name: &str, scopes: &Scopes, scope: Scope, why: &str) -> Problem {
    Problem::new(
        StatusCode::FORBIDDEN,
        "missing_scope",
        format!("the key {name} ({scopes}) lacks the `{scope}` scope {why}"),
    )
    .with_help("ask for a key with that scope: carbon-tracker-server keys create --scope …")
}

/// Access settings of `serve`.
#[derive(Debug, Args)]
pub struct AccessArgs {
    /// Reads (every GET of the API but /health) need a key with the `read`
    /// scope. The page at / and the docs stay public.
    #[arg(long, env = "PRIVATE_READS")]
    pub private_reads: bool,

    /// How long the answer to a request with an `Idempotency-Key` is kept
    /// for its retries, in hours (at least 24, SPEC §8); the server purges
    /// older ones every hour.
    #[arg(long, env = "IDEMPOTENCY_TTL_HOURS", default_value_t = 24,
          value_parser = clap::value_parser!(u32).range(24..=8760))]
    pub idempotency_ttl_hours: u32,

    /// How long a repeat of a request that is still running waits for the
    /// first one's answer (then replays it) before it gets 409
    /// `idempotency_key_in_use`, in milliseconds.
    #[arg(long, env = "IDEMPOTENCY_WAIT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub idempotency_wait_ms: u64,
}

/// `keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Makes a key and prints its token once (only its hash is kept).
    Create {
        /// The key's name: 1 to 64 letters, digits, `.`, `_` or `-`. Events
        /// the key causes name it as their `actor`.
        #[arg(long)]
        name: String,
        /// Comma-separated scopes: read, create, trade, retire, admin.
        #[arg(long)]
        scope: String,
    },
    /// Lists the keys: name, scopes, created, last used, revoked.
    List,
    /// Revokes a key at once; its events keep its name.
    Revoke {
        /// The key's name.
        name: String,
    },
}

/// A key's name: 1 to 64 ASCII letters, digits, `.`, `_`, `-`; not
/// `api-token`, which is `API_TOKEN`'s.
fn check_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !ok {
        return Err(format!(
            "{name:?} is not a key name: 1 to 64 letters, digits, '.', '_' or '-'"
        ));
    }
    // In any case: an `actor` of API-TOKEN would read as API_TOKEN's.
    if name.eq_ignore_ascii_case(API_TOKEN_NAME) {
        return Err(format!(
            "{name:?} is API_TOKEN's name ({API_TOKEN_NAME}, in any case)"
        ));
    }
    Ok(())
}

/// A new token: `ctk_` and 256 random bits in unpadded base64url.
fn new_token() -> Result<String, StoreError> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::unavailable("no randomness for a key", e.to_string()))?;
    Ok(format!(
        "ctk_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// The SHA-256 of a token, as the database keeps it.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether a key's last use is worth noting again (over a minute ago):
/// one write a minute per key, not one per request.
pub fn stale(last_used: Option<OffsetDateTime>) -> bool {
    last_used.is_none_or(|t| OffsetDateTime::now_utc() - t > time::Duration::MINUTE)
}

/// Runs a `keys` subcommand.
#[allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the token and the list go to stdout, notes to stderr"
)]
pub async fn command(store: &dyn Store, command: &KeyCommand) -> Result<ExitCode, String> {
    match command {
        KeyCommand::Create { name, scope } => {
            check_name(name)?;
            let scopes: Scopes = scope.parse()?;
            let token = new_token().map_err(|e| crate::problem::chain(&e))?;
            let key = ApiKey {
                name: name.clone(),
                scopes: scopes.to_string(),
                created_at: OffsetDateTime::now_utc(),
                last_used_at: None,
                revoked_at: None,
            };
            store
                .add_api_key(key, token_hash(&token))
                .await
                .map_err(|e| match e {
                    StoreError::WriteConflict(_) => format!(
                        "a key named {name} exists already, active or revoked: a name stays with its key, \
                         since the events it caused name it as their actor; choose another"
                    ),
                    e => crate::problem::chain(&e),
                })?;
            println!("{token}");
            eprintln!(
                "created the key {name} ({scopes}); the token above is shown only now: \
                 send it as `Authorization: Bearer <token>`"
            );
            Ok(ExitCode::SUCCESS)
        }
        KeyCommand::List => {
            let keys = store
                .api_keys()
                .await
                .map_err(|e| crate::problem::chain(&e))?;
            let time = |t: Option<OffsetDateTime>| {
                t.and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_else(|| "-".to_owned())
            };
            println!("name\tscopes\tcreated\tlast used\trevoked");
            for key in &keys {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    key.name,
                    key.scopes,
                    time(Some(key.created_at)),
                    time(key.last_used_at),
                    time(key.revoked_at)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        KeyCommand::Revoke { name } => {
            if store
                .revoke_api_key(name.clone())
                .await
                .map_err(|e| crate::problem::chain(&e))?
            {
                eprintln!("revoked the key {name}");
                Ok(ExitCode::SUCCESS)
            } else {
                Err(format!(
                    "no active key is named {name}: `keys list` shows the keys and which are revoked"
                ))
            }
        }
    }
}

/// The access settings the router needs.
#[derive(Clone, Debug)]
pub struct Access {
    /// `API_TOKEN`, if set.
    pub api_token: Option<Arc<crate::config::ApiToken>>,
    /// `--private-reads`.
    pub private_reads: bool,
}

/// Checks the caller's key and scope, and hands the handlers the
/// [`Caller`]. The header is read as RFC 6750 §2.1 and RFC 9110 §11 spell
/// it: the scheme in any case, one or more spaces, the token. A 401 says
/// which part is wrong; a 403 names the missing scope.
pub(crate) async fn authorize(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let access = &state.access;
    if request.uri().path() == "/health" {
        request.extensions_mut().insert(Caller::anyone());
        return next.run(request).await;
    }
    let required = Scope::required(request.method(), request.uri().path(), access.private_reads);
    let presented = bearer_token(request.headers().get(header::AUTHORIZATION));
    // A known key refused for a scope it lacks: its refusal counts against
    // it, not against the address.
    let mut refused_key = None;
    let caller = match (presented, required) {
        // Nothing asked for and nothing needed: anybody.
        (Err(Missing), None) => Ok(Caller::anyone()),
        // A read needs `read` only with `--private-reads`, and then a key
        // even while the server has none (nobody reads until a key with
        // `read` exists); an open server takes writes without one.
        (Err(Missing), Some(Scope::Read)) => Err(no_key(Scope::Read)),
        (Err(Missing), Some(scope)) => match is_open(&state).await {
            Ok(true) => Ok(Caller::anyone()),
            Ok(false) => Err(no_key(scope)),
            Err(e) => return Problem::from(e).into_response(),
        },
        (Ok(Err(failure)), _) => Err(unauthorized(failure)),
        // A key sent is checked even where none is needed, so that it
        // counts for its own rate limit and a wrong one is said to be wrong.
        (Ok(Ok(token)), required) => match identify(&state, token).await {
            Ok(Some((name, scopes))) => match required {
                Some(scope) if !scopes.allow(scope) => {
                    let problem = missing_scope(&name, &scopes, scope, "this request needs");
                    refused_key = Some(name);
                    Err(problem)
                }
                _ => Ok(Caller {
                    actor: Some(name),
                    scopes,
                }),
            },
            Ok(None) => Err(unauthorized(
                "the bearer token is not a key of this server (unknown or revoked)".to_owned(),
            )),
            Err(e) => return Problem::from(e).into_response(),
        },
    };
    match caller {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(problem) => {
            let mut response = problem.into_response();
            if response.status() == StatusCode::UNAUTHORIZED {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            crate::limits::refused(&state, &request, refused_key, response)
        }
    }
}

/// The 401 for a request that needs `scope` and sent no key.
fn no_key(scope: Scope) -> Problem {
    unauthorized(format!(
        "this request needs a key with the `{scope}` scope in `Authorization: Bearer <token>`; the request has none"
    ))
}

fn unauthorized(detail: String) -> Problem {
    Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", detail).with_help(
        "send `Authorization: Bearer <token>` with a key from `carbon-tracker-server keys create` \
         or the server's API_TOKEN",
    )
}

/// Whether the server takes writes without a key.
async fn is_open(state: &AppState) -> Result<bool, StoreError> {
    Ok(state.access.api_token.is_none() && !state.store.has_api_keys().await?)
}

/// The name and scopes of the key `token` is, if any.
async fn identify(state: &AppState, token: &str) -> Result<Option<(String, Scopes)>, StoreError> {
    if let Some(api_token) = &state.access.api_token {
        if bool::from(token.as_bytes().ct_eq(api_token.as_bytes())) {
            return Ok(Some((API_TOKEN_NAME.to_owned(), Scopes::all())));
        }
    }
    let Some(key) = state.store.api_key(token_hash(token)).await? else {
        return Ok(None);
    };
    let scopes = key
        .scopes
        .parse()
        .map_err(|e: String| StoreError::corrupt(None, "API key scopes", e))?;
    Ok(Some((key.name, scopes)))
}

/// No `Authorization` header.
struct Missing;

/// The token of an `Authorization: Bearer <token>` header, or what is wrong
/// with the header's spelling.
fn bearer_token(value: Option<&HeaderValue>) -> Result<Result<&str, String>, Missing> {
    let value = value.ok_or(Missing)?;
    Ok(read_bearer(value))
}

fn read_bearer(value: &HeaderValue) -> Result<&str, String> {
    let value = value
        .to_str()
        .map_err(|_| "the Authorization header holds bytes that are not visible ASCII")?
        .trim_matches([' ', '\t']);
    let Some((scheme, token)) = value.split_once([' ', '\t']) else {
        return Err(if value.eq_ignore_ascii_case("bearer") {
            "the Authorization header has the Bearer scheme but no token".to_owned()
        } else {
            "the Authorization header has no scheme: write `Bearer <token>`".to_owned()
        });
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(format!(
            "the Authorization header uses the {scheme:?} scheme; this server takes `Bearer <token>`"
        ));
    }
    Ok(token.trim_start_matches([' ', '\t']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_read_and_write() {
        let scopes: Scopes = " Trade,create ,trade".parse().unwrap_or_default();
        assert_eq!(scopes.to_string(), "create,trade");
        assert!(scopes.allow(Scope::Create) && !scopes.allow(Scope::Retire));
        assert!("admin"
            .parse::<Scopes>()
            .is_ok_and(|s| s.allow(Scope::Retire)));
        assert!("sell"
            .parse::<Scopes>()
            .is_err_and(|e| e.contains("\"sell\"")));
        assert!(",".parse::<Scopes>().is_err());
    }

    #[test]
    fn required_scopes() {
        let post = |p| Scope::required(&Method::POST, p, false);
        assert_eq!(post("/records"), Some(Scope::Create));
        assert_eq!(post("/records/batch"), Some(Scope::Create));
        assert_eq!(post("/imports"), Some(Scope::Create));
        assert_eq!(post("/records/ab/sell"), Some(Scope::Trade));
        assert_eq!(post("/records/ab/retire"), Some(Scope::Retire));
        assert_eq!(post("/records/ab/cancel"), Some(Scope::Retire));
        assert_eq!(post("/ids"), None);
        assert_eq!(Scope::required(&Method::GET, "/records", false), None);
        assert_eq!(
            Scope::required(&Method::GET, "/records", true),
            Some(Scope::Read)
        );
        assert_eq!(Scope::required(&Method::GET, "/health", true), None);
    }

    #[test]
    fn key_names() {
        assert!(check_name("trading-desk_2.eu").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("has space").is_err());
        assert!(check_name(API_TOKEN_NAME).is_err());
        assert!(check_name(&"a".repeat(65)).is_err());
    }

    #[test]
    fn tokens_are_fresh_and_long() {
        let (a, b) = (new_token(), new_token());
        assert!(a.as_ref().is_ok_and(|t| t.len() == 4 + 43));
        assert_ne!(a.ok(), b.ok());
    }
}
