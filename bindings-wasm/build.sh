#!/usr/bin/env bash
# Builds the npm package `carbon-tracker` with wasm-pack, one folder per target:
#
#   bindings-wasm/pkg-web       browsers, an ES module that fetches its .wasm
#                               (what the server's page embeds)
#   bindings-wasm/pkg-bundler   webpack, Vite and other bundlers
#   bindings-wasm/pkg-node      Node.js (CommonJS)
#
# Each folder holds two modules of the crate: the main one (feature `ids`,
# the package's root `carbon-tracker`) and the certificate verifier (feature
# `verify`) in `verify/`, the subpath `carbon-tracker/verify`, a `.wasm` of
# its own with a budget of its own (size.sh; README.md says why).
#
#   bindings-wasm/build.sh                 # all three
#   bindings-wasm/build.sh web nodejs      # some of them
#   OPT_LEVEL=z bindings-wasm/build.sh     # another opt-level than the profile's "s"
#   OUT_PREFIX=/tmp/x/pkg bindings-wasm/build.sh web   # elsewhere (size.sh --compare)
#   WASM_OPT_FEATURES=--enable-... ...     # more wasm-opt feature flags, with RUSTFLAGS to match
#
# Run install-tools.sh first (tests/run and run-server do). The Cargo profile
# is `wasm-release` (fat LTO, opt-level s with the hot crates at 3, one codegen
# unit, panic=abort; see the workspace Cargo.toml); wasm-pack's own wasm-opt
# is off and the pinned binaryen's wasm-opt -Oz runs here instead.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"
WASM_OPT="$HERE/node_modules/.bin/wasm-opt"
[ -x "$WASM_OPT" ] || { echo "bindings-wasm/build.sh: $WASM_OPT missing: run bindings-wasm/install-tools.sh" >&2; exit 1; }

if [ -n "${OPT_LEVEL:-}" ]; then
  case "$OPT_LEVEL" in z | s | 1 | 2 | 3) ;; *) echo "OPT_LEVEL must be z, s, 1, 2 or 3" >&2; exit 2 ;; esac
  export CARGO_PROFILE_WASM_RELEASE_OPT_LEVEL="$OPT_LEVEL"
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(web bundler nodejs)

# Copies `from` over `to` file by file, touching only files whose content
# changed: the server's build.rs watches pkg-web, and an unchanged package
# must not make it rebuild.
sync_dir() {
  local from="$1" to="$2" file
  mkdir -p "$to"
  (cd "$from" && find . -type f) | while read -r file; do
    if ! cmp -s "$from/$file" "$to/$file"; then
      mkdir -p "$(dirname "$to/$file")"
      cp "$from/$file" "$to/$file"
    fi
  done
  (cd "$to" && find . -type f) | while read -r file; do
    if [ ! -e "$from/$file" ]; then
      rm -f "$to/$file"
      # A removal changes no file's time: touch one, so build.rs sees it.
      touch "$to/package.json"
    fi
  done
}

# wasm-opt -Oz over a module, in place. The features are those Rust enables
# by default for wasm32-unknown-unknown, which the module uses (reference
# types for wasm-bindgen's externref table), and SIMD, which
# .cargo/config.toml turns on for the batch hashing. --converge runs the
# passes again while they still shrink the module (0.6 KB gzipped, a few
# seconds).
optimize() {
  "$WASM_OPT" -Oz --converge --strip-debug --strip-producers \
    --enable-bulk-memory --enable-multivalue --enable-mutable-globals \
    --enable-nontrapping-float-to-int --enable-reference-types --enable-sign-ext --enable-simd ${WASM_OPT_FEATURES:-} \
    "$1" -o "$1"
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for target in "${targets[@]}"; do
  case "$target" in
    web | bundler) out="${OUT_PREFIX:-$HERE/pkg}-$target" ;;
    nodejs) out="${OUT_PREFIX:-$HERE/pkg}-node" ;;
    *) echo "bindings-wasm/build.sh: unknown target $target (web, bundler or nodejs)" >&2; exit 2 ;;
  esac
  echo "==> carbon-tracker for $target${OPT_LEVEL:+ (opt-level $OPT_LEVEL)} in $out"
  fresh="$work/$target"
  wasm-pack --log-level warn build --profile wasm-release --target "$target" \
    --out-dir "$fresh" --out-name carbon_tracker -- --no-default-features --features ids
  optimize "$fresh/carbon_tracker_bg.wasm"
  # The verifier: the same crate with only the feature `verify`, in verify/.
  # Its own profile (the workspace Cargo.toml: opt-level s throughout).
  wasm-pack --log-level warn build --profile wasm-verify --target "$target" \
    --out-dir "$work/$target-verify" --out-name carbon_tracker_verify -- --no-default-features --features verify
  optimize "$work/$target-verify/carbon_tracker_verify_bg.wasm"
  mkdir -p "$fresh/verify"
  (cd "$work/$target-verify" && cp -R carbon_tracker_verify* snippets "$fresh/verify/")
  # The npm name is `carbon-tracker`; wasm-pack names packages after the
  # crate. The verifier is the subpath export `carbon-tracker/verify`.
  node -e '
    const fs = require("fs");
    const [file, verifyFile] = process.argv.slice(1);
    const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
    const verify = JSON.parse(fs.readFileSync(verifyFile, "utf8"));
    pkg.name = "carbon-tracker";
    pkg.files = [...pkg.files, "verify"];
    const main = pkg.module ?? pkg.main;
    const entry = (types, js) => ({ types: `./${types}`, default: `./${js}` });
    pkg.exports = {
      ".": entry(pkg.types, main),
      "./verify": entry(`verify/${verify.types}`, `verify/${verify.module ?? verify.main}`),
      "./package.json": "./package.json",
    };
    if (Array.isArray(pkg.sideEffects)) {
      pkg.sideEffects = [...pkg.sideEffects,
        ...(verify.sideEffects ?? []).map((p) => p.replace(/^\.\//, "./verify/"))];
    }
    fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
  ' "$fresh/package.json" "$work/$target-verify/package.json"
  sync_dir "$fresh" "$out"
done
[ -n "${OUT_PREFIX:-}" ] || "$HERE/size.sh" "${targets[@]}"
