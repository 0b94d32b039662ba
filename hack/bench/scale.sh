#!/usr/bin/env bash
# How berth's per-command cost grows with the containers a host runs: `scale.sh [N]` (default
# 200, or SCALE_N) keeps two roots side by side, one with a single running container (the
# target of exec and inspect) and one with N more running, and times ps, run --rm, exec,
# inspect and stop in both, interleaved round by round so that the host's load hits both
# alike; it prints each command's median in both roots and their ratio (N / 0), then times
# `rm -af` of the N running containers and checks that no monitor of that root remains.
# SCALE_NETWORK picks the containers' network (default: berth's default bridge; `none` leaves
# the network out), SCALE_ROUNDS the rounds per command (default 15), SCALE_PARALLEL how many
# `run -d` start at once while filling (default 4).
source "$(dirname "$0")/common.bash"
N=${1:-${SCALE_N:-200}}
R=${SCALE_ROUNDS:-15}
P=${SCALE_PARALLEL:-4}
NET=()
[ -n "${SCALE_NETWORK:-}" ] && NET=(--network "$SCALE_NETWORK")
work=$(mktemp -d /var/tmp/berth-bench-scale.XXXXXX)
zero="$BERTH --root $work/zero --runroot $work/zero-run"
many="$BERTH --root $work/many --runroot $work/many-run"
cleanup() {
  $zero rm -af >/dev/null 2>&1 || true
  $many rm -af >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh true sleep; do ln -s busybox "$work/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
img=localhost/scale:1
for e in "$zero" "$many"; do
  $e import "$work/rootfs.tar" $img >/dev/null
  $e run -d "${NET[@]}" --name target $img sleep 100000 >/dev/null
done

echo "starting $N containers (network: ${SCALE_NETWORK:-default}, $P at once)..."
t0=$EPOCHREALTIME
seq "$N" | xargs -P "$P" -I{} $many run -d "${NET[@]}" $img sleep 100000 >/dev/null
t1=$EPOCHREALTIME
running=$($many ps -q | wc -l)
echo "started in $(bc <<< "scale=1; ($t1 - $t0) / 1") s; running: 1 + 0 in one root, $running in the other"

# A stop target per round: a shell that exits on SIGTERM at once.
stoppable=(sh -c 'trap "exit 0" TERM; sleep 100000 & wait')

# ms CMD... runs CMD (output discarded) and prints its wall time in milliseconds.
ms() {
  local s=$EPOCHREALTIME
  "$@" >/dev/null 2>&1 || echo "failed: $*" >&2
  bc <<< "scale=2; ($EPOCHREALTIME - $s) * 1000 / 1"
}
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# bench NAME ARGS... times `berth ARGS` in both roots, R rounds interleaved; a PREP function,
# when set, runs untimed before each and may set $arg to what ARGS name as @.
bench() {
  local name=$1 e f0=$work/t0 fn=$work/tn
  shift
  : > "$f0"
  : > "$fn"
  for _ in $(seq "$R"); do
    for e in zero many; do
      local cmd=${!e} args=("$@") i
      if [ -n "${PREP:-}" ]; then arg=$($PREP "$cmd"); fi
      for i in "${!args[@]}"; do [ "${args[$i]}" = @ ] && args[$i]=$arg; done
      if [ $e = zero ]; then ms $cmd "${args[@]}" >> "$f0"; else ms $cmd "${args[@]}" >> "$fn"; fi
    done
  done
  local m0 mn
  m0=$(median < "$f0")
  mn=$(median < "$fn")
  printf '%-26s %10s ms %10s ms %8s\n' "$name" "$m0" "$mn" "$(bc <<< "scale=2; $mn / $m0")"
}

printf '%-26s %13s %13s %8s\n' "median of $R (interleaved)" "0 running" "$N running" "ratio"
bench "ps" ps
bench "run --rm true" run --rm "${NET[@]}" $img true
bench "exec true" exec target true
bench "inspect" inspect target
PREP=prep_stop
prep_stop() { $1 run -d "${NET[@]}" $img "${stoppable[@]}"; }
bench "stop" stop @
unset PREP
$zero rm -af >/dev/null

echo "removing $((running)) running containers with rm -af..."
t0=$EPOCHREALTIME
$many rm -af >/dev/null
t1=$EPOCHREALTIME
left=$(pgrep -fc "berth-monitor .*$work/many-run" || true)
printf 'rm -af of %d running: %s s; monitors left: %d; records left: %d\n' "$running" \
  "$(bc <<< "scale=2; ($t1 - $t0) / 1")" "$left" "$($many ps -aq | wc -l)"
