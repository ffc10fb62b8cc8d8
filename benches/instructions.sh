#!/usr/bin/env bash
# Instructions per iteration of each bench loop (examples/step_loop.rs), by
# callgrind at two loop lengths: the difference cancels start-up. Needs
# valgrind. Unlike criterion's timings, these do not move with the machine's
# load.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is needed" >&2; exit 2; }
cargo build --release --example step_loop
bin=${CARGO_TARGET_DIR:-target}/release/examples/step_loop
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() { # loop, iterations -> instructions
  valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$bin" "$1" "$2" 2>&1 \
    | sed -n 's/.*refs: *//p' | tr -d ,
}
for loop in step baseline reqwest-retry cycle admission call backon date httpdate; do
  small=$(count "$loop" 100000)
  large=$(count "$loop" 200000)
  echo "$loop: $(( (large - small) / 100000 )) instructions per iteration"
done
echo "(backon's iteration is four delays)"
