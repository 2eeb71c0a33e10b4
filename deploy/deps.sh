#!/usr/bin/env bash
# Installs every Debian package Coffer's build, tests and server need.
# Idempotent: when everything is present it only checks and exits.
#
# libraft must be 0.22.1, which Debian 12 ships in bookworm-backports. The
# backports suite is enabled on the Debian mirror this machine is already
# configured with (read from the apt configuration; no host is named here).
set -euo pipefail

PKGS=(
  build-essential pkg-config clang libclang-rt-14-dev
  libuv1-dev libssl-dev openssl libprotobuf-c-dev protobuf-c-compiler
  libjansson-dev libhttp-parser-dev libcmocka-dev
  python3 python3-pytest python3-boto3 awscli
  procps iproute2 ca-certificates
)
RAFT_VERSION=0.22.1

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node.js and npm for the AWS JavaScript SDK smoke test: Debian's packages,
# unless the machine already has both commands (e.g. a newer Node.js).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
raft_ok=0
if dpkg-query -W -f='${Status} ${Version}' libraft-dev 2>/dev/null |
   grep -q "install ok installed ${RAFT_VERSION}"; then
  raft_ok=1
fi

if [ ${#missing[@]} -eq 0 ] && [ $raft_ok -eq 1 ]; then
  exit 0
fi

# The Debian mirror this machine uses, read from its own apt configuration.
mirror_uri() {
  local f uri=""
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk '
      /^[[:space:]]*$/ { if (deb && main && u != "") { print u; exit } deb=0; main=0; u=""; next }
      /^Types:/ && /deb( |$)/ { deb=1 }
      /^URIs:/ { u=$2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") main=1 }
      END { if (deb && main && u != "") print u }' "$f" | head -n1)
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1 == "deb" && $0 ~ / bookworm / {
              for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i; exit } }' "$f" | head -n1)
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
}

if [ $raft_ok -eq 0 ]; then
  bp=/etc/apt/sources.list.d/coffer-bookworm-backports.sources
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    uri=$(mirror_uri)
    if [ -z "$uri" ]; then
      echo "deps.sh: cannot find the Debian mirror in the apt configuration" >&2
      exit 1
    fi
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$uri" | $SUDO tee "$bp" >/dev/null
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ $raft_ok -eq 0 ]; then
  $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports \
    "libraft-dev=${RAFT_VERSION}*"
fi
