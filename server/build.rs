//! Embeds the browser build of the WASM package, which the page at `/`
//! computes ids with (`src/routes/page.rs`).
//!
//! The package is generated (`bindings-wasm/build.sh web`, which `run-server`
//! and `tests/run` call) and never committed, so a checkout without it stops
//! here with what to run, instead of serving a page that cannot work.
//! `CARBON_TRACKER_WEB_PKG` points at another build of it. Without the
//! default feature `page`, nothing is embedded and nothing is needed.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a build script talks to cargo on stdout

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Files of the package the page loads: the ES module, its `.wasm`, and the
/// JavaScript snippets it imports (under `snippets/`).
fn wanted(relative: &Path) -> bool {
    matches!(
        relative.extension().and_then(|e| e.to_str()),
        Some("js" | "wasm")
    )
}

fn walk(dir: &Path, base: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, base, out)?;
        } else if let Ok(relative) = path.strip_prefix(base) {
            if wanted(relative) {
                out.push(relative.to_path_buf());
            }
        }
    }
    Ok(())
}

fn fail(message: &str) -> ! {
    eprintln!("\n{message}\n");
    std::process::exit(1);
}

fn main() {
    // Without the `page` feature nothing is embedded, and nothing is needed.
    if std::env::var_os("CARGO_FEATURE_PAGE").is_none() {
        return;
    }
    println!("cargo:rerun-if-env-changed=CARBON_TRACKER_WEB_PKG");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let pkg = std::env::var_os("CARBON_TRACKER_WEB_PKG")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir.join("../bindings-wasm/pkg-web"));
    // Rebuild when the package is (re)built, including when it first appears.
    println!("cargo:rerun-if-changed={}", pkg.display());
    let entry = pkg.join("carbon_tracker.js");
    println!("cargo:rerun-if-changed={}", entry.display());
    println!(
        "cargo:rerun-if-changed={}",
        pkg.join("carbon_tracker_bg.wasm").display()
    );
    if !entry.is_file() || !pkg.join("carbon_tracker_bg.wasm").is_file() {
        fail(&format!(
            "carbon-tracker-server embeds the browser build of the WASM package for its page at /,\n\
             and {} does not hold it.\n\
             Build it first:  ./run-server (builds it, then starts the server)\n\
             or:              bindings-wasm/install-tools.sh && bindings-wasm/build.sh web",
            pkg.display()
        ));
    }
    let pkg = pkg.canonicalize().unwrap_or(pkg);
    let mut files = Vec::new();
    if let Err(e) = walk(&pkg, &pkg, &mut files) {
        fail(&format!("cannot read {}: {e}", pkg.display()));
    }
    files.sort();
    let mut code = String::from("/// The embedded browser package: (path under /pkg/, bytes).\npub(crate) static PKG_FILES: &[(&str, &[u8])] = &[\n");
    for relative in &files {
        let absolute = pkg.join(relative);
        println!("cargo:rerun-if-changed={}", absolute.display());
        let url_path = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let _ = writeln!(
            code,
            "    ({url_path:?}, include_bytes!({:?})),",
            absolute.display().to_string()
        );
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("web_pkg.rs");
    if let Err(e) = std::fs::write(&out, code) {
        fail(&format!("cannot write {}: {e}", out.display()));
    }
}
