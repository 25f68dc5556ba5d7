#!/usr/bin/env bash
# test_cli_bench.sh — `gradmap bench`: one tiny case on the demo model whose JSON line carries every
# field of the contract with bench/peers/ (names, types, positive finite figures, check "self" on the
# CPU), the JSON appended to --json FILE with stdout left empty, a ResNet50 with seeded random weights
# (no file) running CAM, decoded images, usage errors (exit 2), --device cuda without a GPU (exit 10),
# and the --peak line. Speed is never asserted. JSON is validated with jq (scripts/install-deps).
source "$(dirname "$0")/cli_lib.sh"
cd "$GM_SOURCE_DIR" || exit 1
command -v jq >/dev/null || { echo "SKIP: jq is not installed (scripts/install-deps installs it)"; exit 77; }
model=weights/demo/demo_cnn.h5
jqtest() { jq -e "$@" >/dev/null; }

# Every key of a case line with the type it must have (pos: a finite number > 0; nonneg: >= 0).
case_fields='
  def pos: type == "number" and . > 0 and . < 1e300;
  def nonneg: type == "number" and . >= 0 and . < 1e300;
  (.tool == "gradmap") and (.version | type == "string") and (.git | type == "string" and length > 0)
  and (.case | (.model | type == "string") and has("arch") and (.weights | type == "string")
       and (.methods | type == "array" and length > 0) and (.batch | pos) and (.device | type == "string")
       and (.precision | type == "string") and (.images | type == "string") and (.iters | pos)
       and (.warmup | nonneg))
  and (.machine | (.cpu | type == "string") and (.flags | type == "string") and (.cores | pos)
       and (.threads | pos) and (.memory_gib | pos))
  and (.device | type == "string" and length > 0)
  and (.libs | (.onednn | test("^[0-9]+\\.[0-9]+\\.[0-9]+$")) and (.hdf5 | test("^[0-9]+\\.")) and has("cuda")
       and has("cudnn") and has("cublas"))
  and (.images_per_s | (.median | pos) and (.min | pos) and (.max | pos) and .min <= .median and .median <= .max)
  and (.stages_s | (.decode | nonneg) and (.preprocess | nonneg) and (.forward | pos) and (.backward | nonneg)
       and (.maps | nonneg) and (.post | pos) and (.write | pos))
  and (.macs_per_image | pos) and (.gflops | pos) and (.gflops_end_to_end | pos) and (.peak_rss_mib | pos)
  and has("peak_device_mib") and (.minor_faults_per_iter | nonneg) and (.minor_faults_per_iter_compute | nonneg)
  and (.heap_growth_bytes_per_iter | (.median | type == "number") and (.max | type == "number")
       and (.compute_median | type == "number") and (.compute_max | type == "number"))
  and (.compute_images_per_s | pos) and (.files_to_maps_images_per_s | pos) and (.load_wait_s | nonneg)
  and (.loader_threads | nonneg)
  and (.check | (.reference | type == "string") and (.max_abs_err | type == "object")
       and (.max_abs_err_normalized | type == "object") and (.spearman | type == "object")
       and .maps_finite == true)'

out="$workdir/demo.jsonl"
expect 0 "batch 2 cpu fp32: .* images/s .* GFLOP/s" -- "$GRADMAP" bench --model "$model" --iters 1 --warmup 0 \
  --batch 2 --method saliency,gradcam --json "$out"
check "--json FILE holds exactly one line and stdout nothing" bash -c \
  "test \$(wc -l < '$out') -eq 1 && test ! -s '$workdir/out'"
check "the case line has every field of the contract, figures positive and finite" \
  jqtest "$case_fields" "$out"
check "the case describes itself: demo model from a file, 2 images, saliency and gradcam, synthetic images" \
  jqtest '.case.weights == "file" and .case.arch == null and .case.batch == 2 and .case.methods == ["saliency","gradcam"]
         and .case.images == "synthetic" and .stages_s.decode == 0 and .case.device == "cpu"' "$out"
# The default CPU plan runs Winograd in backward-data (linear: errors ~1e-6 relative), so the case is
# checked against the all-direct fp32 reference; its maps must agree to 1e-5 of their maximum.
check "a default cpu fp32 case is checked against direct fp32: agreement within 1e-5 of the map maximum" \
  jqtest '.check.reference == "cpu fp32 direct" and .case.conv_algo == "auto"
         and .check.max_abs_err_normalized.saliency < 1e-5 and .check.max_abs_err_normalized.gradcam < 1e-5
         and .check.spearman.saliency > 0.9999 and .check.spearman.gradcam > 0.9999
         and .libs.cuda == null and .peak_device_mib == null' "$out"
