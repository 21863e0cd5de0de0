//! The `carbon-tracker-server` command: serve, or import a file.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tokio::net::TcpListener;

use carbon_tracker_server::config::{ApiToken, Cli, Command, Database};
use carbon_tracker_server::store::postgres::PostgresStore;
use carbon_tracker_server::store::sqlite::SqliteStore;
use carbon_tracker_server::store::Store;
use carbon_tracker_server::{import, routes};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[allow(
    clippy::print_stderr,
    reason = "a failed start is reported in one line on stderr"
)]
fn main() -> ExitCode {
    let cli = Cli::parse();
    // Checked before anything is opened: an empty token must never mean
    // "every write is allowed".
    let api_token = match cli.api_token() {
        Ok(token) => token.map(Arc::new),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    // Run on a worker, not on this thread: the main thread of a multi-thread
    // runtime does not take part in its work stealing.
    match runtime.block_on(async { tokio::spawn(run(cli, api_token)).await }) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli, api_token: Option<Arc<ApiToken>>) -> Result<ExitCode, BoxError> {
    let store = open(&cli).await?;
    let result = match &cli.command {
        Some(Command::Import { file }) => {
            let summary = import::import(store.as_ref(), file).await?;
            import::report(file, &summary);
            Ok(if summary.rejected.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        None => serve(&cli, api_token, Arc::clone(&store))
            .await
            .map(|()| ExitCode::SUCCESS),
    };
    // Every acknowledged write is committed before the process ends.
    store.close();
    result
}

async fn open(cli: &Cli) -> Result<Arc<dyn Store>, BoxError> {
    Ok(match &cli.database_url {
        Database::Sqlite(path) => Arc::new(SqliteStore::open(path)?),
        Database::Postgres(url) => {
            Arc::new(PostgresStore::connect(url, usize::from(cli.pool_size)).await?)
        }
    })
}

async fn serve(
    cli: &Cli,
    api_token: Option<Arc<ApiToken>>,
    store: Arc<dyn Store>,
) -> Result<(), BoxError> {
    let listener = TcpListener::bind((cli.host.as_str(), cli.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", cli.host, cli.port))?;
    let address = listener.local_addr()?;
    let state = routes::AppState { store, api_token };
    tracing::info!(
        database = %cli.database_url,
        auth = state.api_token.is_some(),
        "listening on http://{address} (docs at http://{address}/docs)"
    );
    axum::serve(listener, routes::router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("stopped; every acknowledged write is committed");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM; in-flight requests then finish.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = interrupt => {}
            () = terminate => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
