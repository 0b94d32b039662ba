#!/usr/bin/env bash
# `berth-runtime run` against `runc run` of the same busybox bundle running `true`, side by
# side in one hyperfine run; the "Relative" column is the ratio.
set -euo pipefail
cd "$(dirname "$0")/../.."
BERTH=${BERTH:-$PWD/bin/berth}
work=$(mktemp -d /var/tmp/berth-bench-runtime.XXXXXX)
trap 'rm -rf "$work"' EXIT
b=$work/bundle
mkdir -p "$b/rootfs/bin" "$b/rootfs/proc" "$b/rootfs/sys" "$b/rootfs/dev"
cp /bin/busybox "$b/rootfs/bin/"
ln -s busybox "$b/rootfs/bin/true"
"$BERTH" runtime spec --bundle "$b"
# Not a terminal, and run `true` instead of `sh`.
sed -i 's/"terminal": true/"terminal": false/; 0,/"sh"/s//"true"/' "$b/config.json"
hyperfine --style basic -N -w 3 -r 30 --export-markdown "$work/run.md" \
  -n "berth-runtime run" "$BERTH runtime --root $work/berth-state run --bundle $b bench" \
  -n "runc run" "runc --root $work/runc-state run --bundle $b bench"
cat "$work/run.md"
