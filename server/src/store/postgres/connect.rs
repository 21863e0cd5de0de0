//! Opening the database: the URL, the pool, and the migrations.

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
};
use tokio_postgres::config::Host;
use tokio_postgres::Config;

use super::tls;
use crate::problem::chain;
use crate::store::migrate;

/// The schema, one migration per entry, applied in order; the table
/// `schema_migrations` records which have been applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/postgres/0001_init.sql"),
    include_str!("../../../migrations/postgres/0002_blocks.sql"),
    include_str!("../../../migrations/postgres/0003_log.sql"),
    include_str!("../../../migrations/postgres/0004_webhooks.sql"),
    include_str!("../../../migrations/postgres/0005_access.sql"),
    include_str!("../../../migrations/postgres/0006_idempotency_locks.sql"),
    include_str!("../../../migrations/postgres/0007_left_out_blocks.sql"),
];

/// The migration that keeps the ranges of the blocks migration 2 left out
/// (`store::blocks`), which it then fills.
const LEFT_OUT_BLOCKS: i64 = 7;

/// The advisory lock that makes processes starting at once migrate one after
/// the other (any constant works; this one spells "carbon").
const MIGRATION_LOCK: i64 = 0x6361_7262_6f6e;

/// How long opening a connection may take, unless the URL sets `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a request waits for a free pooled connection.
const WAIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the database could not be used at start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL does not parse.
    #[error("invalid PostgreSQL URL: {0}")]
    Url(String),
    /// The pool could not be set up.
    #[error("cannot set up PostgreSQL connections: {0}")]
    Setup(String),
    /// The database did not answer or refused the connection.
    #[error("cannot connect to PostgreSQL at {target}: {detail}")]
    Connect {
        /// Where the URL points (no password).
        target: String,
        /// The driver's reason.
        detail: String,
    },
    /// The schema could not be brought up to date.
    #[error("cannot migrate the PostgreSQL database at {target}: {detail}")]
    Migrate {
        /// Where the URL points (no password).
        target: String,
        /// The database's reason.
        detail: String,
    },
}

/// A pool of up to `pool_size` connections to `url`, with the schema
/// migrated; fails at once if the database cannot be reached.
pub(super) async fn open(url: &str, pool_size: usize) -> Result<Pool, OpenError> {
    let mut config = parse_url(url).map_err(OpenError::Url)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("carbon-tracker-server");
    }
    config.keepalives(true);
    let target = target(&config);
    let tls = tls::connector().map_err(|e| OpenError::Setup(e.to_string()))?;
    let manager = Manager::from_config(
        config,
        tls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(pool_size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(WAIT_TIMEOUT))
        .create_timeout(Some(CONNECT_TIMEOUT))
        .recycle_timeout(Some(CONNECT_TIMEOUT))
        .build()
        .map_err(|e| OpenError::Setup(e.to_string()))?;
    let mut client = pool.get().await.map_err(|e| OpenError::Connect {
        target: target.clone(),
        detail: pool_error(&e),
    })?;
    apply_migrations(&mut client)
        .await
        .map_err(|detail| OpenError::Migrate { target, detail })?;
    Ok(pool)
}

/// Reads a connection URL, refusing what the driver would silently read
/// otherwise: a `connect_timeout` of 0 or less, which libpq takes as "wait
/// forever" and the driver drops (this server would then wait 5 s).
/// Unknown options and values are the driver's own errors.
pub fn parse_url(url: &str) -> Result<Config, String> {
    let config = Config::from_str(url).map_err(|e| url_error(&e))?;
    let options = url.split_once('?').map_or("", |(_, query)| query);
    for (key, value) in options.split('&').filter_map(|pair| pair.split_once('=')) {
        if key == "connect_timeout" && value.parse::<i64>().is_ok_and(|t| t <= 0) {
            return Err(format!(
                "connect_timeout={value} would mean \"wait forever\" to libpq; give a number of seconds from 1 (default {})",
                CONNECT_TIMEOUT.as_secs()
            ));
        }
    }
    Ok(config)
}

/// Why the URL does not parse, with the accepted values when it is `sslmode`
/// (the driver names the option but not what it takes).
fn url_error(e: &tokio_postgres::Error) -> String {
    let text = chain(e);
    if text.contains("`sslmode`") {
        format!("{text} (use disable, prefer or require; certificate verification, verify-ca and verify-full, is not supported)")
    } else {
        text
    }
}

/// Where a configuration points, for messages: never the password.
fn target(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().or(config.get_user()).unwrap_or("?");
    format!("{host}:{port}/{db}")
}

fn pool_error(e: &PoolError) -> String {
    match e {
        PoolError::Backend(e) => chain(e),
        other => chain(other),
    }
}

/// Applies pending migrations in one transaction, under an advisory lock so
/// that processes starting at once do not race.
async fn apply_migrations(client: &mut Object) -> Result<(), String> {
    let fail = |e: tokio_postgres::Error| chain(&e);
    let tx = client.transaction().await.map_err(fail)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(fail)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (\
             version INTEGER PRIMARY KEY, \
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .await
    .map_err(fail)?;
    let applied: i32 = tx
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .and_then(|row| row.try_get(0))
        .map_err(fail)?;
    for (version, sql) in migrate::pending(i64::from(applied), MIGRATIONS)? {
        let version = i32::try_from(version).map_err(|e| e.to_string())?;
        tx.batch_execute(sql).await.map_err(fail)?;
        if i64::from(version) == migrate::BLOCKS {
            super::sql::index_blocks(&tx)
                .await
                .map_err(|e| e.error.to_string())?;
        }
        if i64::from(version) == LEFT_OUT_BLOCKS {
            super::sql::keep_left_out(&tx)
                .await
                .map_err(|e| e.error.to_string())?;
        }
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(fail)?;
        tracing::info!(version, "applied a schema migration");
    }
    tx.commit().await.map_err(fail)
}
