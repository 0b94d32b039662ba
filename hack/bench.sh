#!/usr/bin/env bash
# Runs every benchmark in hack/bench/, each comparing berth with a reference side by side
# in one run and printing a ratio. Needs root.
set -uo pipefail
cd "$(dirname "$0")/.."
export BERTH="$PWD/bin/berth"
status=0
for b in hack/bench/*.sh; do
  [ -e "$b" ] || continue
  echo "=== $(basename "$b" .sh)"
  bash "$b" || { echo "bench $(basename "$b") failed"; status=1; }
done
exit $status
