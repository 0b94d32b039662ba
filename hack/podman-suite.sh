#!/usr/bin/env bash
# podman-suite.sh runs Podman's own system tests (the BATS files of containers/podman's test/system)
# against berth, or against podman for comparison, offline and on private storage.
#
#   hack/podman-suite.sh [-e berth|podman] [-k] PODMAN_TEST_SYSTEM_DIR [FILES...]
#
# PODMAN_TEST_SYSTEM_DIR is a copy of test/system at the tag of the podman to compare with (v4.3.1 here):
#   git --git-dir=<podman clone>/.git archive v4.3.1 test/system | tar -x -C /tmp/podman-v4.3.1
# FILES are bats file names or numbers (030, 030-run.bats); without any, the files for the features berth has.
#
# The script builds the suite's test image (quay.io/libpod/testimage:20220615: its files, labels, history,
# timestamps and helper programs) from Debian's busybox-static plus small static stand-ins where Debian's
# busybox lacks what Alpine's has, loads it into the engine's private storage, and runs each file with PODMAN
# set to a wrapper that points the engine at that storage. Nothing is pulled: the image is loaded, and a
# test's pull of anything else fails (on this project's machines there is no route to a registry; for podman
# the wrapper also blocks quay.io and docker.io in a private registries.conf).
# It prints one line per file (passed, failed, skipped) and a total `N passed, M failed`. Logs stay in the
# work directory (printed at the end); -k keeps the storage too.
#
# Needs: bats, jq, gcc with static libc (libc6-dev), busybox-static; root for the engines' full features.
set -euo pipefail

engine=berth
keep=
while getopts "e:k" opt; do
  case $opt in
    e) engine=$OPTARG ;;
    k) keep=1 ;;
    *) echo "usage: $0 [-e berth|podman] [-k] PODMAN_TEST_SYSTEM_DIR [FILES...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: $0 [-e berth|podman] [-k] PODMAN_TEST_SYSTEM_DIR [FILES...]" >&2; exit 2; }
suite=$(cd "$1" && pwd)
shift
[ -f "$suite/helpers.bash" ] || { echo "$suite: not podman's test/system (no helpers.bash)" >&2; exit 2; }
for tool in bats jq gcc busybox; do
  command -v $tool >/dev/null || { echo "$tool not found (apt-get install bats jq gcc libc6-dev busybox-static)" >&2; exit 2; }
done

repo=$(cd "$(dirname "$0")/.." && pwd)
case $engine in
  berth) bin=${BERTH:-$repo/bin/berth}; [ -x "$bin" ] || { echo "$bin not found: run make berth, or set BERTH" >&2; exit 2; } ;;
  podman) bin=${PODMAN_BIN:-$(command -v podman)} ;;
  *) echo "unknown engine $engine: berth or podman" >&2; exit 2 ;;
esac

# The files for the features berth has (or is getting); the rest need the internet, buildah, systemd units
# of the host, SELinux, checkpointing or ssh.
default_files=(001 005 010 011 015 020 030 032 035 040 045 050 055 060 065 070 075 080 090 110 120 125 130
               140 160 200 300 500 700)

work=${SUITE_WORK:-$(mktemp -d /tmp/podman-suite.XXXXXX)}
mkdir -p "$work"/{img,logs,bin,tmp}
cleanup() {
  if [ -z "$keep" ]; then
    "$work/bin/podman" rm -a -f -t 0 >/dev/null 2>&1 || true
    "$work/bin/podman" pod rm -a -f -t 0 >/dev/null 2>&1 || true
    umount -R "$work/root" 2>/dev/null || true
    rm -rf "$work/root" "$work/runroot" "$work/tmp" 2>/dev/null || true
  fi
}
trap cleanup EXIT

