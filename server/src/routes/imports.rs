//! `POST /imports`: the import command over HTTP (issue 16): a registry's
//! export, the tracker's own export, or a file of records, sent as the raw
//! body or as the `file` part of a `multipart/form-data` form.

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{AppState, Call, Params};
use crate::idempotency;
use crate::import::{self, Options, Summary};
use crate::problem::Problem;
use crate::store::StoreError;

/// Largest file `POST /imports` takes: a 100,000-row registry export is
/// about 40 MB of CSV.
pub(crate) const IMPORT_BODY_LIMIT: usize = 128 * 1024 * 1024;

/// How to read the file.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ImportParams {
    /// The file's format: `auto` (the default), `records`, `tracker`,
    /// `verra`, `gold-standard`, `acr`, `car` or `art-trees`.
    #[param(value_type = Option<ImportFrom>)]
    pub from: Option<String>,
    /// `true`: check every row and look up what is stored; write nothing.
    pub dry_run: Option<bool>,
    /// `true`: write the rows that pass even when others are rejected.
    pub skip_rejected: Option<bool>,
    /// The file's name, whose extension tells `.csv`, `.xlsx`, `.json` and
    /// `.jsonl` apart when the content type does not (a multipart part's
    /// own file name wins).
    pub filename: Option<String>,
}

/// The values of `from` (for the document: the import reads the text).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "kebab-case")]
#[allow(dead_code)]
pub(crate) enum ImportFrom {
    /// Tell from the file.
    Auto,
    /// A file of records.
    Records,
    /// The tracker's own export.
    Tracker,
    /// Verra's export.
    Verra,
    /// Gold Standard's export.
    GoldStandard,
    /// ACR's export.
    Acr,
    /// CAR's export.
    Car,
    /// ART TREES' export.
    ArtTrees,
}

/// Imports a file.
///
/// Every row is read and checked before anything is written; a file with a
/// rejected row writes nothing unless `skip_rejected=true`. The answer is
/// the summary either way: 200 when the file was imported (or dry-run),
/// 422 with the summary when rejected rows stopped it.
#[utoipa::path(
    post,
    path = "/imports",
    operation_id = "import",
    tag = "records",
    params(ImportParams),
    request_body(
        description = "The file: CSV, XLSX (application/vnd.openxmlformats-officedocument.spreadsheetml.sheet), a JSON array of record inputs, or JSON lines; or multipart/form-data with the file in the part `file`",
        content(
            (String = "text/csv"),
            (crate::openapi::ImportRecords = "application/json"),
        )
    ),
    responses(
        (status = 200, description = "Imported (or checked, for a dry run)", body = Summary),
        (status = 422, description = "Rejected rows (nothing written: the summary lists them), or a file that cannot be read as the format given", body = Summary),
        (status = 400, description = "`empty_body`: no file; `missing_file`: a form without the part `file`; `unreadable_body`: a body or form that cannot be read", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "A missing or wrong bearer token", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn create(
    State(app): State<AppState>,
    Call { caller, key }: Call,
    Params(p): Params<ImportParams>,
    request: Request,
) -> Result<Response, Problem> {
    // An import is many transactions: its answer is kept once it is done
    // (a retry after a crash in the middle imports again, which changes
    // nothing that was written: see server/README.md, "Retrying safely").
    if let Some(key) = &key {
        if let Some((fingerprint, saved)) = app.store.kept_answer(key.clone()).await? {
            if fingerprint != key.fingerprint {
                return Err(StoreError::IdempotencyKeyReused.into());
            }
            return Ok(idempotency::respond(saved, true));
        }
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (name, bytes) = if content_type.starts_with("multipart/form-data") {
        file_part(
            Multipart::from_request(request, &())
                .await
                .map_err(bad_body)?,
        )
        .await?
    } else {
        let bytes = Bytes::from_request(request, &()).await.map_err(bad_body)?;
        (file_name(p.filename.as_deref(), &content_type), bytes)
    };
    if bytes.is_empty() {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "empty_body",
            "the request has no file: send it as the body, or as the `file` part of a form",
        )
        .with_help("curl --data-binary @file.csv -H 'Content-Type: text/csv' …/imports, or -F file=@file.xlsx"));
    }
    let options = Options {
        from: p.from,
        dry_run: p.dry_run.unwrap_or(false),
        skip_rejected: p.skip_rejected.unwrap_or(false),
        caller,
    };
    let summary = import::import_bytes(app.store.as_ref(), &name, &bytes, &options, false).await?;
    let status = if summary.written || summary.dry_run {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let answer = idempotency::json(status, &summary);
    if let Some(key) = key {
        app.store.keep_answer(key, answer.clone()).await?;
    }
    Ok(idempotency::respond(answer, false))
}

/// The name a raw body is read under: the `filename` parameter, else one
/// from the content type.
fn file_name(given: Option<&str>, content_type: &str) -> String {
    if let Some(name) = given.filter(|n| !n.trim().is_empty()) {
        return name.trim().to_owned();
    }
    let extension = match content_type.split(';').next().unwrap_or_default().trim() {
        "application/json" => "json",
        "application/x-ndjson" | "application/jsonl" | "application/x-jsonlines" => "jsonl",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        _ => "csv",
    };
    format!("upload.{extension}")
}

/// The form's `file` part: its file name and bytes.
async fn file_part(mut form: Multipart) -> Result<(String, Bytes), Problem> {
    while let Some(field) = form.next_field().await.map_err(bad_body)? {
        if field.name() == Some("file") {
            let name = field.file_name().unwrap_or("upload.csv").to_owned();
            let bytes = field.bytes().await.map_err(bad_body)?;
            return Ok((name, bytes));
        }
    }
    Err(Problem::new(
        StatusCode::BAD_REQUEST,
        "missing_file",
        "the form has no part named `file`",
    )
    .with_help("send the file as the form part `file`: curl -F file=@file.csv …/imports"))
}

fn bad_body(e: impl std::fmt::Display) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "unreadable_body",
        format!("the request body cannot be read: {e}"),
    )
    .with_help(format!(
        "send the file as the body, or as the `file` part of a multipart form, of at most {} MB",
        IMPORT_BODY_LIMIT / (1024 * 1024)
    ))
}
