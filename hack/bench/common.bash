# Sourced by the container benchmarks (not run by bench.sh: it runs *.sh): a work directory,
# berth and podman command lines over private roots in it, and a busybox image.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BERTH=${BERTH:-$PWD/bin/berth}

# bench_init NAME sets work, b (berth) and p (podman, with the flags that work on this host).
bench_init() {
  work=$(mktemp -d "/var/tmp/berth-bench-$1.XXXXXX")
  b="$BERTH --root $work/berth --runroot $work/berth-run"
  p="podman --root $work/podman --runroot $work/podman-run --storage-driver overlay --cgroup-manager cgroupfs --runtime runc --events-backend none"
}

# bench_cleanup removes both engines' containers and the work directory.
bench_cleanup() {
  $p rm -af >/dev/null 2>&1 || true
  $b rm -af >/dev/null 2>&1 || true
  rm -rf "$work"
}

# bench_image APPLET... imports a busybox rootfs with those applets as localhost/bench:1
# into both engines; the rootfs stays in $work/rootfs.
bench_image() {
  mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
  cp /bin/busybox "$work/rootfs/bin/"
  for a in "$@"; do ln -s busybox "$work/rootfs/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
  tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
  $b import "$work/rootfs.tar" localhost/bench:1 >/dev/null
  $p import -q "$work/rootfs.tar" localhost/bench:1 >/dev/null
}

# bench_pods_init NAME is bench_init for the pod benchmarks: pods of both engines go at exit,
# and podman gets nofile/nproc limits this host allows (its default nofile is above them, and
# pod create has no --ulimit for the infra container).
bench_pods_init() {
  bench_init "$1"
  trap 'bench_pods_cleanup' EXIT
  printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n' > "$work/containers.conf"
  export CONTAINERS_CONF=$work/containers.conf
}

bench_pods_cleanup() {
  $p pod rm -af -t 0 >/dev/null 2>&1 || true
  $b pod rm -af >/dev/null 2>&1 || true
  bench_cleanup
}