# --- the test image -------------------------------------------------------------------------------
tag=20220615
fqn=quay.io/libpod/testimage:$tag
created=2022-06-15T18:24:08Z # the real image's labels say when; the history test wants a fixed Created
build_image() {
  local d=$work/img rootfs=$work/img/rootfs
  rm -rf "$rootfs"
  mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc,home/podman,root,tmp,var/tmp,var/log,run,proc,sys,dev,mnt,srv,opt,lib}
  chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
  chmod 700 "$rootfs/root"
  cp /bin/busybox "$rootfs/bin/busybox"
  # Applets where Alpine puts them; /bin/sh and /bin/ash are busybox's ash.
  local p
  while read -r p; do
    [ -e "$rootfs/$p" ] || ln -s /bin/busybox "$rootfs/$p"
  done < <(busybox --list-full)
  ln -sf /bin/busybox "$rootfs/bin/ash"
  # Stand-ins for what Alpine's busybox has and Debian's lacks: printenv must print exactly the
  # environment (a script would add the shell's PWD and SHLVL).
  cat >"$d/printenv.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
extern char **environ;
int main(int argc, char **argv) {
	if (argc < 2) {
		for (char **e = environ; *e; e++)
			puts(*e);
		return 0;
	}
	int rc = 0;
	for (int i = 1; i < argc; i++) {
		char *v = getenv(argv[i]);
		if (v)
			puts(v);
		else
			rc = 1;
	}
	return rc;
}
EOF
  gcc -static -Os -s -o "$rootfs/usr/bin/printenv" "$d/printenv.c"
  ln -sf /usr/bin/printenv "$rootfs/bin/printenv"
  # Alpine's accounts and release files.
  cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/ash
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
adm:x:3:4:adm:/var/adm:/sbin/nologin
lp:x:4:7:lp:/var/spool/lpd:/sbin/nologin
sync:x:5:0:sync:/sbin:/bin/sync
shutdown:x:6:0:shutdown:/sbin:/sbin/shutdown
halt:x:7:0:halt:/sbin:/sbin/halt
mail:x:8:12:mail:/var/mail:/sbin/nologin
news:x:9:13:news:/usr/lib/news:/sbin/nologin
uucp:x:10:14:uucp:/var/spool/uucppublic:/sbin/nologin
operator:x:11:0:operator:/root:/sbin/nologin
man:x:13:15:man:/usr/man:/sbin/nologin
postmaster:x:14:12:postmaster:/var/mail:/sbin/nologin
cron:x:16:16:cron:/var/spool/cron:/sbin/nologin
ftp:x:21:21::/var/lib/ftp:/sbin/nologin
sshd:x:22:22:sshd:/dev/null:/sbin/nologin
at:x:25:25:at:/var/spool/cron/atjobs:/sbin/nologin
squid:x:31:31:Squid:/var/cache/squid:/sbin/nologin
xfs:x:33:33:X Font Server:/etc/X11/fs:/sbin/nologin
games:x:35:35:games:/usr/games:/sbin/nologin
cyrus:x:85:12::/usr/cyrus:/sbin/nologin
vpopmail:x:89:89::/var/vpopmail:/sbin/nologin
ntp:x:123:123:NTP:/var/empty:/sbin/nologin
smmsp:x:209:209:smmsp:/var/spool/mqueue:/sbin/nologin
guest:x:405:100:guest:/dev/null:/sbin/nologin
nobody:x:65534:65534:nobody:/:/sbin/nologin
EOF
  cat >"$rootfs/etc/group" <<'EOF'
root:x:0:root
bin:x:1:root,bin,daemon
daemon:x:2:root,bin,daemon
sys:x:3:root,bin,adm
adm:x:4:root,adm,daemon
tty:x:5:
disk:x:6:root,adm
lp:x:7:lp
mem:x:8:
kmem:x:9:
wheel:x:10:root
floppy:x:11:root
mail:x:12:mail
news:x:13:news
uucp:x:14:uucp
man:x:15:man
cron:x:16:cron
console:x:17:
audio:x:18:
cdrom:x:19:
dialout:x:20:root
ftp:x:21:
sshd:x:22:
input:x:23:
at:x:25:at
tape:x:26:root
video:x:27:root
netdev:x:28:
readproc:x:30:
squid:x:31:squid
xfs:x:33:xfs
kvm:x:34:kvm
games:x:35:
shadow:x:42:
cdrw:x:80:
www-data:x:82:
usb:x:85:
vpopmail:x:89:
users:x:100:games
ntp:x:123:
nofiles:x:200:
smmsp:x:209:smmsp
locate:x:245:
abuild:x:300:
utmp:x:406:
ping:x:999:
nogroup:x:65533:
nobody:x:65534:
EOF
  awk -F: '{print $1 ":!::0:::::"}' "$rootfs/etc/passwd" >"$rootfs/etc/shadow"
  chmod 640 "$rootfs/etc/shadow"
  cat >"$rootfs/etc/os-release" <<'EOF'
NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.16.0
PRETTY_NAME="Alpine Linux v3.16"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
EOF
  echo 3.16.0 >"$rootfs/etc/alpine-release"
  echo localhost >"$rootfs/etc/hostname"
  printf 'nameserver 127.0.0.1\n' >"$rootfs/etc/resolv.conf"
  printf '127.0.0.1\tlocalhost localhost.localdomain\n::1\t\tlocalhost localhost.localdomain\n' >"$rootfs/etc/hosts"
  echo "/bin/sh" >"$rootfs/etc/shells"
  # The suite's own files: testimage-id with the tag and a fixed, well-known mtime ('run --tz' reads
  # it), and the pause script pod tests use as an infra command.
  echo $tag >"$rootfs/home/podman/testimage-id"
  cat >"$rootfs/home/podman/pause" <<'EOF'
#!/bin/sh
#
# Trivial little pause script, used in one of the pod tests
#
echo Confirmed: testimage pause invoked as $0
while :; do
    sleep 0.1
done
EOF
  chmod 755 "$rootfs/home/podman/pause"
  find "$rootfs" -exec touch -h --date="$created" {} +
  touch --date=@1600000000 "$rootfs/home/podman/testimage-id"

  # A docker-archive: one layer, its config with the build's labels and history, and the tag.
  (cd "$rootfs" && tar --sort=name --numeric-owner --owner=0 --group=0 -cf "$d/layer.tar" .)
  local diffid cfg cfgid
  diffid=sha256:$(sha256sum "$d/layer.tar" | cut -d' ' -f1)
  cfg=$(jq -cn --arg diff "$diffid" --arg created "$created" '{
    architecture: "amd64", os: "linux", created: $created,
    config: {
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      Cmd: ["/bin/echo", "This container is intended for podman CI testing"],
      WorkingDir: "/home/podman",
      Labels: {created_at: $created, created_by: "test/system/build-testimage"}
    },
    rootfs: {type: "layers", diff_ids: [$diff]},
    history: [
      {created: "2022-05-23T19:19:31Z", created_by: "/bin/sh -c #(nop) ADD file:8e81116368669ed3dd361bc898d61bff249f524139a239fdaf3ec46869a39921 in / "},
      {created: "2022-05-23T19:19:31Z", created_by: "/bin/sh -c #(nop)  CMD [\"/bin/sh\"]", empty_layer: true},
      {created: $created, created_by: "/bin/sh -c apk add busybox-extras", empty_layer: true},
      {created: $created, created_by: "/bin/sh -c #(nop) ADD multi:0ed825c8d7ad2ca5e2d0d0e1e1ab4b1c1fb1d6d2dcd2d3e5a5e4b3f0b0f0a0a0 in /home/podman/ ", empty_layer: true},
      {created: $created, created_by: "/bin/sh -c #(nop) LABEL created_by=test/system/build-testimage", empty_layer: true},
      {created: $created, created_by: ("/bin/sh -c #(nop) LABEL created_at=" + $created), empty_layer: true},
      {created: $created, created_by: "/bin/sh -c #(nop) WORKDIR /home/podman", empty_layer: true},
      {created: $created, created_by: "/bin/sh -c #(nop) CMD [\"/bin/echo\", \"This container is intended for podman CI testing\"]", empty_layer: true}
    ]}')
  cfgid=$(printf '%s' "$cfg" | sha256sum | cut -d' ' -f1)
  rm -rf "$d/archive" && mkdir -p "$d/archive"
  printf '%s' "$cfg" >"$d/archive/$cfgid.json"
  mv "$d/layer.tar" "$d/archive/layer.tar"
  jq -cn --arg cfg "$cfgid.json" --arg tag "$fqn" '[{Config: $cfg, RepoTags: [$tag], Layers: ["layer.tar"]}]' \
    >"$d/archive/manifest.json"
  tar -C "$d/archive" -cf "$d/testimage.tar" manifest.json "$cfgid.json" layer.tar
  rm -rf "$d/archive" "$rootfs"
}

