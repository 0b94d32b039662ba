#!/usr/bin/env bash
# Builds, side by side in one run each: `berth build` vs `podman build` (buildah inside podman).
# (a) a 6-step Dockerfile, cold (--no-cache) and fully cached, with hyperfine;
# (b) the headline: N (default 50) concurrent builds of a 4-step Dockerfile, each with a unique
#     build arg so nothing is shared. A sampler sums, every 100 ms, VmRSS (and PSS, which splits
#     shared binary pages fairly) of every process involved: the engine's own processes
#     (berth*, podman, conmon, runc, buildah) and everything they started (RUN commands).
#     It reports the peak, the wall time, whether all N succeeded, and how long `berth ps` /
#     `berth images` take while the builds run.
set -euo pipefail
cd "$(dirname "$0")/../.."
BERTH=${BERTH:-$PWD/bin/berth}
N=${BUILDS:-50}
PARTS=${PARTS:-"single concurrent"}   # which parts to run
ENGINES=${ENGINES:-"berth podman"}    # which engines the concurrent part runs
work=$(mktemp -d /var/tmp/berth-bench-build.XXXXXX)
b="$BERTH --root $work/berth --runroot $work/berth-run"
p="podman --root $work/podman --runroot $work/podman-run --storage-driver overlay --cgroup-manager cgroupfs --runtime runc --events-backend none"
cleanup() {
  $p rm -af >/dev/null 2>&1 || true
  $p rmi -af >/dev/null 2>&1 || true
  grep " $work" /proc/mounts | awk '{print $2}' | sort -r | xargs -r umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh true sleep cat echo wc mkdir; do ln -s busybox "$work/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
$b import "$work/rootfs.tar" localhost/bench:1 >/dev/null
$p import -q "$work/rootfs.tar" localhost/bench:1 >/dev/null

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
import os, sys, time, signal
names = {"berth", "berth-runtime", "berth-monitor", "podman", "conmon", "runc", "buildah", "catatonit"}
engine_exe = set(os.path.realpath(x) for x in sys.argv[2:])
baseline = set(int(p) for p in os.listdir("/proc") if p.isdigit())
out = sys.argv[1]
open(out + ".ready", "w").close()  # the baseline is taken: the engine may start
peak = {"rss": 0, "pss": 0, "procs": 0}
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
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
    procs = {}
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) in baseline:
            continue
        pid = int(d)
        try:
            with open(f"/proc/{pid}/stat") as f:
                s = f.read()
            comm = s[s.index("(") + 1:s.rindex(")")]
            ppid = int(s[s.rindex(")") + 2:].split()[1])
            exe = ""
            try:
                exe = os.path.realpath(f"/proc/{pid}/exe")
            except OSError:
                pass
            procs[pid] = (ppid, comm, exe)
        except (OSError, ValueError):
            continue
    picked = set()
    def involved(pid, depth=0):
        if pid in picked:
            return True
        if pid not in procs or depth > 64:
            return False
        ppid, comm, exe = procs[pid]
        if exe in engine_exe or os.path.basename(exe) in names or comm in names:
            return True
        return involved(ppid, depth + 1)
    for pid in procs:
        if involved(pid):
            picked.add(pid)
    rss = sum(field(pid, "status", "VmRSS:") for pid in picked)
    pss = sum(field(pid, "smaps_rollup", "Pss:") for pid in picked)
    peak["rss"] = max(peak["rss"], rss)
    peak["pss"] = max(peak["pss"], pss)
    peak["procs"] = max(peak["procs"], len(picked))
    time.sleep(0.1)
with open(out, "w") as f:
    f.write(f"{peak['rss']} {peak['pss']} {peak['procs']}\n")
EOF

# concurrent NAME CMD...: runs N builds of the four-step file at once, sampling memory.
concurrent() {
  local name=$1; shift
  python3 "$work/sampler.py" "$work/$name.peak" "$BERTH" &
  local sampler=$!
  while [ ! -e "$work/$name.peak.ready" ]; do sleep 0.05; done
  local start ok=0 pids=()
  start=$(now_ms)
  for i in $(seq "$N"); do
    "$@" --build-arg "N=$name-$i" "$work/four" >"$work/$name.$i.log" 2>&1 &
    pids+=($!)
  done
  # Other commands while the builds run.
  : > "$work/$name.lat"
  if [ "$name" = berth ]; then
    while :; do
      local running=0
      for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && { running=1; break; }; done
      [ $running = 1 ] || break
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
  for pid in "${pids[@]}"; do wait "$pid" && ok=$((ok + 1)); done
  local end
  end=$(now_ms)
  kill -TERM "$sampler"; wait "$sampler" || true
  read -r rss pss procs < "$work/$name.peak"
  printf '%-8s %3d/%d succeeded  wall %6.2f s  peak total RSS %7.1f MB  peak total PSS %7.1f MB  (%d processes at most)\n' \
    "$name" "$ok" "$N" "$(echo "($end - $start) / 1000" | bc -l)" "$(echo "$rss / 1024" | bc -l)" "$(echo "$pss / 1024" | bc -l)" "$procs"
  if [ "$ok" != "$N" ]; then
    for i in $(seq "$N"); do grep -l -i error "$work/$name.$i.log" >/dev/null 2>&1 && { echo "--- $name build $i:"; tail -5 "$work/$name.$i.log"; break; }; done
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
