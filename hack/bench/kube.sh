#!/usr/bin/env bash
# Kubernetes YAML, side by side in one run (hyperfine's "Relative" column is the ratio):
# `berth kube play` vs `podman kube play` of one Pod of 3 containers, started, with no network
# (podman then needs no netavark); each run starts from nothing, the previous play removed
# outside the timing. Both engines make their pause image before the timing.
#
# Podman's cgroupfs manager makes a pod cgroup under every v1 controller /proc/cgroups lists;
# this host mounts no net_cls, net_prio, perf_event or hugetlb hierarchy and its /sys/fs/cgroup
# is a read-only tmpfs, so `podman kube play` fails there (podman pod create has
# --share-parent=false for that, kube play has nothing). The whole benchmark therefore runs in
# a private mount namespace where /sys/fs/cgroup is a writable tmpfs holding the host's real
# hierarchies and plain directories for the unmounted ones; berth runs in it too.
if [ -z "${BERTH_BENCH_NS:-}" ]; then
  exec env BERTH_BENCH_NS=1 unshare -m --propagation private bash "$0" "$@"
fi
cg=$(mktemp -d)
mount --move /sys/fs/cgroup "$cg"
mount -t tmpfs -o mode=755 bench-cgroup /sys/fs/cgroup
for d in "$cg"/*; do
  n=$(basename "$d")
  mkdir "/sys/fs/cgroup/$n"
  if mountpoint -q "$d"; then mount --rbind "$d" "/sys/fs/cgroup/$n"; fi
done
umount -R "$cg" && rmdir "$cg" # each hierarchy mounted once, as a container's cgroup mounts expect

source "$(dirname "$0")/common.bash"
bench_pods_init kube
bench_image sleep
cat > "$work/pod.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: bench
spec:
  restartPolicy: Never
  containers:
  - {name: a, image: localhost/bench:1, command: [/bin/sleep, "1000"]}
  - {name: b, image: localhost/bench:1, command: [/bin/sleep, "1000"]}
  - {name: c, image: localhost/bench:1, command: [/bin/sleep, "1000"]}
YAML
play_b="$b kube play --network none $work/pod.yaml"
play_p="$p kube play --network none $work/pod.yaml"
# Podman's down reports cgroup directories it cannot remove from the plain directories above;
# the pod is gone all the same.
down_b="bash -c '$b pod rm -af >/dev/null'"
down_p="bash -c '$p pod rm -af -t 0 >/dev/null 2>&1 || true'"
$play_b >/dev/null && eval "$down_b"
$play_p >/dev/null && eval "$down_p"
hyperfine --style basic -N -w 2 -r 20 --export-markdown "$work/kube.md" \
  -n "berth kube play (pod of 3 containers)" --prepare "$down_b" "$play_b" \
  -n "podman kube play (pod of 3 containers)" --prepare "$down_p" "$play_p"
cat "$work/kube.md"
