#!/usr/bin/env bash
# Networking, side by side in one run (hyperfine's "Relative" column is the ratio):
# `berth run --rm IMAGE true` on the default bridge vs the same with `--network none` (the
# difference is what networking costs a run: netns, veth pair, address, routes, rules and
# their teardown) vs `podman run --rm IMAGE true` on podman's default network.
# (podman gets --ulimit nofile=1024:1024 --ulimit nproc=1024:1024: its default nofile is above what this host allows)
source "$(dirname "$0")/common.bash"
RUNS=${RUNS:-30}
bench_init net
trap bench_cleanup EXIT
bench_image sh true sleep
# Each must work before it is timed.
$b run --rm localhost/bench:1 true
$b run --rm --network none localhost/bench:1 true
$p run --rm --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 localhost/bench:1 true
hyperfine --style basic -N -w 3 -r "$RUNS" --export-markdown "$work/net.md" \
  -n "berth run --rm (default bridge)" "$b run --rm localhost/bench:1 true" \
  -n "berth run --rm --network none" "$b run --rm --network none localhost/bench:1 true" \
  -n "podman run --rm (default network, runc)" "$p run --rm --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 localhost/bench:1 true"
cat "$work/net.md"
# Where a bridge run's time goes, from berth's own debug timings: one run's steps, then the
# median of setup and teardown over $RUNS runs (less sensitive to a busy host than wall time).
$b --log-level debug run --rm localhost/bench:1 true 2>&1 | grep -o 'network: [^"]*' || true
for i in $(seq "$RUNS"); do $b --log-level debug run --rm localhost/bench:1 true 2>&1; done |
  grep -oE 'network: (set up|torn down) in [0-9.]+(ms|µs|s)' |
  awk '{ v = $NF; u = v; sub(/^[0-9.]+/, "", u); sub(/(ms|µs|s)$/, "", v);
         ms = (u == "µs") ? v / 1000 : (u == "s") ? v * 1000 : v;
         print (($2 == "set") ? "setup" : "teardown"), ms }' > "$work/steps.txt"
for k in setup teardown; do
  grep "^$k " "$work/steps.txt" | sort -k2 -n |
    awk -v k="$k" '{ a[NR] = $2 } END { if (NR) printf "network %s: median %.2f ms over %d runs\n", k, a[int((NR + 1) / 2)], NR }'
done
