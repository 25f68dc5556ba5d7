# cli_lib.sh — helpers for the CLI tests (sourced): run gradmap, check exit code and that stderr
# contains the promised message. Each check prints PASS/FAIL; finish() prints the summary line
# "N passed, M failed" and sets the exit status.
set -u
: "${GRADMAP:?GRADMAP must point at the gradmap binary}"
: "${GM_SOURCE_DIR:?GM_SOURCE_DIR must point at the source tree}"
passed=0
failed=0
workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT

# expect CODE PATTERN -- command...   (PATTERN: extended regex searched in stderr)
expect() {
  local code="$1" pattern="$2"
  shift 3
  local out err rc
  out="$workdir/out" err="$workdir/err"
  "$@" >"$out" 2>"$err"
  rc=$?
  if [ "$rc" -eq "$code" ] && grep -Eq -- "$pattern" "$err"; then
    passed=$((passed + 1))
    echo "PASS [exit $rc] $*"
  else
    failed=$((failed + 1))
    echo "FAIL $*: exit $rc (expected $code), stderr:"
    sed 's/^/    /' "$err" | head -20
    echo "    (expected stderr to match: $pattern)"
  fi
}

# check DESCRIPTION command...   (succeeds when the command does)
check() {
  local what="$1"
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "PASS $what"
  else
    failed=$((failed + 1))
    echo "FAIL $what"
  fi
}

finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
  exit $?
}
