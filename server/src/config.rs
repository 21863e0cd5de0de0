//! Command line and environment: where to listen, which database, the token.
//!
//! Every setting is read as text and checked here, before anything is opened:
//! a value that cannot mean what the operator meant (empty, surrounded by
//! whitespace, an unknown option, a form that another tool reads otherwise)
//! stops the start with one `error:` line that names the setting and says what
//! to do ([`SettingError`]). [`Settings::command_line`] prints the checked
//! configuration in a form that can be pasted back and means the same thing.

use std::fmt;
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::str::FromStr;

use clap::{Parser, Subcommand};
use std::error::Error as _;
use tracing_subscriber::EnvFilter;

/// The reference REST server of Carbon Credit Tracker.
///
/// With no arguments it serves http://127.0.0.1:8000 on the SQLite database
/// ./carbon_credits.db, creating it on first start. Interactive API docs are
/// at /docs, the OpenAPI document at /openapi.json. Logging follows RUST_LOG
/// (default `info`).
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
pub struct Cli {
    /// Database URL, one of:
    ///   sqlite://PATH       a relative path (sqlite://carbon_credits.db, sqlite://data/cc.db)
    ///   sqlite:///./PATH    the original service's SQLAlchemy form: ./ or ../ after three
    ///                       slashes, a relative path
    ///   sqlite:////PATH     an absolute path, /PATH (four slashes, as in SQLAlchemy)
    ///   postgres://USER:PASSWORD@HOST:PORT/DBNAME?sslmode=disable|prefer|require
    ///                       (postgresql:// too; see the README for the options)
    /// Anything else after `sqlite:///` is refused: SQLAlchemy reads it as a
    /// relative path, other tools as an absolute one.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://carbon_credits.db",
        global = true,
        verbatim_doc_comment
    )]
    pub database_url: String,

    /// Most connections this process opens to PostgreSQL, 1 to 1000 (SQLite
    /// ignores it). Keep the sum over all processes below the server's
    /// `max_connections`.
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value = "16", global = true)]
    pub pool_size: String,

    /// Address to listen on: an IP address (127.0.0.1 for this machine only,
    /// 0.0.0.0 or :: for every interface) or a host name; the port goes in
    /// --port.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Port to listen on, 0 to 65535 (0: any free port, printed at start).
    #[arg(long, env = "PORT", default_value = "8000")]
    pub port: String,

    /// When set, every POST except /ids needs `Authorization: Bearer <token>`.
    /// The token is one word of visible ASCII (letters, digits, punctuation);
    /// an empty token, or one with surrounding whitespace (a trailing newline
    /// read from a secret file), is refused at start: unset the variable to
    /// run without authentication.
    #[arg(long, env = "API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,

    /// The file holding the key that signs the log's checkpoints (SPEC §7),
    /// in the C2SP signed-note private key form (`PRIVATE+KEY+…`). Without
    /// it, the server uses the key kept beside the database (`<database
    /// file>.log-key` for SQLite, `carbon-tracker-log.key` in the working
    /// folder for PostgreSQL), creating it on first start and printing its
    /// public key.
    #[arg(long, env = "LOG_KEY_FILE", global = true)]
    pub log_key: Option<PathBuf>,

    /// The log's name (C2SP tlog-checkpoint origin), used when a key is
    /// created: a schema-less URL such as `example.com/carbon-log`. A key
    /// that exists keeps its own name; giving another one is refused.
    #[arg(long, env = "LOG_ORIGIN", global = true)]
    pub log_origin: Option<String>,

    /// Serve without the verifiable log: no leaves or checkpoints are
    /// written and the log's endpoints answer 404 `log_off`. For measuring
    /// what the log costs (BENCHMARKS.md); a log with gaps cannot be
    /// verified, so a server that ran with it cannot be audited.
    #[arg(long)]
    pub no_log: bool,

    /// Webhook delivery (server/README.md, "Webhooks").
    #[command(flatten)]
    pub webhooks: crate::webhooks::WebhookArgs,

    /// Access and retries (README.md, "Write safety and access").
    #[command(flatten)]
    pub access: crate::access::AccessArgs,
    /// Rate limits, timeouts and caps (server/README.md, "Limits").
    #[command(flatten)]
    pub limits: crate::limits::LimitArgs,

    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Loads a file: records (a JSON array, or a CSV naming project_name,
    /// registry, vintage, quantity, serial_number), a registry's own export
    /// (CSV or XLSX from Verra, Gold Standard, ACR, CAR or ART TREES), or
    /// this tracker's export (CSV, JSON lines or XLSX). Every row is checked
    /// before anything is written; a file with a rejected row writes nothing
    /// (see --skip-rejected). Idempotent: rows already there are counted and
    /// left alone. Exits with status 1 if any row was rejected.
    Import {
        /// The file: `.json`, `.csv`, `.xlsx` or `.jsonl`.
        file: PathBuf,
        /// The file's format: auto, records, tracker, verra, gold-standard,
        /// acr, car or art-trees.
        #[arg(long, default_value = "auto")]
        from: String,
        /// Read and check every row and look up what is stored; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Write the rows that pass even when others are rejected.
        #[arg(long)]
        skip_rejected: bool,
        /// Also write the rejected and skipped rows to this CSV file (row,
        /// column, code, message).
        #[arg(long, value_name = "FILE.csv")]
        report: Option<PathBuf>,
    },
    /// Writes every record, with its block, status, holder, lineage and
    /// retirement fields, one row per record; `import` reads it back into
    /// the same ids, statuses, holders and lineage.
    Export {
        /// csv, jsonl or xlsx.
        #[arg(long, value_enum, default_value = "csv")]
        format: crate::export::ExportFormat,
        /// The file to write (standard output when absent; required for xlsx).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Verifies a record's certificate (from `GET /records/{id}/certificate`)
    /// offline, with the core's verifier: the checkpoint's signature by the
    /// key, every inclusion proof, the replay of every history, every id.
    /// Exits 0 when it is valid, 1 with the reason when it is not. Opens no
    /// database.
    Verify {
        /// The certificate (JSON).
        certificate: PathBuf,
        /// The log's public key (the text of `GET /log/key`), or a file holding it.
        #[arg(long)]
        key: String,
        /// A checkpoint you trust from earlier (a signed note file) and the
        /// consistency proof from it to the certificate's (a JSON array of
        /// hex hashes from `GET /log/consistency`), as `NOTE_FILE:PROOF_FILE`.
        #[arg(long)]
        checkpoint: Option<String>,
    },
    /// Recomputes the whole log from the database's events and compares it
    /// with the stored leaves and every stored checkpoint's signed note (its
    /// signature by the log key of --log-key or the default place, then its
    /// root); reports the first leaf that differs. Exits 1 if anything differs.
    Audit,
    /// Lists the stored blocks that share credits with an earlier block
    /// (SPEC §6 forbids it; databases from before that rule may hold some).
    /// They are kept as they are; exits with status 1 if there are any.
    Overlaps,
    /// Manages the API keys and their scopes (SPEC §8; README.md, "Write
    /// safety and access"). Works while the server runs: a revoke takes
    /// effect at once.
    Keys {
        /// What to do.
        #[command(subcommand)]
        command: crate::access::KeyCommand,
    },
    /// Manages the endpoints the server POSTs the event feed to, signed per
    /// the Standard Webhooks specification (server/README.md, "Webhooks").
    Webhooks {
        /// What to do.
        #[command(subcommand)]
        command: crate::webhooks::WebhookCommand,
    },
}

/// The checked configuration.
#[derive(Debug)]
pub struct Settings {
    /// `--database-url`, `DATABASE_URL`.
    pub database: Database,
    /// `--pool-size`, `DATABASE_POOL_SIZE`: 1 to 1000.
    pub pool_size: u16,
    /// `--host`, `HOST`.
    pub host: String,
    /// `--port`, `PORT`.
    pub port: u16,
    /// `--api-token`, `API_TOKEN`.
    pub api_token: Option<ApiToken>,
    /// `--log-key`, `LOG_KEY_FILE`.
    pub log_key: Option<PathBuf>,
    /// `--log-origin`, `LOG_ORIGIN`.
    pub log_origin: Option<String>,
    /// `--no-log`.
    pub no_log: bool,
    /// `--webhook-retry-base-ms`, `--webhook-retry-cap-ms`,
    /// `--webhook-timeout-ms`.
    pub webhooks: crate::webhooks::WebhookSettings,
    /// `--private-reads`.
    pub private_reads: bool,
    /// `--idempotency-ttl-hours`.
    pub idempotency_ttl_hours: u32,
    /// `--idempotency-wait-ms`.
    pub idempotency_wait_ms: u64,
    /// `--rate-limit`, `--rate-burst`, `--header-timeout-ms`,
    /// `--body-timeout-ms`, `--max-connections`, `--max-header-bytes`.
    pub limits: crate::limits::LimitSettings,
}

impl Cli {
    /// Checks every setting; the first that cannot be used is the error.
    pub fn settings(&self) -> Result<Settings, SettingError> {
        Ok(Settings {
            database: setting(
                "DATABASE_URL (--database-url)",
                &self.database_url,
                str::parse,
            )?,
            pool_size: setting("DATABASE_POOL_SIZE (--pool-size)", &self.pool_size, |raw| {
                number(raw, 1, 1000, "a number of connections from 1 to 1000")
            })?,
            host: setting("HOST (--host)", &self.host, parse_host)?,
            port: setting("PORT (--port)", &self.port, |raw| {
                number(
                    raw,
                    0,
                    u16::MAX,
                    "a port from 1 to 65535, or 0 for any free port",
                )
            })?,
            // The token's own checks say what an empty token would mean.
            api_token: self
                .api_token
                .as_deref()
                .map(|raw| {
                    raw.parse().map_err(|e: ApiTokenError| SettingError {
                        setting: "API_TOKEN (--api-token)",
                        problem: e.to_string(),
                    })
                })
                .transpose()?,
            log_key: self
                .log_key
                .as_deref()
                .map(|p| {
                    setting("LOG_KEY_FILE (--log-key)", &p.to_string_lossy(), |raw| {
                        Ok::<_, String>(PathBuf::from(raw))
                    })
                })
                .transpose()?,
            log_origin: self
                .log_origin
                .as_deref()
                .map(|raw| setting("LOG_ORIGIN (--log-origin)", raw, parse_origin))
                .transpose()?,
            no_log: self.no_log,
            webhooks: self.webhooks.settings()?,
            private_reads: self.access.private_reads,
            idempotency_ttl_hours: self.access.idempotency_ttl_hours,
            idempotency_wait_ms: self.access.idempotency_wait_ms,
            limits: self.limits.settings()?,
        })
    }
}

/// A log origin (C2SP tlog-checkpoint): one line of visible ASCII without
/// spaces or `+`, which the signed-note key name cannot hold.
fn parse_origin(raw: &str) -> Result<String, String> {
    if raw.bytes().all(|b| b.is_ascii_graphic() && b != b'+') {
        Ok(raw.to_owned())
    } else {
        Err(
            "a log origin is one word of visible ASCII without '+', such as example.com/carbon-log"
                .to_owned(),
        )
    }
}

impl Settings {
    /// The log's key file: `--log-key`, or the default place beside the
    /// database ([`Database::log_key_path`]).
    pub fn log_key_file(&self) -> PathBuf {
        self.log_key
            .clone()
            .unwrap_or_else(|| self.database.log_key_path())
    }

    /// The configuration as command-line flags that mean the same thing when
    /// pasted back (shell-quoted where needed). The API token and a
    /// PostgreSQL password are never shown.
    pub fn command_line(&self) -> String {
        let mut line = format!(
            "--database-url {} --host {} --port {} --pool-size {}",
            shell_quote(&self.database.to_string()),
            shell_quote(&self.host),
            self.port,
            self.pool_size
        );
        if self.no_log {
            line.push_str(" --no-log");
        }
        line.push_str(&self.webhooks.flags());
        if self.private_reads {
            line.push_str(" --private-reads");
        }
        line.push_str(&format!(
            " --idempotency-ttl-hours {} --idempotency-wait-ms {}",
            self.idempotency_ttl_hours, self.idempotency_wait_ms
        ));
        line.push_str(&self.limits.flags());
        if self.api_token.is_some() {
            line.push_str(" (API_TOKEN set, not shown)");
        }
        line
    }
}

/// The log filter from `RUST_LOG` (`info` when it is not set); an empty or
/// unreadable filter is refused rather than silently logging nothing.
pub fn log_filter() -> Result<EnvFilter, SettingError> {
    let error = |problem: String| SettingError {
        setting: "RUST_LOG",
        problem,
    };
    match std::env::var("RUST_LOG") {
        Err(std::env::VarError::NotPresent) => Ok(EnvFilter::new("info")),
        Err(std::env::VarError::NotUnicode(_)) => Err(error("not valid UTF-8".to_owned())),
        Ok(raw) => setting("RUST_LOG", &raw, |raw| {
            EnvFilter::try_new(raw).map_err(|e| {
                format!("{e}: give a level (error, warn, info, debug, trace) or directives such as carbon_tracker_server=debug")
            })
        }),
    }
}

/// A setting whose value cannot mean what the operator meant: the server
/// refuses to start, with this one line (the value itself is not echoed, so a
/// secret cannot leak into a log).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {problem}")]
pub struct SettingError {
    /// The environment variable and the flag.
    pub setting: &'static str,
    /// What is wrong and what to do.
    pub problem: String,
}

/// A value clap refused for a flag (a `--private-reads` that is not `true`
/// or `false`, a number out of its range) as the one line every other
/// setting's error is: the environment variable and the flag, the value and
/// what it must be. `None` for any other error of the command line, which
/// clap's own message explains with its usage.
pub fn value_error(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        e.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let text = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let arg = text(ContextKind::InvalidArg)?;
    let value = text(ContextKind::InvalidValue)?;
    let flag = arg.split_whitespace().next()?;
    let must = match e.get(ContextKind::ValidValue) {
        Some(ContextValue::Strings(valid)) => format!("is not one of {}", valid.join(", ")),
        _ => format!("is refused: {}", e.source().map(ToString::to_string)?),
    };
    let name = env_of(
        &<Cli as clap::CommandFactory>::command(),
        flag.trim_start_matches('-'),
    )
    .map_or_else(|| flag.to_owned(), |env| format!("{env} ({flag})"));
    Some(format!("{name}: {value:?} {must}"))
}

/// The environment variable of the flag `--long`, in `command` or any of
/// its subcommands.
fn env_of(command: &clap::Command, long: &str) -> Option<String> {
    command
        .get_arguments()
        .find(|a| a.get_long() == Some(long))
        .and_then(|a| a.get_env())
        .map(|env| env.to_string_lossy().into_owned())
        .or_else(|| command.get_subcommands().find_map(|c| env_of(c, long)))
}

/// Reads one setting: empty and surrounding whitespace are refused for every
/// setting alike, then `parse` decides.
pub(crate) fn setting<T, E: fmt::Display>(
    name: &'static str,
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, SettingError> {
    let error = |problem: String| SettingError {
        setting: name,
        problem,
    };
    if raw.is_empty() {
        let variable = name.split(' ').next().unwrap_or(name);
        return Err(error(format!(
            "set but empty: unset {variable} for the default, or give a value"
        )));
    }
    if raw.trim() != raw {
        return Err(error(
            "begins or ends with whitespace (a newline read from a file?): remove it".to_owned(),
        ));
    }
    parse(raw).map_err(|e| error(e.to_string()))
}

/// An integer from `min` to `max`, written in plain decimal digits.
fn number(raw: &str, min: u16, max: u16, what: &str) -> Result<u16, String> {
    raw.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| raw.parse::<u16>().ok())
        .flatten()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("{raw:?} is not {what}"))
}

