#!/usr/bin/env bash
# Installs the Debian packages berth's build, demo and tests need. Idempotent and quick when
# everything is already there.
set -euo pipefail
pkgs=(busybox-static docker-registry uidmap runc skopeo podman catatonit nftables iproute2 hyperfine
      libseccomp-dev libc6-dev passt slirp4netns fuse-overlayfs gcc make git ca-certificates
      systemd systemd-container util-linux docker-compose)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# docker-registry's package starts a service on :5000 on some systems; tests run their own.
command -v go >/dev/null || { echo "go toolchain not found: install Go 1.26+ first" >&2; exit 1; }
go mod download
