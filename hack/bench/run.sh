#!/usr/bin/env bash
# Containers, side by side in one run each (hyperfine's "Relative" column is the ratio):
# `berth run --rm` vs `podman run --rm --network none` vs `runc run` of the same bundle;
# (podman gets --ulimit nofile=1024:1024 --ulimit nproc=1024:1024: its default nofile is above what this host allows)
# `berth ps -a` vs `podman ps -a` over 1,000 containers; berth-monitor's RSS vs conmon's.
source "$(dirname "$0")/common.bash"
N=${PS_CONTAINERS:-1000}
bench_init run
cleanup() {
  umount -R "$work/bundle/rootfs" 2>/dev/null || true
  bench_cleanup
}
trap cleanup EXIT
bench_image sh true sleep
# runc's bundle: the same rootfs, the config berth-runtime's spec writes, no terminal.
mkdir -p "$work/bundle" && cp -a "$work/rootfs" "$work/bundle/rootfs"
(cd "$work/bundle" && "$BERTH" runtime spec && sed -i 's/"terminal": true/"terminal": false/; s/"sh"/"true"/' config.json)
hyperfine --style basic -N -w 3 -r 30 --export-markdown "$work/run.md" \
  -n "berth run --rm" "$b run --rm localhost/bench:1 true" \
  -n "podman run --rm --network none (runc)" "$p run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 localhost/bench:1 true" \
  -n "runc run (bundle only)" "runc --root $work/runc run -b $work/bundle bench"
cat "$work/run.md"

echo "creating $N containers for each engine..."
for i in $(seq "$N"); do echo "create localhost/bench:1 true"; done | sed "s|^|$b |" | xargs -P 4 -I{} sh -c '{} >/dev/null'
for i in $(seq "$N"); do echo "create localhost/bench:1 true"; done | sed "s|^|$p |; s|create |create --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 |" | xargs -P 4 -I{} sh -c '{} >/dev/null'
hyperfine --style basic -N -w 2 -r 10 --export-markdown "$work/ps.md" \
  -n "berth ps -a ($N containers)" "$b ps -a" \
  -n "podman ps -a ($N containers)" "$p ps -a"
cat "$work/ps.md"
$b rm -af >/dev/null; $p rm -af >/dev/null

$b run -d --name rss localhost/bench:1 sleep 100 >/dev/null
$p run -d --name rss --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 localhost/bench:1 sleep 100 >/dev/null
sleep 0.5
rss() { awk '/VmRSS/ {print $2, $3}' "/proc/$1/status"; }
mon=$(pgrep -f "berth-monitor --id .* --runtime-root $work/berth-run/runtime" | head -1)
con=$(pgrep -f "conmon .*$work/podman" | head -1 || true)
echo "berth-monitor RSS: $(rss "$mon")"
[ -n "$con" ] && echo "conmon RSS: $(rss "$con")"
