#!/usr/bin/env bash
# Builds, side by side in one run each: `berth build` vs `podman build` (buildah inside podman).
# (a) a 6-step Dockerfile, cold (--no-cache) and fully cached, with hyperfine;
# (b) the headline: N (default 50) concurrent builds of a 4-step Dockerfile, each with a unique
#     build arg so nothing is shared. A sampler sums, every 100 ms, VmRSS (and PSS, which splits
#     shared binary pages fairly) of every process involved: everything the launching shell
#     started (the engine's processes, its runtime, the RUN commands) and anything whose
#     command line names the engine's runroot (a daemon it detached, e.g. conmon).
#     It reports the peak, the wall time, whether all N succeeded, and how long `berth ps` /
#     `berth images` take while the builds run.
source "$(dirname "$0")/common.bash"
N=${BUILDS:-50}
PARTS=${PARTS:-"single concurrent"}   # which parts to run
ENGINES=${ENGINES:-"berth podman"}    # which engines the concurrent part runs
bench_init build
cleanup() {
  $p rmi -af >/dev/null 2>&1 || true
  grep " $work" /proc/mounts | awk '{print $2}' | sort -r | xargs -r umount -l 2>/dev/null || true
  bench_cleanup
}
trap cleanup EXIT
bench_image sh true sleep cat echo wc mkdir

# (a) six steps: FROM, COPY, RUN, ENV, RUN, CMD.
mkdir -p "$work/six"
head -c 1048576 /dev/urandom > "$work/six/data.bin"
cat > "$work/six/Dockerfile" <<'EOF'
FROM localhost/bench:1
COPY data.bin /data.bin
RUN mkdir -p /app && wc -c /data.bin > /app/size
ENV APP=/app
RUN cat /app/size > /app/copy
CMD ["cat", "/app/copy"]
EOF
pb="$p build --network host --ulimit nofile=1024:1024"
now_ms() { date +%s%3N; }
if [[ " $PARTS " == *" single "* ]]; then
$b build -q -t localhost/six:1 "$work/six" >/dev/null
$pb -q -t localhost/six:1 "$work/six" >/dev/null
hyperfine --style basic -N -w 1 -r 10 --export-markdown "$work/cold.md" \
  -n "berth build --no-cache (6 steps)" "$b build -q --no-cache $work/six" \
  -n "podman build --no-cache (6 steps)" "$pb -q --no-cache $work/six"
cat "$work/cold.md"
hyperfine --style basic -N -w 2 -r 20 --export-markdown "$work/cached.md" \
  -n "berth build, fully cached (6 steps)" "$b build -q $work/six" \
  -n "podman build, fully cached (6 steps)" "$pb -q $work/six"
cat "$work/cached.md"
fi

# (b) N concurrent builds of four steps with a unique build arg each.
mkdir -p "$work/four"
cat > "$work/four/Dockerfile" <<'EOF'
FROM localhost/bench:1
ARG N
RUN echo "$N" > /n
RUN cat /n /n > /nn
EOF

cat > "$work/sampler.py" <<'EOF'
# sampler.py OUT ROOTPID MARK: every 100 ms, sums VmRSS and PSS of the processes that
# descend from ROOTPID (the shell that starts the builds: engines, runtimes, RUN commands) or
# whose command line contains MARK (daemons an engine detaches, like conmon); keeps the peak.
import os, sys, time, signal
out, root, mark = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
peak = {"rss": 0, "pss": 0, "procs": 0}
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
open(out + ".ready", "w").close()
def field(pid, path, key):
    try:
        with open(f"/proc/{pid}/{path}") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
while not stop:
    parent = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
            parent[int(d)] = int(s[s.rindex(")") + 2:].split()[1])
        except (OSError, ValueError):
            continue
    picked = set()
    for pid in parent:
        p, depth = pid, 0
        while p in parent and p > 1 and p != root and depth < 64:
            p, depth = parent[p], depth + 1
        if p == root and pid != root:
            picked.add(pid)
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if mark in f.read():
                    picked.add(pid)
        except OSError:
            pass
    picked.discard(os.getpid())
    rss = sum(field(pid, "status", "VmRSS:") for pid in picked)
    pss = sum(field(pid, "smaps_rollup", "Pss:") for pid in picked)
    if rss > peak["rss"]:
        peak["rss"], peak["procs"] = rss, len(picked)
    peak["pss"] = max(peak["pss"], pss)
    time.sleep(0.1)
