#!/usr/bin/env bash
# Prints the raw and gzipped (gzip -9) sizes of the built packages' .wasm and
# JavaScript glue, and fails when a .wasm is over its budget (gzipped): the
# main module (`carbon-tracker`) <= 150 KB; the certificate verifier
# (`carbon-tracker/verify`, verify/ in each package) <= 125 KB, a budget of
# its own (bindings-wasm/README.md, "Verifying certificates").
#
#   bindings-wasm/size.sh [web|bundler|nodejs ...]   # what build.sh made
#   bindings-wasm/size.sh --compare                  # builds the web target with
#       opt-level z and s into a temporary folder and prints both
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LIMIT=$((150 * 1024))
VERIFY_LIMIT=$((125 * 1024))

row() {
  local label="$1" file="$2"
  [ -f "$file" ] || { echo "bindings-wasm/size.sh: $file not found: build it first (bindings-wasm/build.sh)" >&2; exit 1; }
  local raw gz
  raw=$(wc -c <"$file")
  gz=$(gzip -9 -c "$file" | wc -c)
  awk -v l="$label" -v r="$raw" -v g="$gz" 'BEGIN { printf "%-44s %9d B (%7.1f KB) raw %9d B (%6.1f KB) gzip -9\n", l, r, r / 1024, g, g / 1024 }'
  local limit="$LIMIT"
  [[ "$file" == */verify/* ]] && limit="$VERIFY_LIMIT"
  if [[ "$file" == *.wasm ]] && [ "$gz" -gt "$limit" ]; then
    echo "  over its $((limit / 1024)) KB gzipped budget" >&2
    over=1
  fi
}

over=0
if [ "${1:-}" = "--compare" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  for level in z s; do
    OPT_LEVEL=$level OUT_PREFIX="$tmp/$level" "$HERE/build.sh" web >/dev/null
    row "opt-level $level: .wasm" "$tmp/$level-web/carbon_tracker_bg.wasm"
  done
  exit "$over"
fi

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(web bundler nodejs)
for target in "${targets[@]}"; do
  dir="$HERE/pkg-$target"
  [ "$target" = nodejs ] && dir="$HERE/pkg-node"
  row "$target: carbon_tracker_bg.wasm" "$dir/carbon_tracker_bg.wasm"
  row "$target: carbon_tracker.js" "$dir/carbon_tracker.js"
  row "$target: verify/carbon_tracker_verify_bg.wasm" "$dir/verify/carbon_tracker_verify_bg.wasm"
  row "$target: verify/carbon_tracker_verify.js" "$dir/verify/carbon_tracker_verify.js"
done
exit "$over"
