#!/usr/bin/env bash
# test_cli_demo.sh — `gradmap predict` on the bundled demo model agrees with Keras: for every example
# image (weights/demo/images) and every held-out image (tests/fixtures/demo_heldout), the top-1 class
# equals the one Keras's model.predict gave (tests/fixtures/demo_heldout/keras_predictions.csv,
# written by scripts/make_demo.py with keras.utils.load_img), and the top-1 probability agrees within
# 1e-4 (float32 through 4 conv layers, BN folded: differences are ~1e-6; 1e-4 still catches any
# preprocessing or resizing slip, which moves probabilities by far more). Also checks the held-out
# accuracy against the true labels and `gradmap info` on the demo model.
source "$(dirname "$0")/cli_lib.sh"
cd "$GM_SOURCE_DIR" || exit 1
model=weights/demo/demo_cnn.h5
csv=tests/fixtures/demo_heldout/keras_predictions.csv

"$GRADMAP" predict "$model" weights/demo/images tests/fixtures/demo_heldout --json --top 1 > "$workdir/pred.json"
check "predict on the demo images exits 0" test $? -eq 0

# path -> class, prob from gradmap's JSON lines
sed -E 's/^\{"path":"([^"]*)".*"top":\[\{"class":([0-9]+),"name":"[^"]*","prob":([^,]*),.*/\1,\2,\3/' \
  "$workdir/pred.json" > "$workdir/gradmap.csv"
awk -F, 'NR==FNR { cls[$1]=$2; prob[$1]=$3; next }
         FNR==1 { next }
         { n++; if (!($1 in cls)) { missing++; print "  missing from gradmap output: " $1; next }
           if (cls[$1] != $2) { wrong++; print "  top-1 differs: " $1 " gradmap " cls[$1] " keras " $2 }
           d = prob[$1] - $4; if (d < 0) d = -d; if (d > maxd) maxd = d
           if (d > 1e-4) { far++; print "  probability differs: " $1 " gradmap " prob[$1] " keras " $4 } }
         END { printf "  compared %d images with Keras: %d top-1 differences, %d missing, max |dprob| %.2g\n", n, wrong, missing, maxd
               exit (n >= 140 && wrong == 0 && missing == 0 && far == 0) ? 0 : 1 }' \
  "$workdir/gradmap.csv" "$csv"
check "top-1 and probability agree with Keras on every demo and held-out image" test $? -eq 0

# Held-out accuracy against the true labels (the README states it).
names=($(cat weights/demo/classes.txt))
correct=0 total=0
while IFS=, read -r path label; do
  [ "$path" = path ] && continue
  total=$((total + 1))
  idx=$(grep -F "tests/fixtures/demo_heldout/$path," "$workdir/gradmap.csv" | cut -d, -f2)
  [ -n "$idx" ] && [ "${names[$idx]}" = "$label" ] && correct=$((correct + 1))
done < tests/fixtures/demo_heldout/labels.csv
echo "  held-out accuracy: $correct / $total"
check "held-out accuracy >= 90% ($correct/$total)" test $((correct * 10)) -ge $((total * 9))

"$GRADMAP" info "$model" > "$workdir/info.txt"
check "info names the demo's default target layer" grep -q "default target layer: last_conv_relu" "$workdir/info.txt"
check "info reports the class names from the file" grep -q "classes: 6 (named)" "$workdir/info.txt"
finish
