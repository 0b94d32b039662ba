#!/usr/bin/env bash
# Rootless, side by side in one run, as an unprivileged user (BENCH_USER, default berthtest,
# created with subordinate ids when missing): `berth run --rm IMAGE true` on its default
# network (pasta, or slirp4netns) vs `--network none` vs rootless `podman run --rm IMAGE true`
# and with slirp4netns (default_rootless_network_cmd) vs rootless `podman run --rm IMAGE true`
# on podman's default network (hyperfine's "Relative" column is the ratio); then the RSS of
# the network helpers one container with one published port keeps running (berth: pasta, and
# slirp4netns; podman: slirp4netns and rootlessport, or pasta), and their ratio.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BERTH=${BERTH:-$PWD/bin/berth}
RUNS=${RUNS:-30}
user=${BENCH_USER:-berthtest}
[ "$(id -u)" = 0 ] || { echo "rootless.sh runs as root and benchmarks as $user" >&2; exit 1; }
if ! id "$user" >/dev/null 2>&1; then
  useradd -m "$user"
fi
grep -q "^$user:" /etc/subuid || usermod --add-subuids 300000-365535 --add-subgids 300000-365535 "$user"
chmod 0666 /dev/net/tun # as distributions ship it
work=$(mktemp -d /var/tmp/berth-bench-rootless.XXXXXX)
chmod 755 "$work"
mkdir -p "$work/xdg" && chmod 700 "$work/xdg"
cp "$BERTH" "$work/berth"
[ -x "$(dirname "$BERTH")/berth-monitor" ] && cp "$(dirname "$BERTH")/berth-monitor" "$work/"
ln -s berth "$work/berth-runtime"
chown -R "$user" "$work"
as() { runuser -u "$user" -- env HOME="$work" XDG_RUNTIME_DIR="$work/xdg" "$@"; }
b="runuser -u $user -- env HOME=$work XDG_RUNTIME_DIR=$work/xdg $work/berth --root $work/berth-root --runroot $work/berth-run"
p="runuser -u $user -- env HOME=$work XDG_RUNTIME_DIR=$work/xdg podman --root $work/podman --runroot $work/podman-run --storage-driver overlay --cgroup-manager cgroupfs --runtime runc --events-backend none"
cleanup() {
  $p rm -af >/dev/null 2>&1 || true
  $b rm -af >/dev/null 2>&1 || true
  # podman's pause process outlives its containers; berth's leaves once idle.
  [ -s "$work/xdg/libpod/tmp/pause.pid" ] && kill "$(cat "$work/xdg/libpod/tmp/pause.pid")" 2>/dev/null || true
  as podman unshare rm -rf "$work/podman" >/dev/null 2>&1 || true
  $b unshare rm -rf "$work/berth-root" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh true sleep nc; do ln -s busybox "$work/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" . && chmod 644 "$work/rootfs.tar"
$b import "$work/rootfs.tar" localhost/bench:1 >/dev/null
$p import -q "$work/rootfs.tar" localhost/bench:1 >/dev/null 2>&1
# Each must work before it is timed.
$b run --rm localhost/bench:1 true
$b run --rm --network none localhost/bench:1 true
$p run --rm --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 localhost/bench:1 true 2>/dev/null
hyperfine --style basic -N -w 3 -r "$RUNS" --export-markdown "$work/run.md" \
  -n "berth run --rm (rootless, default network)" "$b run --rm localhost/bench:1 true" \
  -n "berth run --rm --network slirp4netns (rootless)" "$b run --rm --network slirp4netns localhost/bench:1 true" \
  -n "berth run --rm --network none (rootless)" "$b run --rm --network none localhost/bench:1 true" \
  -n "podman run --rm (rootless, default network)" "$p run --rm --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 localhost/bench:1 true"
cat "$work/run.md"

# Helper RSS of one container with one published port: the user's helper processes.
helpers_rss() {
  local total=0 pid rss name
  for pid in $(pgrep -u "$user" -f '^([^ ]*/)?(pasta|passt|passt\.avx2|slirp4netns|rootlessport|rootlessport-child)( |$)' || true); do
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$rss" ] || continue # exiting
    name=$(tr '\0' ' ' < "/proc/$pid/cmdline" | cut -d' ' -f1)
    echo "  $name: ${rss} kB" >&2
    total=$((total + rss))
  done
  echo "$total"
}
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
for mode in pasta slirp4netns; do
  $b run -d --name rss --network $mode -p "$(port):80" localhost/bench:1 sleep 100 >/dev/null
  sleep 0.5
  echo "berth helpers ($mode):"
  kb=$(helpers_rss)
  eval "berth_$mode=$kb"
  $b rm -f rss >/dev/null
done
$p run -d --name rss -p "$(port):80" --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 localhost/bench:1 sleep 100 >/dev/null 2>&1
sleep 0.5
echo "podman helpers:"
podman_kb=$(helpers_rss)
$p rm -f rss >/dev/null 2>&1
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo "helper RSS per container with one published port: berth (pasta) ${berth_pasta} kB, berth (slirp4netns) ${berth_slirp4netns} kB, podman ${podman_kb} kB; ratio to podman: pasta $(ratio "$berth_pasta" "$podman_kb"), slirp4netns $(ratio "$berth_slirp4netns" "$podman_kb")"
