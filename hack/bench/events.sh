#!/usr/bin/env bash
# The event log's cost on the hot path and its readers, side by side in one run each:
# `berth run --rm` (five events: create, attach, start, die, destroy) against the same
# command of BERTH_BEFORE, a berth built without the event log, when it is given;
# `berth events` over a full log (8 segments of 1 MiB, ~40,000 events, made of copies of
# the events 800 concurrent volume commands wrote): all of it, a filtered window, and a resume
# from a cursor near the end.
source "$(dirname "$0")/common.bash"
bench_init events
trap bench_cleanup EXIT
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/" && ln -s busybox "$work/rootfs/bin/true"
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
$b import "$work/rootfs.tar" localhost/bench:1 >/dev/null
runs=(-n "berth run --rm (event log)" "$b run --rm localhost/bench:1 true")
if [ -n "${BERTH_BEFORE:-}" ]; then
  before="$BERTH_BEFORE --root $work/before --runroot $work/before-run"
  $before import "$work/rootfs.tar" localhost/bench:1 >/dev/null
  runs+=(-n "berth run --rm (BERTH_BEFORE)" "$before run --rm localhost/bench:1 true")
fi
hyperfine --style basic -N -w 5 -r 60 --export-markdown "$work/run.md" "${runs[@]}"
cat "$work/run.md"

# Fill the log as many processes would: 40 writers appending at once, until it rotates.
echo "filling the event log..."
for i in $(seq 400); do echo "volume create v$i"; done | sed "s|^|$b |" | xargs -P 40 -I{} sh -c '{} >/dev/null'
for i in $(seq 400); do echo "volume rm v$i"; done | sed "s|^|$b |" | xargs -P 40 -I{} sh -c '{} >/dev/null'
# Grow it to the default bound: 8 segments of 1 MiB, each filled with copies of those lines.
ev="$work/berth/events"
cat "$ev"/events-*.log > "$work/lines"
rm -f "$ev"/events-*.log
for s in $(seq 8); do
  f=$(printf '%s/events-%020d.log' "$ev" "$s")
  while [ "$(stat -c %s "$f" 2>/dev/null || echo 0)" -lt $((1024 * 1024 - 250000)) ]; do cat "$work/lines" >> "$f"; done
done
n=$($b events --stream=false --format '{{.Cursor}}' | wc -l)
cursor=$($b events --stream=false --format '{{.Cursor}}' | tail -100 | head -1)
echo "log: $n events in $(ls "$ev" | grep -c '^events-') segments, $(du -sh "$ev" | cut -f1)"
hyperfine --style basic -N -w 2 -r 20 --export-markdown "$work/read.md" \
  -n "berth events --stream=false (all $n)" "$b events --stream=false" \
  -n "berth events --filter volume=v7 (of $n)" "$b events --stream=false --filter volume=v7" \
  -n "berth events --since CURSOR (last 100)" "$b events --stream=false --since $cursor"
cat "$work/read.md"