with open(out, "w") as f:
    f.write(f"{peak['rss']} {peak['pss']} {peak['procs']}\n")
EOF

# concurrent NAME CMD...: runs N builds of the four-step file at once from one launcher shell,
# sampling the memory of everything the launcher started.
concurrent() {
  local name=$1; shift
  rm -f "$work/$name.go"
  (
    while [ ! -e "$work/$name.go" ]; do sleep 0.02; done
    pids=()
    for i in $(seq "$N"); do
      "$@" --build-arg "N=$name-$i" "$work/four" >"$work/$name.$i.log" 2>&1 &
      pids+=($!)
    done
    for i in $(seq "$N"); do
      rc=0; wait "${pids[$((i - 1))]}" || rc=$?
      echo $rc > "$work/$name.$i.rc"
    done
  ) &
  local launcher=$!
  python3 "$work/sampler.py" "$work/$name.peak" "$launcher" "$work/$name-run" &
  local sampler=$!
  while [ ! -e "$work/$name.peak.ready" ]; do sleep 0.05; done
  local start ok=0
  start=$(now_ms)
  touch "$work/$name.go"
  # Other commands while the builds run (not counted in the memory: they are not builds).
  : > "$work/$name.lat"
  if [ "$name" = berth ]; then
    while kill -0 "$launcher" 2>/dev/null; do
      for c in ps images true; do
        local t0 t1
        if [ $c = true ]; then
          t0=$(now_ms); /bin/true; t1=$(now_ms) # the control: any process start on this machine
        else
          t0=$(now_ms); $b $c >/dev/null; t1=$(now_ms)
        fi
        echo "$c $((t1 - t0))" >> "$work/$name.lat"
      done
      sleep 0.2
    done
  fi
  wait "$launcher" || true
  local end
  end=$(now_ms)
  for i in $(seq "$N"); do [ "$(cat "$work/$name.$i.rc" 2>/dev/null)" = 0 ] && ok=$((ok + 1)); done
  kill -TERM "$sampler"; wait "$sampler" || true
  read -r rss pss procs < "$work/$name.peak"
  printf '%-8s %3d/%d succeeded  wall %6.2f s  peak total RSS %7.1f MB  peak total PSS %7.1f MB  (%d processes at the RSS peak)\n' \
    "$name" "$ok" "$N" "$(echo "($end - $start) / 1000" | bc -l)" "$(echo "$rss / 1024" | bc -l)" "$(echo "$pss / 1024" | bc -l)" "$procs"
  if [ "$ok" != "$N" ]; then
    for i in $(seq "$N"); do [ "$(cat "$work/$name.$i.rc" 2>/dev/null)" = 0 ] || { echo "--- $name build $i:"; tail -5 "$work/$name.$i.log"; break; }; done
  fi
}
[[ " $PARTS " == *" concurrent "* ]] || exit 0
echo
for c in ps images; do # the same commands on an idle machine, for comparison
  for i in 1 2 3 4 5; do t0=$(now_ms); $b $c >/dev/null; t1=$(now_ms); echo $((t1 - t0)); done |
    sort -n | awk -v c=$c '{v[n++] = $1} END {printf "berth %-6s idle: median %d ms\n", c, v[int(n/2)]}'
done
echo "$N concurrent builds of a 4-step Dockerfile, one unique build arg each:"
[[ " $ENGINES " == *" berth "* ]] && concurrent berth $b build -q
[[ " $ENGINES " == *" podman "* ]] && concurrent podman $pb -q
for c in ps images true; do
  [ -e "$work/berth.lat" ] || break
  label="berth $c"; [ $c = true ] && label="/bin/true (control)"
  sort -n -k2 "$work/berth.lat" | awk -v c=$c -v l="$label" '$1 == c {v[n++] = $2} END {if (n) printf "%-20s while the builds ran: %d samples, median %d ms, max %d ms\n", l, n, v[int(n/2)], v[n-1]}'
done
$b images -q | wc -l | xargs echo "berth images after the run:"
