#!/usr/bin/env bash
# Differential test of the `linux` profile against this machine's kernel (docs/kernel-diff.md).
#
#   sudo scripts/kernel-diff.sh [--seed S] [--count N] [--minutes M] [--start K] [--out DIR] [--no-analyze]
#   scripts/kernel-diff.sh --analyze DIR          (replay an existing run, no root needed)
#
# --no-analyze records only: a held-out seed is recorded early and replayed once, at the end.
#
# 1. pcaps/kernel_diff.py records N random scenarios (kernel client in a namespace, scapy
#    server in another; namespaces deleted on exit, also on failure);
# 2. src/replay/kernel-diff.ts replays every capture with `--profile linux --strict` and
#    writes DIR/report.md and DIR/report.json (docs/kernel-diff.md explains both).
set -euo pipefail
HERE="$(cd "$(dirname "$0")/.." && pwd)"
SEED=1; COUNT=20; MINUTES=0; START=0; OUT=""; ANALYZE=""; NO_ANALYZE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) SEED=$2; shift 2;;
    --count) COUNT=$2; shift 2;;
    --minutes) MINUTES=$2; shift 2;;
    --start) START=$2; shift 2;;
    --out) OUT=$2; shift 2;;
    --analyze) ANALYZE=$2; shift 2;;
    --no-analyze) NO_ANALYZE=1; shift;;
    -h|--help) sed -n 2,13p "$0"; exit 0;;
    *) echo "kernel-diff.sh: unknown argument $1" >&2; exit 2;;
  esac
done
analyze() {
  local dir=$1 build
  build=$(mktemp -d /tmp/synack-kd-build.XXXXXX)
  trap 'rm -rf "$build"' RETURN
  (cd "$HERE" && npx tsc -p tsconfig.build.json --outDir "$build") >&2
  ln -s "$HERE/node_modules" "$build/node_modules"
  node "$build/src/replay/kernel-diff.js" "$dir" --json "$dir/report.json" --md "$dir/report.md" ${VERBOSE:+--verbose}
}
if [ -n "$ANALYZE" ]; then analyze "$ANALYZE"; exit 0; fi
[ "$(id -u)" = 0 ] || { echo "kernel-diff.sh: recording needs root (network namespaces); use --analyze DIR for an existing run" >&2; exit 2; }
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import scapy" 2>/dev/null || { echo "kernel-diff.sh: /usr/bin/python3 with scapy is missing (apt-get install python3-scapy)" >&2; exit 2; }
for t in ip nft tcpdump taskset; do command -v "$t" >/dev/null || { echo "kernel-diff.sh: $t is missing" >&2; exit 2; }; done
OUT=${OUT:-/tmp/synack-kernel-diff-$SEED}
/usr/bin/python3 "$HERE/pcaps/kernel_diff.py" record --seed "$SEED" --count "$COUNT" --minutes "$MINUTES" --start "$START" --out "$OUT"
[ -n "$NO_ANALYZE" ] || analyze "$OUT"
