#!/usr/bin/env bash
# test_cli_bench_profile.sh — `gradmap bench --profile` and the steady-state / end-to-end figures on the
# demo model: the per-layer table on stderr, a "profile" array in the JSON line whose per-node forward
# (backward) times add up to no more than the profiled iterations' forward (backward) stage and to a
# sane part of it, a positive time for every convolution, per-node MACs that add up to the case's
# macs_per_image, op-class totals whose shares add up to 1; the heap / page-fault / throughput figures
# with synthetic images (no loader) and with --images (the loader thread: decode timed, loader_threads
# 1); an unreadable file in --images fails the case with its path. Speed is never asserted.
source "$(dirname "$0")/cli_lib.sh"
cd "$GM_SOURCE_DIR" || exit 1
command -v jq >/dev/null || { echo "SKIP: jq is not installed (scripts/install-deps installs it)"; exit 77; }
model=weights/demo/demo_cnn.h5
jqtest() { jq -e "$@" >/dev/null; }

expect 0 "per-layer profile, batch 2, median of 2 profiled iterations" -- "$GRADMAP" bench --model "$model" \
  --batch 2 --iters 1 --warmup 0 --method saliency,gradcam --profile
check "stderr has the per-node table, the op-class totals and the layers-vs-stages line" bash -c \
  "grep -Eq '^ +[0-9]+  conv1 +conv3x3 +64x64x16 ' '$workdir/err' && grep -q 'by op class' '$workdir/err' &&
   grep -Eq '^conv3x3 +4 ' '$workdir/err' && grep -q 'ms forward + .* ms backward; stages of the profiled' '$workdir/err'"
cp "$workdir/out" "$workdir/profile.json"
check "the JSON line parses and carries profile, profile_classes and profile_stages_s" \
  jqtest '(.profile | type == "array" and length > 0) and (.profile_classes | type == "array" and length > 0)
          and (.profile_stages_s.forward > 0) and (.profile_stages_s.backward > 0)' "$workdir/profile.json"
check "every node: index, name, class, shape, times >= 0, share in [0, 1]" \
  jqtest 'all(.profile[]; (.node | type == "number") and (.name | length > 0) and (.class | length > 0)
          and (.shape | type == "array" and length > 0) and .forward_ms >= 0 and .backward_ms >= 0
          and .share >= 0 and .share <= 1)' "$workdir/profile.json"
check "every convolution ran forward and backward in a positive time, with its MACs and GFLOP/s" \
  jqtest '[.profile[] | select(.class | startswith("conv"))] | length == 4 and all(.[]; .forward_ms > 0
          and .backward_ms > 0 and .macs > 0 and .backward_macs == .macs and .forward_gflops > 0
          and .backward_gflops > 0)' "$workdir/profile.json"
# The nodes run inside the stages, so their sum cannot exceed the stage (medians of 2 = means, so
# the inequality survives the reduction); the stage adds only reading the logits and the seed.
check "per-node forward times sum to at most the profiled forward stage and to more than a fifth of it" \
  jqtest '([.profile[].forward_ms] | add / 1000) as $f | .profile_stages_s.forward as $s
          | $f <= $s * 1.001 + 1e-5 and $f >= 0.2 * $s' "$workdir/profile.json"
check "per-node backward times sum to at most the profiled backward stage and to more than a fifth of it" \
  jqtest '([.profile[].backward_ms] | add / 1000) as $b | .profile_stages_s.backward as $s
          | $b <= $s * 1.001 + 1e-5 and $b >= 0.2 * $s' "$workdir/profile.json"
check "per-node MACs (forward + backward-data) add up to the case's macs_per_image" \
  jqtest '([.profile[] | .macs + .backward_macs] | add) == .macs_per_image' "$workdir/profile.json"
check "op classes: shares add up to 1, conv3x3 holds the 4 convolutions, no-MAC classes have null GFLOP/s" \
  jqtest '([.profile_classes[].share] | add) > 0.99 and ([.profile_classes[].share] | add) < 1.01
          and any(.profile_classes[]; .class == "conv3x3" and .nodes == 4 and .gflops > 0)
          and all(.profile_classes[] | select(.class == "maxpool"); .gflops == null)' "$workdir/profile.json"
check "synthetic images: no loader, heap growth and faults per iteration, compute and files-to-maps images/s" \
  jqtest '.loader_threads == 0 and (.heap_growth_bytes_per_iter | (.median | type == "number")
          and (.max | type == "number") and (.compute_median | type == "number") and (.compute_max | type == "number")
          and .median <= .max and .compute_median <= .compute_max)
          and .minor_faults_per_iter_compute >= 0 and .minor_faults_per_iter_compute <= .minor_faults_per_iter
          and .compute_images_per_s > 0 and .files_to_maps_images_per_s > 0 and .load_wait_s >= 0' "$workdir/profile.json"
check "stderr summary: compute, files to maps with its share of compute, heap growth and faults" \
  grep -Eq "compute [0-9.]+ images/s, files to maps [0-9.]+ images/s \([0-9]+% of compute; synthetic.*heap growth [-+][0-9]+ B.*minor faults" \
  "$workdir/err"

expect 0 "files decoded by the loader thread" -- "$GRADMAP" bench --model "$model" --images weights/demo/images \
  --batch 4 --iters 2 --warmup 1 --method saliency
check "--images: the loader's decode and preprocess seconds, loader_threads 1, no profile without --profile" \
  jqtest '.loader_threads == 1 and .stages_s.decode > 0 and .stages_s.preprocess > 0 and (has("profile") | not)
          and .files_to_maps_images_per_s > 0 and .compute_images_per_s > 0' "$workdir/out"

mkdir -p "$workdir/bad"
cp weights/demo/images/circle_0.png weights/demo/images/circle_1.png "$workdir/bad/"
head -c 100 weights/demo/images/cross_0.png > "$workdir/bad/truncated.png"
expect 4 "truncated\.png" -- "$GRADMAP" bench --model "$model" --images "$workdir/bad" --batch 2 --iters 2 --warmup 0
finish
