#!/usr/bin/env bash
# The main job end to end: build a busybox image locally from Debian's busybox-static and use it.
set -euo pipefail
cd "$(dirname "$0")/.."
berth=${BERTH:-./bin/berth}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/busybox"
for a in sh ls cat echo true false sleep id env ps; do ln -s busybox "$work/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
$berth import --change 'CMD ["sh"]' "$work/rootfs.tar" localhost/busybox-demo:latest
$berth images
$berth run --rm localhost/busybox-demo:latest echo "hello from a berth container"