/// An address to listen on: an IP address (IPv6 with or without brackets) or
/// a host name, without a scheme or a port.
fn parse_host(raw: &str) -> Result<String, String> {
    if raw.contains("://") {
        return Err(format!(
            "{raw:?} is a URL: give only the address, such as 127.0.0.1, and the port in --port"
        ));
    }
    let inner = raw
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(raw);
    if inner.contains(':') {
        return inner
            .parse::<Ipv6Addr>()
            .map(|ip| ip.to_string())
            .map_err(|_| {
                format!(
                    "{raw:?} is not an address: give the port in --port (PORT), not in the host"
                )
            });
    }
    if inner
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        Ok(inner.to_owned())
    } else {
        Err(format!(
            "{raw:?} is not an IP address or host name: use letters, digits, dots and hyphens"
        ))
    }
}

/// `value` as one shell word: bare when it holds only characters no shell
/// treats specially, single-quoted otherwise.
fn shell_quote(value: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c);
    if !value.is_empty() && value.chars().all(plain) {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

/// The bearer token writes need (`--api-token`, `API_TOKEN`).
///
/// Only tokens a client can send as `Authorization: Bearer <token>` (RFC 6750
/// §2.1: one word, visible ASCII) are accepted, so a configured token always
/// means "writes need this token": an empty value can never compare equal to
/// a missing header, and a token with a stray newline cannot lock every
/// client out. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl ApiToken {
    /// The token's bytes, for the constant-time comparison.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(…)")
    }
}

