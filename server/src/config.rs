//! Command line and environment: where to listen, which database, the token.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use clap::{Parser, Subcommand};

/// The reference REST server of Carbon Credit Tracker.
///
/// With no arguments it serves http://127.0.0.1:8000 on the SQLite database
/// ./carbon_credits.db, creating it on first start. Interactive API docs are
/// at /docs, the OpenAPI document at /openapi.json.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
pub struct Cli {
    /// Database URL: `sqlite://PATH` (a relative or absolute path), the
    /// original service's `sqlite:///./PATH` (SQLAlchemy form: three slashes
    /// then a relative path, four for an absolute one), or
    /// `postgres://…` / `postgresql://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://carbon_credits.db",
        global = true
    )]
    pub database_url: Database,

    /// Most connections this process opens to PostgreSQL (SQLite ignores
    /// it). Keep the sum over all processes below the server's
    /// `max_connections`.
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value_t = 16, global = true,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub pool_size: u16,

    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 8000)]
    pub port: u16,

    /// When set, every POST except /ids needs `Authorization: Bearer <token>`.
    /// The token is one word of visible ASCII (letters, digits, punctuation);
    /// an empty token, or one with surrounding whitespace (a trailing newline
    /// read from a secret file), is refused at start: unset the variable to
    /// run without authentication.
    #[arg(long, env = "API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,

    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The API token, checked: see [`ApiToken`].
    pub fn api_token(&self) -> Result<Option<ApiToken>, SettingError> {
        self.api_token
            .as_deref()
            .map(|raw| {
                raw.parse().map_err(|e: ApiTokenError| SettingError {
                    setting: "API_TOKEN (--api-token)",
                    problem: e.to_string(),
                })
            })
            .transpose()
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

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Loads records from a JSON array or a CSV file (header row with
    /// project_name, registry, vintage, quantity, serial_number). Idempotent:
    /// records already there are counted as existing and left alone. Exits
    /// with status 1 if any row was rejected.
    Import {
        /// The file: `.json` or `.csv`.
        file: PathBuf,
    },
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

/// A `DATABASE_URL` that cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseUrlError {
    /// Neither `sqlite://` nor `postgres(ql)://`.
    #[error("unknown database URL scheme in {0:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnknownScheme(String),
    /// `sqlite://` with nothing after it.
    #[error("the SQLite URL {0:?} names no file: use e.g. sqlite://carbon_credits.db")]
    NoPath(String),
}

impl FromStr for Database {
    type Err = DatabaseUrlError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        let rest = url
            .strip_prefix("sqlite://")
            .ok_or_else(|| DatabaseUrlError::UnknownScheme(url.to_owned()))?;
        // SQLAlchemy's form: `sqlite:///relative` and `sqlite:////absolute`.
        let path = rest.strip_prefix('/').unwrap_or(rest);
        if path.is_empty() {
            return Err(DatabaseUrlError::NoPath(url.to_owned()));
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            // The URL may hold a password: show only where it points.
            Self::Postgres(url) => {
                let host = url.rsplit('@').next().unwrap_or(url);
                write!(f, "postgres://…@{host}")
            }
        }
    }
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
        assert_eq!(
            "sqlite:///./carbon_credits.db".parse(),
            sqlite("./carbon_credits.db")
        );
        assert_eq!("sqlite:////var/lib/cc.db".parse(), sqlite("/var/lib/cc.db"));
        assert_eq!("sqlite://data/cc.db".parse(), sqlite("data/cc.db"));
        assert!(matches!(
            "postgresql://u:p@h/db".parse(),
            Ok(Database::Postgres(_))
        ));
        assert!(matches!(
            "postgres://h/db".parse(),
            Ok(Database::Postgres(_))
        ));
        assert!(matches!(
            "mysql://h/db".parse::<Database>(),
            Err(DatabaseUrlError::UnknownScheme(_))
        ));
        assert!(matches!(
            "sqlite://".parse::<Database>(),
            Err(DatabaseUrlError::NoPath(_))
        ));
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
        let db = Database::Postgres("postgres://u:secret@db.example/cc".to_owned());
        assert!(!db.to_string().contains("secret"));
    }
}
