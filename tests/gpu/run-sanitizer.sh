#!/usr/bin/env bash
# run-sanitizer.sh — runs every gpu-tier test program (BUILD_DIR/tests/test_gpu_*) under each
# compute-sanitizer tool: memcheck (out-of-bounds and misaligned accesses, device leaks), racecheck
# (shared-memory hazards), initcheck (reads of uninitialised device memory) and synccheck (illegal
# barrier use). GRADMAP_CUDA_SYNC=1 synchronises after every launch, so a fault is reported at the
# operation that made it. Without a CUDA device every program exits 77 and is reported as skipped.
#   tests/gpu/run-sanitizer.sh [BUILD_DIR]          (default: build)
#   TOOLS="memcheck initcheck" TESTS="test_gpu_ops" tests/gpu/run-sanitizer.sh build
# Exits 1 when any run reports an error or fails, 0 otherwise.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
tools=${TOOLS:-"memcheck racecheck initcheck synccheck"}
# No driver, no device: nothing to sanitize (the programs themselves would exit 77).
if ! nvidia-smi -L >/dev/null 2>&1; then
  echo "SKIP: no CUDA device (nvidia-smi -L fails)"
  exit 0
fi
sanitizer=${COMPUTE_SANITIZER:-$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)}
if [ ! -x "$sanitizer" ]; then
  echo "compute-sanitizer not found (set COMPUTE_SANITIZER or put the CUDA toolkit's bin/ on PATH)" >&2
  exit 1
fi
if [ -n "${TESTS:-}" ]; then
  programs=()
  for t in $TESTS; do programs+=("$build/tests/$t"); done
else
  programs=("$build"/tests/test_gpu_*)
fi

export GM_SOURCE_DIR="$root" GM_BINARY_DIR="$build" GRADMAP_CUDA_SYNC=1
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OMP_WAIT_POLICY=passive
# --error-exitcode 86: any sanitizer report fails the run even when the test itself passed.
declare -A extra=(
  [memcheck]="--leak-check full"
  [racecheck]="--racecheck-report hazard"
  [initcheck]=""
  [synccheck]=""
)
failed=0
for tool in $tools; do
  for prog in "${programs[@]}"; do
    name=$(basename "$prog")
    log="$build/sanitizer-$tool-$name.log"
    # shellcheck disable=SC2086  # extra options are words on purpose
    "$sanitizer" --tool "$tool" ${extra[$tool]:-} --error-exitcode 86 --print-limit 50 "$prog" >"$log" 2>&1
    rc=$?
    case $rc in
      0) echo "PASS $tool $name" ;;
      77) echo "SKIP $tool $name ($(grep -m1 '^SKIP' "$log" || echo 'no device'))" ;;
      86) echo "FAIL $tool $name: sanitizer errors, see $log"; failed=1 ;;
      *) echo "FAIL $tool $name: exit $rc, see $log"; failed=1 ;;
    esac
  done
done
exit $failed
