#!/usr/bin/env bash
# Installs what building the WASM package needs, each piece only when it is
# missing or at the wrong version, so a second run costs nothing:
#   - the Rust target wasm32-unknown-unknown;
#   - wasm-bindgen-cli at exactly the wasm-bindgen version of Cargo.lock (the
#     CLI refuses modules from any other version; wasm-pack uses it from PATH,
#     since its own download cannot work here);
#   - wasm-pack, pinned;
#   - Node.js (>= 20.19: the nodejs target loads the package's ES module
#     snippet with require()) and npm;
#   - the pinned npm package binaryen (wasm-opt), from package-lock.json.
# Called by tests/run and ../run-server.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
WASM_PACK_VERSION="0.15.1"

say() { echo "bindings-wasm/install-tools.sh: $*"; }
fail() { echo "bindings-wasm/install-tools.sh: $*" >&2; exit 1; }

apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing $* with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null \
      || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null; }
  else
    fail "missing $* and not root: install it and run again"
  fi
}

# The wasm-bindgen version the lock file pins (the line after its name).
bindgen_version="$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock")"
[ -n "$bindgen_version" ] || fail "no wasm-bindgen in $ROOT/Cargo.lock"

command -v cargo >/dev/null || fail "cargo not found: install Rust with rustup (https://rustup.rs)"
command -v rustup >/dev/null || fail "rustup not found: the wasm32 target is installed with rustup (https://rustup.rs)"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

cargo_install() {
  # --locked first (the versions the tool was released with); without it when
  # one of those has since been yanked from the registry.
  local crate="$1" version="$2"
  say "installing $crate $version (cargo install, a few minutes)"
  cargo install --quiet "$crate" --version "$version" --locked \
    || cargo install --quiet "$crate" --version "$version"
}

if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $bindgen_version" ]; then
  cargo_install wasm-bindgen-cli "$bindgen_version"
fi
if [ "$(wasm-pack --version 2>/dev/null)" != "wasm-pack $WASM_PACK_VERSION" ]; then
  cargo_install wasm-pack "$WASM_PACK_VERSION"
fi
# cargo install puts them in ~/.cargo/bin; say so if that is not on PATH.
for tool in wasm-bindgen wasm-pack; do
  command -v "$tool" >/dev/null || fail "$tool was installed in ${CARGO_HOME:-$HOME/.cargo}/bin, which is not on PATH"
done

command -v node >/dev/null || apt_install nodejs
command -v npm >/dev/null || apt_install npm
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' \
  || fail "Node.js $(node --version) is too old: the package needs >= 20.19 (require() of ES modules)"

# wasm-opt from the pinned npm package; reinstalled when the lock file changes.
stamp="$HERE/node_modules/.package-lock.json"
if [ ! -x "$HERE/node_modules/.bin/wasm-opt" ] || [ "$HERE/package-lock.json" -nt "$stamp" ]; then
  say "installing the pinned binaryen (npm ci)"
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
fi
