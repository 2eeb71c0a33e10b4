#!/usr/bin/env bash
# A local Coffer region: N cofferd processes on loopback.
#
#   deploy/local-cluster.sh up   --dir DIR [--nodes 3] [--region us-east-1] [--base-port P]
#                                [--snapshot-threshold N] [--election-timeout-ms N]
#   deploy/local-cluster.sh down --dir DIR
#
# up creates the region's shared material once (root key, root credentials,
# and with `coffer operator tls-init` a deployment CA in DIR/tls/ca.pem plus
# one certificate per node, DIR/tls/REGION/n<i>/{cert,key}.pem, naming
# coffer://REGION/i and valid for 127.0.0.1: raft, relays and clients all
# use them), starts the nodes in the background,
# waits until the region has a leader, writes DIR/cluster.env and
# DIR/nodes.tsv (region, node id, pid, rpc address, raft address, data dir,
# the command that restarts the node) and exits 0. down stops exactly the
# processes listed in nodes.tsv. Ports: node i serves RPC on base+i, raft on
# base+100+i and the AWS endpoint (HTTPS) on base+200+i; cluster.env points
# AWS_ENDPOINT_URL at node 1 and lists every node in COFFER_HTTP_ENDPOINTS.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tls_scheme=https  # the AWS endpoint of a cluster node is TLS-only, on loopback
top=$(cd "$here/.." && pwd)
BIN=${COFFER_BIN:-$top/build}

cmd=${1:-}
shift || true
dir="" nodes=3 region=us-east-1 base=17700 snap="" elect=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=$2; shift 2 ;;
    --nodes) nodes=$2; shift 2 ;;
    --region) region=$2; shift 2 ;;
    --base-port) base=$2; shift 2 ;;
    --snapshot-threshold) snap=$2; shift 2 ;;
    --election-timeout-ms) elect=$2; shift 2 ;;
    *) echo "local-cluster.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[ -n "$dir" ] || { echo "usage: $0 up|down --dir DIR [--nodes N] [--region R] [--base-port P]" >&2; exit 2; }

is_cofferd() { # pid -> true if it is a cofferd process
  [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' < "/proc/$1/cmdline" | grep -q cofferd
}

down() {
  local tsv="$dir/nodes.tsv" pids=() pid
  [ -f "$tsv" ] || { echo "local-cluster.sh: no $tsv" >&2; return 0; }
  while IFS=$'\t' read -r _r _id pid _rest; do
    [ "$pid" = "pid" ] && continue
    if is_cofferd "$pid"; then kill -TERM "$pid" 2>/dev/null || true; pids+=("$pid"); fi
  done < "$tsv"
  for _ in $(seq 1 100); do
    local alive=0
    for pid in "${pids[@]}"; do is_cofferd "$pid" && alive=1; done
    [ $alive -eq 0 ] && return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do is_cofferd "$pid" && kill -KILL "$pid" 2>/dev/null || true; done
  return 0
}

up() {
  [ -x "$BIN/cofferd" ] || { echo "local-cluster.sh: $BIN/cofferd not built (run make)" >&2; exit 1; }
  mkdir -p "$dir"; chmod 700 "$dir"
  dir=$(cd "$dir" && pwd)
  local shared="$dir/shared"
  mkdir -p "$shared"; chmod 700 "$shared"
  umask 077
  if [ ! -f "$shared/root.key" ]; then
    head -c 32 /dev/urandom > "$shared/root.key.tmp" && mv "$shared/root.key.tmp" "$shared/root.key"
  fi
  if [ ! -f "$shared/credentials" ]; then
    local akid secret
    akid="CF$(tr -dc 'A-Z0-9' < /dev/urandom | head -c 18 || true)"
    secret="$(tr -dc 'A-Za-z0-9+/' < /dev/urandom | head -c 40 || true)"
    printf '%s %s\n' "$akid" "$secret" > "$shared/credentials"
  fi
  local tls="$dir/tls"
  "$BIN/coffer" operator tls-init --dir "$tls" --regions "$region" --nodes "$nodes" >/dev/null
  umask 022

  local members="" i endpoints="" http_endpoints=""
  for i in $(seq 1 "$nodes"); do
    members+="member = $i,127.0.0.1:$((base + 100 + i)),127.0.0.1:$((base + i))"$'\n'
    endpoints+="${endpoints:+,}127.0.0.1:$((base + i))"
    http_endpoints+="${http_endpoints:+,}${tls_scheme}://127.0.0.1:$((base + 200 + i))"
  done

  printf 'region\tnode_id\tpid\trpc_addr\traft_addr\tdata_dir\tcommand\n' > "$dir/nodes.tsv.tmp"
  for i in $(seq 1 "$nodes"); do
    local nd="$dir/n$i" conf="$dir/n$i/cofferd.conf"
    mkdir -p "$nd"; chmod 700 "$nd"
    {
      echo "region = $region"
      echo "node_id = $i"
      echo "rpc_addr = 127.0.0.1:$((base + i))"
      echo "raft_addr = 127.0.0.1:$((base + 100 + i))"
      echo "http_addr = 127.0.0.1:$((base + 200 + i))"
      echo "data_dir = $nd"
      echo "tls_cert = $tls/$region/n$i/cert.pem"
      echo "tls_key = $tls/$region/n$i/key.pem"
      echo "ca_file = $tls/ca.pem"
      echo "key_file = $shared/root.key"
      echo "credentials_file = $shared/credentials"
      [ -n "$snap" ] && echo "snapshot_threshold = $snap" && echo "snapshot_trailing = $(( snap / 4 > 0 ? snap / 4 : 1 ))"
      [ -n "$elect" ] && echo "election_timeout_ms = $elect"
      printf '%s' "$members"
    } > "$conf"
    local run="$BIN/cofferd --config $conf"
    setsid $run >> "$nd/cofferd.log" 2>&1 < /dev/null &
    local pid=$!
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$region" "$i" "$pid" "127.0.0.1:$((base + i))" \
      "127.0.0.1:$((base + 100 + i))" "$nd" "setsid $run >> $nd/cofferd.log 2>&1 < /dev/null &" \
      >> "$dir/nodes.tsv.tmp"
  done
  mv "$dir/nodes.tsv.tmp" "$dir/nodes.tsv"

  read -r akid secret < "$shared/credentials"
  umask 077
  cat > "$dir/cluster.env" <<ENV
export COFFER_ENDPOINT='$endpoints'
export COFFER_CA_FILE='$tls/ca.pem'
export AWS_ACCESS_KEY_ID='$akid'
export AWS_SECRET_ACCESS_KEY='$secret'
export AWS_DEFAULT_REGION='$region'
export AWS_REGION='$region'
export AWS_ENDPOINT_URL='${tls_scheme}://127.0.0.1:$((base + 201))'
export AWS_CA_BUNDLE='$tls/ca.pem'
export COFFER_HTTP_ENDPOINTS='$http_endpoints'
ENV
  umask 022

  # wait for a leader (bounded)
  local deadline=$((SECONDS + 30)) out
  while [ $SECONDS -lt $deadline ]; do
    out=$(. "$dir/cluster.env"; "$BIN/coffer" cluster status 2>/dev/null || true)
    if echo "$out" | grep -Eq '"LeaderId": *[1-9]'; then
      echo "region $region up: $nodes nodes; . $dir/cluster.env"
      return 0
    fi
    sleep 0.2
  done
  echo "local-cluster.sh: no leader after 30 s; logs in $dir/n*/cofferd.log" >&2
  down
  exit 1
}

case "$cmd" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down --dir DIR ..." >&2; exit 2 ;;
esac
