#!/usr/bin/env bash
# test_cli_explain.sh — `gradmap explain` end to end on the demo model: outputs for every image and
# method, a corrupt image mid-batch recorded while the rest is written, --strict, --layer with an
# unknown name (lists the candidates), an existing results folder refused without --resume, and a
# run killed with SIGKILL mid-way then resumed, compared with an uninterrupted run.
source "$(dirname "$0")/cli_lib.sh"
cd "$GM_SOURCE_DIR" || exit 1
model=weights/demo/demo_cnn.h5
imgs=weights/demo/images

check "explain --help documents every method, default and output" bash -c \
  "h=\$('$GRADMAP' explain --help); for w in saliency inputxgrad gradcam cam gradcam++ xgradcam hirescam layercam guidedbp guidedgradcam smoothgrad intgrad 'default gradcam' 'default 25' 'default 0.15' 'default 32' 'default 0.4' results.h5 summary.csv png; do grep -q -- \"\$w\" <<< \"\$h\" || { echo missing \$w; exit 1; }; done"

out="$workdir/all"
expect 0 "24 images explained, 0 could not be read" -- "$GRADMAP" explain "$model" "$imgs" \
  --method saliency,inputxgrad,gradcam,cam,gradcam++,xgradcam,hirescam,layercam,guidedbp,guidedgradcam,smoothgrad,intgrad \
  --samples 4 --steps 4 --out "$out"
check "summary.csv has a header and 24 rows" test "$(wc -l < "$out/summary.csv")" -eq 25
check "results.h5 written" test -s "$out/results.h5"
check "a heatmap and an overlay per image and method (24 x 12 x 2 PNGs)" test "$(ls "$out/png" | wc -l)" -eq 576
check "overlay PNGs have the original size of the 160x120 example" bash -c \
  "head -c 24 '$out/png/'*_triangle_3_gradcam_overlay.png | tail -c 8 | od -An -tu1 | tr -s ' ' | grep -q '0 0 0 160 0 0 0 120'"

cp weights/demo/images/circle_0.png "$workdir/a.png"
head -c 300 weights/demo/images/circle_1.png > "$workdir/b_truncated.png"
cp weights/demo/images/ring_0.png "$workdir/c.png"
out="$workdir/bad"
expect 1 "skipped: .*b_truncated\.png" -- "$GRADMAP" explain "$model" "$workdir/a.png" "$workdir/b_truncated.png" \
  "$workdir/c.png" --out "$out" --batch 3
check "the bad image is recorded as an error row, the others as ok" bash -c \
  "grep -q 'b_truncated.png,0,0,error' '$out/summary.csv' && [ \$(grep -c ',ok,' '$out/summary.csv') -eq 2 ]"
check "pictures of the good images of that batch are written" bash -c "ls '$out/png' | grep -q c_gradcam_overlay"
expect 4 "b_truncated\.png" -- "$GRADMAP" explain "$model" "$workdir/b_truncated.png" "$workdir/c.png" \
  --out "$workdir/strict" --strict

expect 7 "--layer no_such_layer: no such spatial layer .*candidates: .*last_conv_relu" -- \
  "$GRADMAP" explain "$model" "$workdir/a.png" --layer no_such_layer --out "$workdir/layer"
expect 2 "results" -- "$GRADMAP" explain "$model" "$workdir/a.png" --out "$workdir/all"
expect 2 "unknown method 'gradkam'" -- "$GRADMAP" explain "$model" "$workdir/a.png" --method gradkam --out "$workdir/m"
expect 2 "needs --out" -- "$GRADMAP" explain "$model" "$workdir/a.png"
expect 7 "--class 'zebra' is not a class name" -- "$GRADMAP" explain "$model" "$workdir/a.png" --class zebra \
  --out "$workdir/cls"

# Kill and resume: 96 images, slow enough (SmoothGrad) to be killed mid-way.
mkdir -p "$workdir/many"
for k in 1 2 3 4; do for f in "$imgs"/*.png; do cp "$f" "$workdir/many/$(basename "$f" .png)_$k.png"; done; done
args=(--method gradcam,smoothgrad --samples 24 --batch 4 --quiet)
"$GRADMAP" explain "$model" "$workdir/many" "${args[@]}" --out "$workdir/whole"
check "uninterrupted reference run succeeds" test "$(wc -l < "$workdir/whole/summary.csv")" -eq 97
"$GRADMAP" explain "$model" "$workdir/many" "${args[@]}" --out "$workdir/killed" &
pid=$!
for _ in $(seq 1 200); do
  [ -f "$workdir/killed/summary.csv" ] && [ "$(wc -l < "$workdir/killed/summary.csv")" -ge 13 ] && break
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
rows_at_kill=$(($(wc -l < "$workdir/killed/summary.csv") - 1))
check "the run was killed mid-way ($rows_at_kill of 96 rows written)" test "$rows_at_kill" -gt 0 -a "$rows_at_kill" -lt 96
expect 0 "resuming: [0-9]+ of 96 images already" -- "$GRADMAP" explain "$model" "$workdir/many" \
  --method gradcam,smoothgrad --samples 24 --batch 4 --out "$workdir/killed" --resume
check "after resume summary.csv equals the uninterrupted run's (as sets of rows)" bash -c \
  "diff <(sort '$workdir/whole/summary.csv') <(sort '$workdir/killed/summary.csv')"
check "after resume every picture equals the uninterrupted run's" bash -c \
  "cd '$workdir/whole/png' && for f in *; do g=\$(ls '$workdir/killed/png' | grep -F \"_\${f#*_}\" | head -1); cmp -s \"\$f\" '$workdir/killed/png/'\"\$g\" || { echo differs: \$f; exit 1; }; done"
finish
