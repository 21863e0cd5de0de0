//! The interactive API docs (Swagger UI, built into the binary) at `/docs`,
//! and the OpenAPI document at `/openapi.json`.
//!
//! `GET /docs` answers 200 with the page itself (SPEC §4's table, as the
//! original FastAPI service did): `utoipa-swagger-ui`'s own router answers it
//! with a 303 to `/docs/`, so the files are served here with its `serve`, and
//! the page at `/docs` gets a `<base href="/docs/">` so that its relative
//! links (`./swagger-ui.css`, …) find the files under `/docs/`.

use std::sync::Arc;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;
use utoipa_swagger_ui::Config;

use crate::openapi::ApiDoc;
use crate::problem::Problem;

/// Where the page finds the document.
const DOCUMENT: &str = "/openapi.json";

/// The routes of the docs and the document.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let document = Arc::new(ApiDoc::openapi());
    let config = Arc::new(Config::from(DOCUMENT));
    let (index, files) = (Arc::clone(&config), config);
    Router::new()
        .route(
            DOCUMENT,
            get(move || {
                let document = Arc::clone(&document);
                async move { Json(document.as_ref().clone()) }
            }),
        )
        .route(
            "/docs",
            get(move || {
                let config = Arc::clone(&index);
                async move { file("", config, true) }
            }),
        )
        .route(
            "/docs/",
            get({
                let config = Arc::clone(&files);
                move || async move { file("", config, false) }
            }),
        )
        .route(
            "/docs/{*rest}",
            get(move |Path(rest): Path<String>| {
                let config = Arc::clone(&files);
                async move { file(&rest, config, false) }
            }),
        )
}

/// The Swagger UI file at `path` (the page for `""`); `rebased`: with the
/// `<base>` the page needs when served at `/docs`.
fn file(path: &str, config: Arc<Config<'static>>, rebased: bool) -> Response {
    match utoipa_swagger_ui::serve(path, config) {
        Ok(Some(file)) => {
            let bytes = if rebased {
                String::from_utf8_lossy(&file.bytes)
                    .replacen("<head>", "<head>\n    <base href=\"/docs/\">", 1)
                    .into_bytes()
            } else {
                file.bytes.into_owned()
            };
            ([(header::CONTENT_TYPE, file.content_type)], bytes).into_response()
        }
        Ok(None) => Problem::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("the docs have no file {path}"),
        )
        .with_help("the interactive docs are at /docs, the OpenAPI document at /openapi.json")
        .into_response(),
        Err(e) => Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the docs' file {path} cannot be served: {e}"),
        )
        .with_help("report it: the docs are built into the binary")
        .into_response(),
    }
}
