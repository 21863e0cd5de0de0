//! The `carbon-tracker-server` command: serve, or import a file.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tokio::net::TcpListener;

use carbon_tracker_server::config::{self, log_filter, Cli, Command, Database, Settings};
use carbon_tracker_server::store::postgres::PostgresStore;
use carbon_tracker_server::store::sqlite::SqliteStore;
use carbon_tracker_server::store::Store;
use carbon_tracker_server::webhooks::{self, WebhookStore};
use carbon_tracker_server::{access, audit, export, idempotency, import, limits, routes, tlog};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[allow(
    clippy::print_stderr,
    reason = "a failed start is reported in one line on stderr"
)]
fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => match config::value_error(&e) {
            Some(line) => {
                eprintln!("error: {line}");
                return ExitCode::from(2);
            }
            None => e.exit(),
        },
    };
    // Offline: no database, no server, so no setting of theirs can stop it
    // (a PORT=abc in the environment is not the verifier's business).
    if let Some(Command::Verify {
        certificate,
        key,
        checkpoint,
    }) = &cli.command
    {
        return audit::verify(certificate, key, checkpoint.as_deref());
    }
    // Every setting is checked before anything is opened.
    let (settings, log_filter) = match cli.settings().and_then(|s| Ok((s, log_filter()?))) {
        Ok(checked) => checked,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(log_filter)
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
    match runtime.block_on(async { tokio::spawn(run(cli.command, settings)).await }) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            // With its causes: "SQLite failed" alone does not say the file
            // is read-only.
            eprintln!("error: {}", carbon_tracker_server::error_chain(e.as_ref()));
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

#[allow(
    clippy::print_stderr,
    reason = "a dry run on a missing database says so on stderr"
)]
async fn run(command: Option<Command>, mut settings: Settings) -> Result<ExitCode, BoxError> {
    // A command that only reads the database, or that changes what is in
    // it, on a SQLite file that is not there: a mistyped path, not a new
    // database to make (and then report as empty, or as "nothing written").
    // A dry run on a SQLite file that is not there counts against an empty
    // database of its own, made and removed in a temporary folder.
    let mut scratch = None;
    if let Database::Sqlite(path) = &settings.database {
        if !path.exists() {
            if let Some(Command::Import { dry_run: true, .. }) = &command {
                let dir = std::env::temp_dir()
                    .join(format!("carbon-tracker-dry-run-{}", std::process::id()));
                std::fs::create_dir_all(&dir)
                    .map_err(|e| format!("cannot make a scratch folder {}: {e}", dir.display()))?;
                eprintln!(
                    "no database at {}: the dry run counts against an empty one",
                    path.display()
                );
                settings.database = Database::Sqlite(dir.join("dry-run.db"));
                scratch = Some(dir);
            } else if needs_a_database(command.as_ref()) {
                return Err(format!(
                    "no database at {}: check DATABASE_URL (--database-url); the server, `import` and `keys create` create a new one",
                    path.display()
                )
                .into());
            }
        }
    }
    let result = run_on(command, settings).await;
    if let Some(dir) = scratch {
        // Best effort: a leftover scratch folder holds nothing of the user's.
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

/// Runs `command` on the database of `settings`.
#[allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the overlaps command prints its list on stdout and its count on stderr"
)]
async fn run_on(command: Option<Command>, settings: Settings) -> Result<ExitCode, BoxError> {
    let Some(command) = command else {
        // The server takes its port first: a port in use stops it before a
        // database is made or migrated.
        let listener = listen(&settings).await?;
        let (store, hooks) = open(&settings).await?;
        let result = serve(settings, listener, Arc::clone(&store), hooks).await;
        // Every acknowledged write is committed before the process ends.
        store.close();
        return result.map(|()| ExitCode::SUCCESS);
    };
    let (store, hooks) = open(&settings).await?;
    let result = match &command {
        // Run by `main` before any setting is read.
        Command::Verify { .. } => Ok(ExitCode::SUCCESS),
        Command::Keys { command } => access::command(store.as_ref(), command)
            .await
            .map_err(Into::into),
        Command::Webhooks { command } => {
            webhooks::command(store.as_ref(), hooks.as_ref(), command).await
        }
        Command::Audit => audit::audit(Arc::clone(&store), &settings.log_key_file()).await,
        Command::Import {
            file,
            from,
            dry_run,
            skip_rejected,
            report,
        } => {
            let options = import::Options {
                from: Some(from.clone()),
                dry_run: *dry_run,
                skip_rejected: *skip_rejected,
                caller: access::Caller::anyone(),
            };
            let report_file = report.as_deref().map(import::open_report).transpose()?;
            let summary = import::import(store.as_ref(), file, &options).await?;
            import::report(&file.display().to_string(), &summary);
            if let (Some(path), Some(report_file)) = (report, report_file) {
                import::write_report(report_file, path, &summary)?;
            }
            Ok(if summary.rejected.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Export { format, output } => {
            let count = export::export(Arc::clone(&store), *format, output.as_deref()).await?;
            eprintln!("exported {count} records");
            Ok(ExitCode::SUCCESS)
        }
        Command::Overlaps => {
            let overlaps = store.overlaps().await?;
            for (record, with) in &overlaps {
                println!("{record} overlaps {with}");
            }
            eprintln!(
                "{} stored block(s) share credits with an earlier block",
                overlaps.len()
            );
            Ok(if overlaps.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    };
    // Every acknowledged write is committed before the process ends.
    store.close();
    result
}

/// The store, and its webhook tables.
/// Whether `command` works on a database that must already exist: the
/// audits, the export, the lists, a revoke or removal.
fn needs_a_database(command: Option<&Command>) -> bool {
    match command {
        None | Some(Command::Verify { .. } | Command::Import { .. }) => false,
        Some(Command::Keys { command }) => !matches!(command, access::KeyCommand::Create { .. }),
        Some(Command::Webhooks { command }) => {
            !matches!(command, webhooks::WebhookCommand::Add { .. })
        }
        Some(_) => true,
    }
}

async fn open(settings: &Settings) -> Result<(Arc<dyn Store>, Arc<dyn WebhookStore>), BoxError> {
    Ok(match &settings.database {
        Database::Sqlite(path) => {
            let store = Arc::new(SqliteStore::open(path)?);
            (store.clone(), store)
        }
        Database::Postgres(url) => {
            let store = PostgresStore::connect(url, usize::from(settings.pool_size)).await?;
            let hooks = Arc::new(store.webhooks());
            (Arc::new(store), hooks)
        }
    })
}

/// The server's listening socket, on `--host` and `--port`.
async fn listen(settings: &Settings) -> Result<TcpListener, BoxError> {
    let (host, port) = (settings.host.as_str(), settings.port);
    Ok(TcpListener::bind((host, port))
        .await
        .map_err(|e| format!("cannot listen on {host}:{port}: {e}"))?)
}

async fn serve(
    settings: Settings,
    listener: TcpListener,
    store: Arc<dyn Store>,
    hooks: Arc<dyn WebhookStore>,
) -> Result<(), BoxError> {
    let address = listener.local_addr()?;
    tracing::info!("configuration: {}", settings.command_line());
    report_overlaps(store.as_ref()).await?;
    if settings.private_reads && settings.api_token.is_none() && !store.has_api_keys().await? {
        tracing::warn!(
            "--private-reads with no API key yet: every read is refused until one with the \
             `read` scope exists (carbon-tracker-server keys create --scope read)"
        );
    }
    let log = if settings.no_log {
        tracing::warn!("running without the verifiable log (--no-log)");
        None
    } else {
        // Whether the log has signed anything matters only when its key file
        // is missing: the checkpoints (which `Log::open` reads anyway) are
        // read twice only then.
        let new_log = settings.log_key_file().exists() || store.checkpoints().await?.is_empty();
        let (signer, created) = tlog::signing_key(
            settings.log_key.as_deref(),
            settings.database.log_key_path(),
            settings.log_origin.as_deref(),
            new_log,
        )?;
        if let Some(path) = created {
            tracing::info!(
                "created the log's signing key in {}; its public key (pin it to verify certificates): {}",
                path.display(),
                signer.verifier().to_vkey()
            );
        }
        let log = Arc::new(tlog::Log::open(Arc::clone(&store), signer).await?);
        tracing::info!("log key: {}", log.key().to_vkey());
        Some(log)
    };
    let sequencer = log.clone().map(|log| tokio::spawn(log.run()));
    let deliverer = tokio::spawn(
        Arc::new(webhooks::Deliverer::new(
            Arc::clone(&store),
            hooks,
            settings.webhooks,
        )?)
        .run(),
    );
    let idempotency = Arc::new(idempotency::Settings::new(
        settings.idempotency_ttl_hours,
        settings.idempotency_wait_ms,
    ));
    let purger = tokio::spawn(idempotency::purge(Arc::clone(&store), idempotency.ttl));
    let state = routes::AppState {
        store,
        access: access::Access {
            api_token: settings.api_token.map(Arc::new),
            private_reads: settings.private_reads,
        },
        idempotency,
        limiter: settings.limits.rate.map(limits::Limiter::new).transpose()?,
        log,
    };
    let app = routes::router(state);
    let shutdown = shutdown_signal()?;
    tracing::info!("listening on http://{address} (docs at http://{address}/docs)");
    limits::serve(listener, app, &settings.limits, shutdown).await;
    if let Some(sequencer) = sequencer {
        sequencer.abort();
    }
    deliverer.abort();
    purger.abort();
    tracing::info!("stopped; every acknowledged write is committed");
    Ok(())
}

/// Warns of stored blocks that share credits (kept from before SPEC §6's
/// rule): the server runs, and an operator decides what to do.
async fn report_overlaps(store: &dyn Store) -> Result<(), BoxError> {
    let overlaps = store.overlaps().await?;
    if let Some((record, with)) = overlaps.first() {
        tracing::warn!(
            count = overlaps.len(),
            "stored blocks share credits with earlier blocks (for example {record} with {with}); \
             `carbon-tracker-server overlaps` lists them all; they are kept as they are"
        );
    }
    Ok(())
}

/// A future that resolves on SIGINT or SIGTERM; in-flight requests then
/// finish. The handlers are installed here, before the server says it
/// listens, so a signal sent as soon as it does is never the default one
/// (which would end the process without finishing anything).
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, BoxError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            tracing::info!("shutting down: finishing in-flight requests");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down: finishing in-flight requests");
        })
    }
}
