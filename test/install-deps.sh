#!/bin/bash
# Installs what fmrec needs to build and test, on Debian 12 with the
# PostgreSQL 15 server already installed.  Idempotent: installs nothing when
# everything is present.
set -euo pipefail

need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
for p in postgresql-server-dev-15 protobuf-c-compiler libprotobuf-c-dev \
         libopenblas-serial-dev pkg-config make gcc perl libipc-run-perl \
         postgresql-15-cron python3-psycopg; do
    have_pkg "$p" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "fmrec: missing packages: ${need[*]} (run as root or install them)" >&2
        exit 1
    fi
    echo "fmrec: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
