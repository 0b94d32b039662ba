#!/usr/bin/env bash
# The Engine API's overhead, side by side in one run (hyperfine's "Relative" column is the
# ratio): `docker run --rm IMG true` with the real docker CLI through `berth system service`'s
# socket vs `berth run --rm IMG true` directly, on the same root.
source "$(dirname "$0")/common.bash"
bench_init api
sock="$work/api.sock"
cleanup() {
  [ -n "${svc:-}" ] && kill "$svc" 2>/dev/null && wait "$svc" 2>/dev/null || true
  $b rm -af >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/"
ln -s busybox "$work/rootfs/bin/true"
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
$b import "$work/rootfs.tar" localhost/bench:1 >/dev/null
$b system service --time 0 "unix://$sock" &
svc=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
d="env DOCKER_HOST=unix://$sock DOCKER_CONFIG=$work/docker-config docker"
$d version --format '# docker CLI {{.Client.Version}} (API {{.Client.APIVersion}}) -> berth API {{.Server.APIVersion}}'
hyperfine --style basic -N -w 3 -r 30 --export-markdown "$work/api.md" \
  -n "docker run --rm (berth system service)" "$d run --rm localhost/bench:1 true" \
  -n "berth run --rm" "$b run --rm localhost/bench:1 true"
cat "$work/api.md"