# --- the engine wrapper -----------------------------------------------------------------------------
# PODMAN is one word in the helpers, so the wrapper is a script holding the engine and its private storage.
# Podman raises a root container's open-files and processes limits to 1048576 and 4194304 by
# default; where the hard limits are lower (a sandbox without CAP_SYS_RESOURCE) every run
# fails, so its private containers.conf asks for what there is (processes: at most pid_max,
# above which such a sandbox refused setrlimit too).
nproc=$(ulimit -Hu)
pidmax=$(cat /proc/sys/kernel/pid_max)
if [ "$nproc" = unlimited ] || [ "$nproc" -gt "$pidmax" ]; then nproc=$pidmax; fi
cat >"$work/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=$nproc:$nproc"]
EOF
cat >"$work/registries.conf" <<'EOF'
unqualified-search-registries = ["quay.io"]
[[registry]]
location = "quay.io"
blocked = true
[[registry]]
location = "docker.io"
blocked = true
EOF
# A test that removed the test image gets it back by pulling it (basic_setup does): the wrapper
# loads it from the archive instead, as the registry would serve it.
case $engine in
  berth) engine_cmd="$bin --root $work/root --runroot $work/runroot" ;;
  # --log-level=error: where the cgroup v1 hierarchies are read-only (a sandbox), podman warns on
  # every run that it cannot put conmon into a net_cls cgroup, and the warning lands in each
  # test's output. (The two tests that check podman's own warnings then fail for podman.)
  podman) engine_cmd="$bin --root $work/root --runroot $work/runroot --tmpdir $work/tmp --log-level=error" ;;
esac
cat >"$work/bin/podman" <<EOF
#!/usr/bin/env bash
export CONTAINERS_REGISTRIES_CONF=$work/registries.conf CONTAINERS_CONF=$work/containers.conf
if [ "\$#" = 2 ] && [ "\$1" = pull ] && [ "\$2" = "$fqn" ]; then
  $engine_cmd load -i $work/img/testimage.tar >/dev/null || exit
  exec $engine_cmd image inspect --format '{{.Id}}' "$fqn"
fi
exec $engine_cmd "\$@"
EOF
chmod 755 "$work/bin/podman"

build_image
"$work/bin/podman" load -i "$work/img/testimage.tar" >"$work/logs/load.log" 2>&1 ||
  { cat "$work/logs/load.log" >&2; echo "loading the test image failed" >&2; exit 1; }

# --- the run ----------------------------------------------------------------------------------------
files=("$@")
[ ${#files[@]} -gt 0 ] || files=("${default_files[@]}")
total_pass=0 total_fail=0 total_skip=0
printf '%-32s %6s %6s %6s\n' FILE passed failed skipped
for f in "${files[@]}"; do
  f=$(basename "$f")
  case $f in *.bats) ;; *) f=$(cd "$suite" && ls "$f"-*.bats 2>/dev/null | head -1) ;; esac
  [ -n "$f" ] && [ -f "$suite/$f" ] || { echo "no such bats file: $f" >&2; continue; }
  log=$work/logs/${f%.bats}.tap
  (cd "$suite" && PODMAN=$work/bin/podman PODMAN_TIMEOUT=${PODMAN_TIMEOUT:-60} TMPDIR=$work/tmp \
    timeout --kill-after=30 ${FILE_TIMEOUT:-1800} bats --tap "$f") >"$log" 2>&1 || true
  pass=$(grep -E '^ok ' "$log" | grep -cv ' # skip' || true)
  skip=$(grep -cE '^ok .* # skip' "$log" || true)
  fail=$(grep -cE '^not ok ' "$log" || true)
  planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$log" | head -1)
  ran=$((pass + skip + fail))
  # Tests bats never reached (a hang killed by the timeout, or bats not starting) count as failed.
  [ -n "$planned" ] || planned=$(grep -c '^@test' "$suite/$f" || true)
  if [ "$planned" -gt "$ran" ]; then fail=$((fail + planned - ran)); fi
  printf '%-32s %6d %6d %6d\n' "$f" "$pass" "$fail" "$skip"
  total_pass=$((total_pass + pass)) total_fail=$((total_fail + fail)) total_skip=$((total_skip + skip))
done
echo "$engine: $total_pass passed, $total_fail failed, $total_skip skipped"
echo "logs: $work/logs"
