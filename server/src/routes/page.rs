//! `GET /`: a page that computes record ids in the browser with the WASM
//! package, registers records and looks them up; `GET /certificates/{id}`:
//! a record's certificate (SPEC §7) verified in the browser by the package's
//! verifier module (`pkg-web/verify/`) against the key the user pins;
//! `GET /portfolio`: credits by vintage and status charted from
//! `GET /summary` (Chart.js, served from `/vendor/`), beside a paged,
//! filtered table of records.
//!
//! Everything it loads is in the binary: the page (`server/static/`) and the
//! browser build of the package (`bindings-wasm/pkg-web/`, located by
//! `build.rs`), so the page works offline and is the exact package version
//! the server was built with. No CDN, nothing fetched but from this server.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::problem::Problem;

include!(concat!(env!("OUT_DIR"), "/web_pkg.rs"));

const INDEX_HTML: &str = include_str!("../../static/index.html");
const APP_JS: &str = include_str!("../../static/app.js");
const APP_CSS: &str = include_str!("../../static/app.css");
const CERTIFICATE_HTML: &str = include_str!("../../static/certificate.html");
const CERTIFICATE_JS: &str = include_str!("../../static/certificate.js");
const PORTFOLIO_HTML: &str = include_str!("../../static/portfolio.html");
const PORTFOLIO_JS: &str = include_str!("../../static/portfolio.js");
const PORTFOLIO_CSS: &str = include_str!("../../static/portfolio.css");
/// Chart.js 4.6.1, `dist/chart.umd.min.js` of the npm package (MIT; see
/// `server/static/vendor/README.md`).
const CHART_JS: &str = include_str!("../../static/vendor/chart.umd.min.js");

/// Scripts only from this server; `wasm-unsafe-eval` is what compiling a
/// WebAssembly module needs under a script policy (not `eval` itself).
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
                   style-src 'self'; img-src 'self' data:; connect-src 'self'; \
                   base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page's routes, to merge into the application.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route(
            "/app.js",
            get(|| async { asset("text/javascript", APP_JS.as_bytes()) }),
        )
        .route(
            "/app.css",
            get(|| async { asset("text/css", APP_CSS.as_bytes()) }),
        )
        .route("/pkg/{*path}", get(package_file))
        .route(
            "/certificates/{id}",
            get(|| async { html(CERTIFICATE_HTML) }),
        )
        .route(
            "/certificate.js",
            get(|| async { asset("text/javascript", CERTIFICATE_JS.as_bytes()) }),
        )
        .route("/portfolio", get(|| async { html(PORTFOLIO_HTML) }))
        .route(
            "/portfolio.js",
            get(|| async { asset("text/javascript", PORTFOLIO_JS.as_bytes()) }),
        )
        .route(
            "/portfolio.css",
            get(|| async { asset("text/css", PORTFOLIO_CSS.as_bytes()) }),
        )
        .route(
            "/vendor/chart.umd.min.js",
            get(|| async { asset("text/javascript", CHART_JS.as_bytes()) }),
        )
}

async fn index() -> Response {
    html(INDEX_HTML)
}

/// A page, with its script policy.
fn html(page: &'static str) -> Response {
    let mut response = asset("text/html; charset=utf-8", page.as_bytes());
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
}

/// One file of the embedded package, by its path under `pkg-web/`.
async fn package_file(Path(path): Path<String>) -> Response {
    match PKG_FILES.iter().find(|(name, _)| *name == path) {
        Some((name, bytes)) => {
            let content_type = if name.ends_with(".wasm") {
                // What `WebAssembly.instantiateStreaming` requires.
                "application/wasm"
            } else {
                "text/javascript"
            };
            asset(content_type, bytes)
        }
        None => Problem::new(StatusCode::NOT_FOUND, "no_route", "no such file")
            .with_help("the page's files are under /pkg/")
            .into_response(),
    }
}

fn asset(content_type: &'static str, body: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            // Revalidate every time: the files change with the binary.
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}
