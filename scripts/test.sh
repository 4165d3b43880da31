#!/usr/bin/env bash
# The test command: unit and CLI tests under Deno and under Node, the single binary, then the
# e2e tests against that binary (with a private LXD daemon when lxd is installed).
#   bash scripts/test.sh
# Runner output goes to log files; failures are printed. The last line is the sum over every
# runner, "N passed, N failed"; a runner that exits non-zero or prints no summary counts as failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
ROOT="$PWD"

# shellcheck source=scripts/tools.sh
source scripts/tools.sh || {
  echo "0 passed, 1 failed"
  exit 1
}

LOGDIR="$(mktemp -d /tmp/imago-test.XXXXXX)"
PASSED=0
FAILED=0
export NO_COLOR=1
# Bounds for a hung runner: far under CI's limit, far over a normal run.
RUNNER_TIMEOUT=1800

# Prints the failure section of a runner log, or its tail when no section is recognised.
show_failures() {
  local section
  section="$(sed -n -e '/^ ERRORS $/,$p' -e '/^✖ failing tests:/,$p' "$1")"
  if [ -n "$section" ]; then
    printf '%s\n' "$section" | head -n 150
  else
    tail -n 40 "$1"
  fi
  echo "---- (full log: $1)"
}

# record NAME PASSED FAILED EXIT_CODE LOG
record() {
  local name=$1 passed=$2 failed=$3 rc=$4 log=$5
  if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
  PASSED=$((PASSED + passed))
  FAILED=$((FAILED + failed))
  printf '%-12s %d passed, %d failed\n' "$name:" "$passed" "$failed"
  if [ "$failed" -gt 0 ]; then show_failures "$log"; fi
}

# Deno closes with e.g. "FAILED | 4 passed (4 steps) | 1 failed | 1 ignored (148ms)".
run_deno() {
  local name=$1 log="$LOGDIR/$1.log" rc line
  shift
  timeout -k 30 "$RUNNER_TIMEOUT" deno test -A --no-check "$@" >"$log" 2>&1
  rc=$?
  line="$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$log" | tail -n 1)"
  local re='^(ok|FAILED) \| ([0-9]+) passed( \(([0-9]+) steps?\))? \| ([0-9]+) failed( \(([0-9]+) steps?\))?'
  if [[ $line =~ $re ]]; then
    # A failed step also fails its parent: count the larger of the two, not their sum.
    local failed=${BASH_REMATCH[5]} failed_steps=${BASH_REMATCH[7]:-0}
    [ "$failed_steps" -gt "$failed" ] && failed=$failed_steps
    record "$name" $((BASH_REMATCH[2] + ${BASH_REMATCH[4]:-0})) "$failed" "$rc" "$log"
  else
    record "$name" 0 1 1 "$log"
  fi
}

# Node writes a readable spec report to the log and TAP, whose "# pass N" lines we sum, to a file.
run_node() {
  local name=$1 log="$LOGDIR/$1.log" tap="$LOGDIR/$1.tap" rc
  shift
  timeout -k 30 "$RUNNER_TIMEOUT" node --test --test-timeout=600000 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" "$@" >"$log" 2>&1
  rc=$?
  local pass fail cancelled
  pass="$(sed -n 's/^# pass \([0-9]\+\)$/\1/p' "$tap" 2>/dev/null | tail -n 1)"
  fail="$(sed -n 's/^# fail \([0-9]\+\)$/\1/p' "$tap" 2>/dev/null | tail -n 1)"
  cancelled="$(sed -n 's/^# cancelled \([0-9]\+\)$/\1/p' "$tap" 2>/dev/null | tail -n 1)"
  if [ -n "$pass" ] && [ -n "$fail" ]; then
    record "$name" "$pass" $((fail + ${cancelled:-0})) "$rc" "$log"
  else
    record "$name" 0 1 1 "$log"
  fi
}

echo "imago tests: $(node --version), $(deno --version | head -n 1); logs in $LOGDIR"

mapfile -t UNIT < <(find tests -name '*.test.ts' -not -path 'tests/e2e/*' | sort)
mapfile -t E2E < <(find tests/e2e -name '*.test.ts' 2>/dev/null | sort)

if [ "${#UNIT[@]}" -gt 0 ]; then
  run_deno deno "${UNIT[@]}"
  run_node node "${UNIT[@]}"
fi

if deno run -A scripts/build_sea.ts >"$LOGDIR/build.log" 2>&1; then
  echo "build:       $(tail -n 1 "$LOGDIR/build.log")"
else
  record build 0 1 1 "$LOGDIR/build.log"
fi

LXD_STARTED=""
stop_lxd() { if [ -n "$LXD_STARTED" ]; then bash scripts/lxd.sh stop 2>/dev/null; fi; }
trap stop_lxd EXIT
if command -v lxd >/dev/null; then
  bash scripts/lxd.sh status || LXD_STARTED=1
  if lxd_env="$(bash scripts/lxd.sh start 2>"$LOGDIR/lxd.log")"; then
    eval "$lxd_env"
    echo "lxd:         running, LXD_DIR=$LXD_DIR"
  else
    record lxd 0 1 1 "$LOGDIR/lxd.log"
  fi
else
  echo "lxd:         not installed; e2e tests that need it skip"
fi

if [ "${#E2E[@]}" -gt 0 ]; then
  export IMAGO_BIN="$ROOT/dist/imago"
  # One file at a time: e2e files share the LXD daemon.
  run_node e2e --test-concurrency=1 "${E2E[@]}"
fi

stop_lxd
LXD_STARTED=""
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
