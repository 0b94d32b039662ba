#!/usr/bin/env bash
# Pull of a ~200 MB, 8-layer image from a local docker-registry: berth pull (download, verify,
# unpack) against podman pull (the same work) and skopeo copy to an OCI layout (download only),
# side by side in one hyperfine run; the "Relative" column is the ratio. Then a re-pull.
set -euo pipefail
cd "$(dirname "$0")/../.."
BERTH=${BERTH:-$PWD/bin/berth}
work=$(mktemp -d /var/tmp/berth-bench-pull.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 5391)
cleanup() { [ -n "${regpid:-}" ] && kill "$regpid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cat > "$work/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$port}
YML
docker-registry serve "$work/registry.yml" >/dev/null 2>&1 &
regpid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
ref=127.0.0.1:$port/bench/big:1
go run ./hack/benchimg -layers 8 -size $((25 << 20)) "$ref"

b="$BERTH --root $work/berth --runroot $work/berth-run"
p="podman --root $work/podman --runroot $work/podman-run --storage-driver overlay"
hyperfine --style basic -r 5 --export-markdown "$work/cold.md" \
  --prepare "rm -rf $work/berth $work/berth-run $work/oci; $p rmi -af >/dev/null 2>&1 || true" \
  -n "berth pull" "$b pull -q $ref" \
  -n "podman pull" "$p pull -q --tls-verify=false $ref" \
  -n "skopeo copy (no unpack)" "skopeo copy -q --src-tls-verify=false docker://$ref oci:$work/oci:latest"
cat "$work/cold.md"
hyperfine --style basic -r 10 -w 1 --export-markdown "$work/warm.md" \
  -n "berth re-pull" "$b pull -q $ref" \
  -n "podman re-pull" "$p pull -q --tls-verify=false $ref"
cat "$work/warm.md"
$p rmi -af >/dev/null 2>&1 || true
