#!/usr/bin/env bash
# Run the whole test suite N times (default 3) beside 2 CPU-bound background processes, as on a
# busy laptop or CI box, and print how many runs were green: "k/N green". The background
# processes are always killed, also on Ctrl-C or failure. Exit 0 only if every run was green.
#   bash bench/stress_suite.sh [N] [pytest args...]
set -uo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
shift || true
hogs=()
suite=""
stop_hogs() {
  for pid in "${hogs[@]}" $suite; do kill "$pid" 2>/dev/null; done
  for pid in "${hogs[@]}" $suite; do wait "$pid" 2>/dev/null; done
  hogs=()
  suite=""
}
trap stop_hogs EXIT
trap 'stop_hogs; exit 130' INT TERM
for _ in 1 2; do
  yes >/dev/null &
  hogs+=("$!")
done
green=0
for i in $(seq 1 "$runs"); do
  log="$(mktemp -t phasefarm-stress-XXXX.log)"
  .venv/bin/python -m pytest -q -p no:cacheprovider "$@" >"$log" 2>&1 &
  suite=$!
  wait "$suite"
  code=$?
  suite=""
  if [ "$code" -eq 0 ]; then
    green=$((green + 1))
    echo "run $i/$runs: green ($(tail -n 1 "$log"))"
  else
    echo "run $i/$runs: FAILED (log: $log)"
    grep -E "^(FAILED|ERROR) " "$log" | head -n 20
  fi
done
stop_hogs
echo "$green/$runs green"
[ "$green" -eq "$runs" ]
