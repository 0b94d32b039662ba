#!/usr/bin/env bash
# The main job end to end: build an image with `berth build` from a Dockerfile (FROM scratch,
# COPY Debian's busybox-static and its links, RUN a step in a container) and run it.
set -euo pipefail
cd "$(dirname "$0")/.."
berth=${BERTH:-./bin/berth}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ctx/rootfs/bin" "$work/ctx/rootfs/etc" "$work/ctx/rootfs/tmp"
cp /bin/busybox "$work/ctx/rootfs/bin/busybox"
for a in sh ls cat echo true false sleep id env ps uname date wc; do ln -s busybox "$work/ctx/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/ctx/rootfs/etc/passwd"
echo 'root:x:0:' > "$work/ctx/rootfs/etc/group"
cat > "$work/ctx/Dockerfile" <<'EOF'
FROM scratch
COPY rootfs/ /
RUN echo "built by berth on $(uname -m) at $(date -u +%Y-%m-%dT%H:%M:%SZ)" > /etc/built-by \
 && ls /bin | wc -l > /etc/applets
ENV GREETING="hello from a berth-built container"
CMD ["sh", "-c", "echo $GREETING; cat /etc/built-by; echo applets: $(cat /etc/applets)"]
EOF
$berth build -t localhost/busybox-demo:latest "$work/ctx"
$berth images
$berth run --rm localhost/busybox-demo:latest