/// An `API_TOKEN` that cannot mean what the operator meant.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiTokenError {
    /// Set but empty, as a compose file gives for an unset variable.
    #[error(
        "the token is empty: unset API_TOKEN to run without authentication, or give the token"
    )]
    Empty,
    /// Leading or trailing whitespace.
    #[error(
        "the token begins or ends with whitespace (a newline read from a secret file?): remove it"
    )]
    Whitespace,
    /// A character a client cannot send in the header.
    #[error("the token holds {0:?}, which a client cannot send in `Authorization: Bearer <token>`: use letters, digits and punctuation only")]
    Unsendable(char),
}

impl FromStr for ApiToken {
    type Err = ApiTokenError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        if raw.is_empty() {
            return Err(ApiTokenError::Empty);
        }
        if raw.trim() != raw {
            return Err(ApiTokenError::Whitespace);
        }
        if let Some(c) = raw.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(ApiTokenError::Unsendable(c));
        }
        Ok(Self(raw.to_owned()))
    }
}

/// Which database to use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl Database {
    /// Where the log's signing key is kept when no `--log-key` is given:
    /// beside a SQLite file, in the working folder for PostgreSQL.
    pub fn log_key_path(&self) -> PathBuf {
        match self {
            Self::Sqlite(path) => {
                let mut name = path.clone().into_os_string();
                name.push(".log-key");
                PathBuf::from(name)
            }
            Self::Postgres(_) => PathBuf::from("carbon-tracker-log.key"),
        }
    }
}

