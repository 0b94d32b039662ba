#!/usr/bin/env bash
# Pods, side by side in one run (hyperfine's "Relative" column is the ratio): `pod create`
# and two containers started in it (`run -d --pod`), berth vs podman, both --network none;
# then the memory of each pod's infra process (berth-pause vs podman's catatonit pause).
# Podman gets --share-parent=false (its pod cgroup would be made under this host's read-only
# cgroup v1 net_cls) and a containers.conf with nofile/nproc limits the host allows (its default
# nofile is above them, and pod create has no --ulimit for the infra container).
source "$(dirname "$0")/common.bash"
bench_pods_init pod
bench_image sleep
# Each engine makes its pause image on first use: not part of what is timed.
$b pod create --name warm --network none >/dev/null && $b pod rm -f warm >/dev/null
$p pod create --name warm --network none --share-parent=false >/dev/null && $p pod rm -f warm >/dev/null
pod_berth="$b pod create --name bench --network none >/dev/null && $b run -d --pod bench localhost/bench:1 sleep 100 >/dev/null && $b run -d --pod bench localhost/bench:1 sleep 100 >/dev/null"
pod_podman="$p pod create --name bench --network none --share-parent=false >/dev/null && $p run -d --pod bench localhost/bench:1 sleep 100 >/dev/null 2>&1 && $p run -d --pod bench localhost/bench:1 sleep 100 >/dev/null 2>&1"
hyperfine --style basic -N -w 2 -r 15 --export-markdown "$work/pod.md" \
  -n "berth pod create + 2 x run -d --pod" --prepare "bash -c '$b pod rm -af >/dev/null'" "bash -c '$pod_berth'" \
  -n "podman pod create + 2 x run -d --pod" --prepare "bash -c '$p pod rm -af -t 0 >/dev/null 2>&1'" "bash -c '$pod_podman'"
cat "$work/pod.md"

rss() { awk '/VmRSS|RssAnon/ {printf "%s %s %s  ", $1, $2, $3} END {print ""}' "/proc/$1/status"; }
bpid=$($b inspect -f '{{.State.Pid}}' "$($b pod inspect -f '{{.InfraContainerID}}' bench)")
ppid=$($p inspect -f '{{.State.Pid}}' "$($p pod inspect -f '{{.InfraContainerID}}' bench)")
echo "berth-pause (infra) $(rss "$bpid")"
echo "catatonit -P (podman infra) $(rss "$ppid")"