direct="$workdir/direct.jsonl"
expect 0 "batch 2 cpu fp32" -- "$GRADMAP" bench --model "$model" --iters 1 --warmup 0 --batch 2 \
  --method saliency,gradcam --conv-algo direct --json "$direct"
check "a cpu fp32 direct case is its own reference: check.reference is self, with a null per method" \
  jqtest '.check.reference == "self" and .case.conv_algo == "direct" and (.check.spearman | keys == ["gradcam","saliency"])
         and .check.max_abs_err.saliency == null' "$direct"
check "a second run appends a line to --json FILE" bash -c \
  "'$GRADMAP' bench --model '$model' --iters 1 --warmup 0 --batch 1 --method gradcam --json '$out' 2>/dev/null &&
   test \$(wc -l < '$out') -eq 2 && jq -se '.[1].case.batch == 1' '$out' >/dev/null"

expect 0 "resnet50 cam batch 1 cpu fp32" -- "$GRADMAP" bench --arch resnet50 --batch 1 --iters 1 --warmup 0 \
  --method cam --seed 3
check "random-weights ResNet50: one valid line, weights random(seed=3), forward-only MACs (3.86 G)" \
  jqtest "($case_fields) and .case.weights == \"random(seed=3)\" and .case.arch == \"resnet50\"
         and .macs_per_image > 3.8e9 and .macs_per_image < 3.9e9 and .stages_s.backward == 0" "$workdir/out"

mkdir -p "$workdir/tmp"
expect 0 "batch 2 cpu" -- env TMPDIR="$workdir/tmp" "$GRADMAP" bench --model "$model" --images weights/demo/images --batch 1,2 \
  --iters 2 --warmup 0 --method saliency
# The demo model's forward is 10027392 MACs (gradmap info); saliency adds one backward through every layer.
check "--images: one line per batch size, decode timed, saliency MACs = forward + one full backward" \
  jqtest -s 'length == 2 and .[0].case.batch == 1 and .[1].case.batch == 2 and all(.[]; .stages_s.decode > 0
          and .case.images == "weights/demo/images" and .macs_per_image == 2 * 10027392)' "$workdir/out"
check "the temporary PNG folders (under \$TMPDIR) are removed" bash -c "test -z \"\$(ls -A '$workdir/tmp')\""
expect 3 "temporary folder under $workdir/none" -- env TMPDIR="$workdir/none" "$GRADMAP" bench --model "$model" \
  --batch 1 --iters 1

expect 2 "unknown option or missing value: --bogus" -- "$GRADMAP" bench --model "$model" --bogus
expect 2 "--batch: 'x' is not an integer" -- "$GRADMAP" bench --model "$model" --batch 1,x
expect 2 "unknown method 'gradkam'" -- "$GRADMAP" bench --model "$model" --method gradkam
expect 2 "needs --arch ARCH or --model" -- "$GRADMAP" bench --iters 2
expect 2 "--device 'tpu'" -- "$GRADMAP" bench --model "$model" --device tpu
check "bench --help lists every option" bash -c \
  "h=\$('$GRADMAP' bench --help); for w in --arch --model --method --batch --device --precision --images --iters \
   --warmup --threads --seed --json --no-check --peak --profile 'default saliency,gradcam' 'default 8' 'default 5' 'default 1'; do
   grep -q -- \"\$w\" <<< \"\$h\" || { echo missing \$w; exit 1; }; done"
if ! "$GRADMAP" info --device cuda >/dev/null 2>&1; then
  expect 10 "--device cuda: " -- "$GRADMAP" bench --model "$model" --device cuda
fi

expect 0 "peaks on [0-9]+ threads" -- "$GRADMAP" bench --peak
check "--peak: one line with the conv fp32/bf16 and sgemm figures and oneDNN's implementation names" \
  jqtest '(.peak | (.conv3x3_fp32_gflops > 0) and (.conv3x3_fp32_impl | length > 0) and has("conv3x3_bf16_gflops")
          and (.conv3x3_bf16_impl | length > 0) and .sgemm_gflops > 0 and (.conv_shape | length > 0))
         and (.machine.cores > 0) and (.libs.onednn | length > 0) and .tool == "gradmap"' "$workdir/out"
finish