/// A `DATABASE_URL` that cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseUrlError {
    /// Neither `sqlite://` nor `postgres(ql)://`.
    #[error("unknown database URL scheme in {0:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnknownScheme(String),
    /// `sqlite://` naming no file.
    #[error("{0:?} names no file: use e.g. sqlite://carbon_credits.db")]
    NoPath(String),
    /// `sqlite:///name`: relative to SQLAlchemy, absolute to other tools.
    #[error("{url:?} is ambiguous: SQLAlchemy reads it as the relative path {path}, other tools as /{path}; write sqlite://{path} (or sqlite:///./{path}) for the relative path, sqlite:////{path} for the absolute one")]
    Ambiguous {
        /// The URL.
        url: String,
        /// What follows the third slash.
        path: String,
    },
    /// `?options` or `#fragment`, which SQLite URLs here do not take.
    #[error("{0:?}: a SQLite URL here takes no ?options or #fragment, and percent-escapes are not decoded; give the file's path as it is")]
    SqliteOptions(String),
    /// `~`, which no shell expands inside a URL.
    #[error("{0:?}: ~ is not expanded inside a URL; give the home directory's absolute path (sqlite:////home/…)")]
    Tilde(String),
    /// A PostgreSQL URL the driver cannot use as meant.
    #[error("invalid PostgreSQL URL: {0}")]
    Postgres(String),
}

