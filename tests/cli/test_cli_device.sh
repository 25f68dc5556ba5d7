#!/usr/bin/env bash
# test_cli_device.sh — device selection on a machine without a usable GPU (CI, this repository's
# machines): --device cuda is a clear "no device" error (exit 10) from info, predict and explain,
# and explain leaves no output behind; --device auto falls back to the CPU; --precision is checked
# (unknown names are usage errors, reduced precisions on the CPU are unsupported, exit 5);
# `info --device cpu` describes the CPU. Skipped (77) on a machine where CUDA works: the gpu tier
# covers that case.
source "$(dirname "$0")/cli_lib.sh"
cd "$GM_SOURCE_DIR" || exit 1
model=weights/demo/demo_cnn.h5
img=weights/demo/images/circle_0.png

if "$GRADMAP" info --device cuda >/dev/null 2>&1; then
  echo "SKIP: a CUDA device is usable here; tests/gpu covers it"
  exit 77
fi

# No driver, no device, driver too old, or a build without the plugin: each names its reason.
nodev="no NVIDIA driver|no CUDA device|driver supports CUDA|built without CUDA|CUDA backend .* (not found|did not load)"
expect 10 "--device cuda: .*($nodev)" -- "$GRADMAP" info --device cuda
expect 10 "--device cuda: .*($nodev)" -- "$GRADMAP" predict "$model" "$img" --device cuda
expect 10 "--device cuda: .*($nodev)" -- "$GRADMAP" explain "$model" "$img" --device cuda --out "$workdir/cuda"
check "a failed --device cuda explain leaves no results folder content" \
  bash -c "! test -e '$workdir/cuda/results.h5'"

check "info --device auto falls back to the CPU" bash -c "'$GRADMAP' info --device auto | grep -q '^device: cpu '"
check "info --device cpu names the CPU, the ISA, the threads and oneDNN" \
  bash -c "'$GRADMAP' info --device cpu | grep -Eq '^device: cpu .*; [a-z0-9_]+; [0-9]+ threads; oneDNN [0-9]+\.[0-9]+\.[0-9]+; precision fp32; convolutions direct forward, winograd backward-data where eligible$'"
expect 0 "1 images explained|images explained" -- "$GRADMAP" explain "$model" "$img" --device auto --out "$workdir/auto"
check "explain --device auto (CPU fallback) records the device in results.h5" \
  bash -c "h5dump -a /device '$workdir/auto/results.h5' 2>/dev/null | grep -q 'cpu ' || h5dump -A '$workdir/auto/results.h5' | grep -q 'oneDNN'"

expect 2 "--precision 'fp64': expected fp32, tf32, fp16 or bf16" -- "$GRADMAP" predict "$model" "$img" --precision fp64
# bf16 on the CPU needs AVX-512 BF16 (AMX implies it); without it the run is refused up front.
if grep -qw avx512_bf16 /proc/cpuinfo; then
  expect 0 "images explained" -- "$GRADMAP" explain "$model" "$img" --device cpu --precision bf16 --out "$workdir/bf16"
  check "info --device cpu --precision bf16 says which passes are bf16" \
    bash -c "'$GRADMAP' info --device cpu --precision bf16 | grep -q 'precision bf16; convolutions bf16 operands'"
else
  expect 5 "--precision bf16 on the cpu needs AVX-512 BF16 or AMX" -- \
    "$GRADMAP" explain "$model" "$img" --device cpu --precision bf16 --out "$workdir/bf16"
fi
expect 5 "cpu backend computes in fp32 or bf16; --precision tf32 needs --device cuda" -- \
  "$GRADMAP" info --device cpu --precision tf32
expect 2 "--conv-algo 'fast': expected auto, direct, winograd or winograd-bwd" -- \
  "$GRADMAP" predict "$model" "$img" --conv-algo fast
check "--conv-algo is documented in explain --help and bench --help" \
  bash -c "'$GRADMAP' explain --help | grep -q -- '--conv-algo A' && '$GRADMAP' bench --help | grep -q -- '--conv-algo A'"

check "--precision is documented in explain --help and predict --help" \
  bash -c "'$GRADMAP' explain --help | grep -q -- '--precision P' && '$GRADMAP' predict --help | grep -q -- '--precision P'"
finish
