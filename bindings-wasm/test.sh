#!/usr/bin/env bash
# Runs the wasm-bindgen-test suite (tests/vectors.rs) under Node or in
# headless Chromium, and fails unless the tests really ran: the test runner
# passes (exit 0) when it skips a suite configured for the other engine.
#
#   bindings-wasm/test.sh node
#   bindings-wasm/test.sh chrome     # Debian's chromium + chromium-driver; webdriver.json has the flags
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

case "${1:-}" in
  node)
    wasm-pack test --node 2>&1 | tee "$log"
    ;;
  chrome)
    command -v chromedriver >/dev/null || { echo "bindings-wasm/test.sh: chromedriver not found (Debian package chromium-driver)" >&2; exit 1; }
    # The suite has no wasm_bindgen_test_configure!, so one binary serves both
    # engines; this variable sends it to the browser.
    WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER="$(command -v chromedriver)" \
      wasm-pack test --headless --chrome 2>&1 | tee "$log"
    ;;
  *)
    echo "usage: bindings-wasm/test.sh node|chrome" >&2
    exit 2
    ;;
esac

if grep -qi "skipping" "$log"; then
  echo "bindings-wasm/test.sh: the suite was skipped, not run" >&2
  exit 1
fi
passed="$(sed -n 's/^test result: ok\. \([0-9]*\) passed.*/\1/p' "$log" | awk '{ s += $1 } END { print s + 0 }')"
if [ "$passed" -lt 10 ]; then
  echo "bindings-wasm/test.sh: expected the 10 tests of tests/vectors.rs to pass, saw $passed" >&2
  exit 1
fi
echo "bindings-wasm/test.sh: $passed passed in $1"