impl FromStr for Database {
    type Err = DatabaseUrlError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        // Schemes are case-insensitive (RFC 3986 §3.1).
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| DatabaseUrlError::UnknownScheme(url.to_owned()))?;
        match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => {
                let url = format!("{}://{rest}", scheme.to_ascii_lowercase());
                crate::store::postgres::parse_url(&url).map_err(DatabaseUrlError::Postgres)?;
                Ok(Self::Postgres(url))
            }
            "sqlite" => sqlite_path(url, rest).map(Self::Sqlite),
            _ => Err(DatabaseUrlError::UnknownScheme(url.to_owned())),
        }
    }
}

/// The file of a SQLite URL, `rest` being what follows `sqlite://`.
fn sqlite_path(url: &str, rest: &str) -> Result<PathBuf, DatabaseUrlError> {
    if rest.contains(['?', '#', '%']) {
        return Err(DatabaseUrlError::SqliteOptions(url.to_owned()));
    }
    let path = match rest.strip_prefix('/') {
        // `sqlite:////absolute`, SQLAlchemy's form.
        Some(absolute) if absolute.starts_with('/') => absolute,
        // `sqlite:///./relative`, the original service's form.
        Some(relative) if relative.starts_with("./") || relative.starts_with("../") => relative,
        Some(other) if !other.is_empty() && !other.ends_with('/') => {
            return Err(DatabaseUrlError::Ambiguous {
                url: url.to_owned(),
                path: other.to_owned(),
            })
        }
        Some(_) => "",
        None => rest,
    };
    if path.is_empty() || path.ends_with('/') || path.ends_with("/.") || path == "." {
        return Err(DatabaseUrlError::NoPath(url.to_owned()));
    }
    if path.starts_with('~') {
        return Err(DatabaseUrlError::Tilde(url.to_owned()));
    }
    Ok(PathBuf::from(path))
}

