#!/usr/bin/env bash
# Instructions per iteration of each loop the decision bench times, by
# callgrind at two loop lengths (the difference cancels start-up), counted
# in the bench binary itself: STEADFAST_LOOP=NAME:N makes it run one loop
# bare instead of criterion, so the machine code counted is the machine
# code timed. Needs valgrind. Unlike criterion's timings, these do not move
# with the machine's load.
# LOOPS="step admission" counts only the loops named.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is needed" >&2; exit 2; }
bin=$(cargo bench --bench decision --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -n 1)
[ -x "$bin" ] || { echo "could not find the decision bench's binary" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() { # loop, iterations -> instructions
  STEADFAST_LOOP="$1:$2" valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$bin" 2>&1 \
    | sed -n 's/.*refs: *//p' | tr -d ,
}
for loop in ${LOOPS:-step baseline reqwest-retry cycle admission admission-adaptive call jittered backon step-date httpdate}; do
  small=$(count "$loop" 100000)
  large=$(count "$loop" 200000)
  echo "$loop: $(( (large - small) / 100000 )) instructions per iteration"
done
echo "(backon's iteration is four delays; step-date less step is what reading an HTTP-date costs)"
