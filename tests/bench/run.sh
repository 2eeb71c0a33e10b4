#!/usr/bin/env bash
# Coffer's issue-2 benchmark next to raw libraft, in the same run.
#
#   tests/bench/run.sh [DURATION_S]
#
# 1. A 3-node region (deploy/local-cluster.sh) on loopback, 1 KiB values:
#    put at concurrency 256 and 1, get at concurrency 64 against the leader
#    alone (one node, TLS), each for DURATION_S seconds (default 10).
# 2. The reference raw-libraft benchmark (../shared/reference/libraft-example,
#    built in a scratch dir, 1 KiB entries) at 1 and 256 in flight.
# Prints the JSON lines and the ratios. A benchmark, not a test: it asserts
# nothing. Every process it starts is stopped by PID.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
dur=${1:-10}
BUILD=${COFFER_BUILD:-$top/build}
ref=$top/../shared/reference/libraft-example
work=$(mktemp -d /tmp/coffer-bench.XXXXXX)
base=$(( 30000 + RANDOM % 20000 ))

cleanup() {
  "$top/deploy/local-cluster.sh" down --dir "$work/region" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

COFFER_BIN=$BUILD "$top/deploy/local-cluster.sh" up --dir "$work/region" --nodes 3 --base-port "$base" >/dev/null
. "$work/region/cluster.env"
leader=$("$BUILD/coffer" cluster status | sed -n 's/.*"LeaderId": *\([0-9]*\).*/\1/p' | head -1)
leader_ep=127.0.0.1:$((base + leader))

put256=$("$BUILD/coffer" bench --op put --concurrency 256 --duration "$dur" --value-size 1024 --cleanup 2>/dev/null)
put1=$("$BUILD/coffer" bench --op put --concurrency 1 --duration "$dur" --value-size 1024 --cleanup 2>/dev/null)
get64=$("$BUILD/coffer" --endpoint "$leader_ep" bench --op get --concurrency 64 --duration "$dur" --value-size 1024 --secret-id bench/get 2>/dev/null)
aws64=$("$BUILD/coffer" --endpoint "$leader_ep" bench --op get --api aws --endpoint-url "https://127.0.0.1:$((base + 200 + leader))" \
        --concurrency 64 --duration "$dur" --value-size 1024 --secret-id bench/get 2>/dev/null)
echo "coffer put c=256: $put256"
echo "coffer put c=1:   $put1"
echo "coffer get c=64:  $get64"
echo "coffer aws get c=64: $aws64"
"$top/deploy/local-cluster.sh" down --dir "$work/region" >/dev/null

raw256="" raw1=""
if [ -d "$ref" ]; then
  cp -r "$ref" "$work/ref"
  if make -s -C "$work/ref" node >/dev/null 2>&1; then
    out=$(cd "$work/ref" && CONFIGS="1:1:3000 256:1:40000" PORT=$((base + 300)) ./bench.sh -z 1024 2>/dev/null || true)
    echo "$out" | sed 's/^/raw libraft: /'
    raw1=$(echo "$out" | awk '$2 == 1 && $4 == 1 {print $(NF-1)}')
    raw256=$(echo "$out" | awk '$2 == 256 {print $(NF-1)}')
  fi
fi

/usr/bin/python3 - "$put256" "$put1" "$get64" "$aws64" "${raw256:-0}" "${raw1:-0}" <<'PY'
import json, sys
p256, p1, g64, a64 = (json.loads(x) for x in sys.argv[1:5])
raw256, raw1 = float(sys.argv[5] or 0), float(sys.argv[6] or 0)
print(f"put c=256: {p256['ops_per_s']:.0f}/s (target >= 10000)"
      + (f", {p256['ops_per_s'] / raw256:.2f}x raw libraft W=256 ({raw256:.0f}/s)" if raw256 else ""))
print(f"put c=1:   p50 {p1['p50_ms']:.3f} ms (target <= 1 ms), {p1['ops_per_s']:.0f}/s"
      + (f", {p1['ops_per_s'] / raw1:.2f}x raw libraft W=1 ({raw1:.0f}/s)" if raw1 else ""))
print(f"get c=64:  {g64['ops_per_s']:.0f}/s on one node over TLS (target >= 40000), p99 {g64['p99_ms']:.2f} ms")
print(f"aws get c=64: {a64['ops_per_s']:.0f}/s over HTTPS + SigV4 = {a64['ops_per_s'] / g64['ops_per_s']:.2f}x the RPC port (target >= 0.4x)")
PY