impl fmt::Display for Database {
    /// The URL in a form [`FromStr`] reads back to the same database; a
    /// PostgreSQL password is left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // An absolute path starts with `/`, which makes the four slashes.
            Self::Sqlite(path) if path.is_absolute() => write!(f, "sqlite:///{}", path.display()),
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(url) => f.write_str(&without_password(url)),
        }
    }
}

/// A PostgreSQL URL without its password (in the user part or as the
/// `password` option): everything else stays, so it points at the same
/// database with the same options.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{user}@{hosts}")
        }
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|pair| !pair.starts_with("password="))
                .collect();
            if kept.is_empty() {
                path.to_owned()
            } else {
                format!("{path}?{}", kept.join("&"))
            }
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        let sqlite = |p: &str| Ok(Database::Sqlite(PathBuf::from(p)));
        assert_eq!(
            "sqlite://carbon_credits.db".parse(),
            sqlite("carbon_credits.db")
        );
        assert_eq!("SQLite://cc.db".parse(), sqlite("cc.db"));
        assert_eq!(
            "sqlite:///./carbon_credits.db".parse(),
            sqlite("./carbon_credits.db")
        );
        assert_eq!("sqlite:///../cc.db".parse(), sqlite("../cc.db"));
        assert_eq!("sqlite:////var/lib/cc.db".parse(), sqlite("/var/lib/cc.db"));
        assert_eq!("sqlite://data/cc.db".parse(), sqlite("data/cc.db"));
        assert!(matches!(
            "postgresql://u:p@h/db".parse(),
            Ok(Database::Postgres(_))
        ));
        assert_eq!(
            "Postgres://h/db".parse(),
            Ok(Database::Postgres("postgres://h/db".to_owned()))
        );
        let refused = |url: &str| url.parse::<Database>().err();
        assert!(matches!(
            refused("mysql://h/db"),
            Some(DatabaseUrlError::UnknownScheme(_))
        ));
        assert!(matches!(
            refused("sqlite:cc.db"),
            Some(DatabaseUrlError::UnknownScheme(_))
        ));
        for url in [
            "sqlite://",
            "sqlite:///",
            "sqlite:////",
            "sqlite://data/",
            "sqlite:///./",
        ] {
            assert!(
                matches!(refused(url), Some(DatabaseUrlError::NoPath(_))),
                "{url}"
            );
        }
        assert!(matches!(
            refused("sqlite:///var/lib/cc.db"),
            Some(DatabaseUrlError::Ambiguous { .. })
        ));
        for url in [
            "sqlite://cc.db?mode=ro",
            "sqlite://my%20cc.db",
            "sqlite://cc.db#x",
        ] {
            assert!(
                matches!(refused(url), Some(DatabaseUrlError::SqliteOptions(_))),
                "{url}"
            );
        }
        assert!(matches!(
            refused("sqlite://~/cc.db"),
            Some(DatabaseUrlError::Tilde(_))
        ));
        for url in [
            "postgres://h/db?sslmode=verify-full",
            "postgres://h/db?connect_timeout=0",
            "postgres://h/db?connect_timeout=-1",
            "postgres://h/db?no_such_option=1",
        ] {
            assert!(
                matches!(refused(url), Some(DatabaseUrlError::Postgres(_))),
                "{url}"
            );
        }
    }

    #[test]
    fn database_urls_print_back_to_themselves() {
        for url in [
            "sqlite://carbon_credits.db",
            "sqlite:///./carbon_credits.db",
            "sqlite:////var/lib/cc.db",
            "sqlite://data/cc.db",
            "postgres://u@h:5433/db?sslmode=require&connect_timeout=3",
        ] {
            let db: Database = url.parse().unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(db.to_string().parse::<Database>(), Ok(db), "{url}");
        }
    }

    #[test]
    fn hosts_and_numbers() {
        assert_eq!(parse_host("0.0.0.0"), Ok("0.0.0.0".to_owned()));
        assert_eq!(parse_host("[::1]"), Ok("::1".to_owned()));
        assert_eq!(parse_host("::"), Ok("::".to_owned()));
        assert_eq!(parse_host("my-host.local"), Ok("my-host.local".to_owned()));
        for bad in ["localhost:8000", "http://localhost", "a host", "[::1]:80"] {
            assert!(parse_host(bad).is_err(), "{bad}");
        }
        assert_eq!(number("8000", 0, u16::MAX, "x"), Ok(8000));
        for bad in ["+80", "-1", "65536", "8e3", "0x50"] {
            assert!(number(bad, 0, u16::MAX, "x").is_err(), "{bad}");
        }
        assert!(number("0", 1, 1000, "x").is_err());
        assert!(number("1001", 1, 1000, "x").is_err());
    }

    #[test]
    fn shell_words() {
        assert_eq!(shell_quote("sqlite://cc.db"), "sqlite://cc.db");
        assert_eq!(
            shell_quote("postgres://h/db?a=1&b=2"),
            "'postgres://h/db?a=1&b=2'"
        );
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn api_tokens() {
        assert_eq!("".parse::<ApiToken>(), Err(ApiTokenError::Empty));
        assert_eq!(
            "s3cret\n".parse::<ApiToken>(),
            Err(ApiTokenError::Whitespace)
        );
        assert_eq!(
            " s3cret".parse::<ApiToken>(),
            Err(ApiTokenError::Whitespace)
        );
        assert_eq!(
            "s3 cret".parse::<ApiToken>(),
            Err(ApiTokenError::Unsendable(' '))
        );
        assert_eq!(
            "sécret".parse::<ApiToken>(),
            Err(ApiTokenError::Unsendable('é'))
        );
        assert_eq!(
            "s3cret-._~+/="
                .parse::<ApiToken>()
                .map(|t| t.as_bytes().to_vec()),
            Ok(b"s3cret-._~+/=".to_vec())
        );
        assert!(!format!("{:?}", "s3cret".parse::<ApiToken>()).contains("s3cret"));
    }

    #[test]
    fn postgres_password_is_not_shown() {
        for url in [
            "postgres://u:secret@db.example/cc",
            "postgres://u:secret@db.example",
            "postgres://u@db.example/cc?password=secret&sslmode=disable",
        ] {
            let shown = Database::Postgres(url.to_owned()).to_string();
            assert!(!shown.contains("secret"), "{shown}");
            assert!(shown.starts_with("postgres://u@db.example"), "{shown}");
        }
    }
}
