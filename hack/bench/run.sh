#!/usr/bin/env bash
# `berth run --rm IMAGE true` against `podman run --rm --network none IMAGE true`, side by side
# in one hyperfine run (the "Relative" column is the ratio), then the monitor's RSS.
set -euo pipefail
cd "$(dirname "$0")/../.."
BERTH=${BERTH:-$PWD/bin/berth}
work=$(mktemp -d /var/tmp/berth-bench-run.XXXXXX)
b="$BERTH --root $work/berth --runroot $work/berth-run"
p="podman --root $work/podman --runroot $work/podman-run --storage-driver overlay --cgroup-manager cgroupfs --runtime runc"
cleanup() { $p rm -af >/dev/null 2>&1 || true; $b rm -f rss >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh true sleep; do ln -s busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
$b import -q "$work/rootfs.tar" localhost/bench:1 >/dev/null 2>&1 || $b import "$work/rootfs.tar" localhost/bench:1 >/dev/null
$p import -q "$work/rootfs.tar" localhost/bench:1 >/dev/null
hyperfine --style basic -N -w 3 -r 20 --export-markdown "$work/run.md" \
  -n "berth run --rm" "$b run --rm localhost/bench:1 true" \
  -n "podman run --rm --network none (runc)" "$p run --rm --network none localhost/bench:1 true"
cat "$work/run.md"
$b run -d --name rss localhost/bench:1 sleep 100 >/dev/null
pid=$(pgrep -f "berth-monitor --id .* --runtime-root $work/berth-run/runtime" | head -1)
echo "berth-monitor RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
