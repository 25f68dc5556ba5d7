#!/usr/bin/env bash
# test_cli_audit.sh — `gradmap audit` end to end on the bundled demo audit set (weights/demo/audit:
# class folders, object masks, truth.csv saying which star images carry the planted corner
# watermark; weights/demo/README.md). The demo model learned that watermark as a shortcut for
# `star`, so the audit must:
#   - flag `star` and no other class (classes.csv);
#   - show that the watermark region carries most of the Grad-CAM mass on star's watermarked images
#     (mean share > 0.5 from images.csv) and little on clean images of every class (< 0.1);
#   - let SpRAy separate star's watermarked from its clean images: adjusted Rand index >= 0.9
#     between the cluster labels and truth.csv's watermark column;
#   - write a report that a strict XML parser accepts and whose every picture exists;
#   - give the same CSVs on a second run with the same seed.
# Also --target pred and --boxes. Then bad input on a copy of the data (an undecodable image, a class that is not in the model, an
# empty class folder, a missing mask, a CSV with a box outside its image and a malformed row): each
# is reported per item or per class, the audit completes with exit 1, and `star` is still flagged.
source "$(dirname "$0")/cli_lib.sh"
cd "$GM_SOURCE_DIR" || exit 1
model=weights/demo/demo_cnn.h5
data=weights/demo/audit
region="watermark=52,52,64,64"

command -v xmllint >/dev/null || { echo "FAIL xmllint (libxml2-utils) is a test dependency: scripts/install-deps"; exit 1; }

# field NAME FILE: the column number of NAME in a CSV header (names hold no commas).
field() { head -1 "$2" | tr ',' '\n' | grep -nx -- "$1" | cut -d: -f1; }

out="$workdir/audit"
expect 0 "1 of 6 classes flagged" -- "$GRADMAP" audit "$model" "$data/images" --masks "$data/masks" \
  --region "$region" --out "$out"
classes="$out/classes.csv" images="$out/images.csv"
cf=$(field flagged "$classes")
flagged=$(awk -F, -v f="$cf" 'NR > 1 && $f == 1 { print $1 }' "$classes" | tr '\n' ' ')
echo "  flagged: $flagged"
check "the audit flags star and only star" test "$flagged" = "star "
check "star heads classes.csv (most suspicious first)" test "$(sed -n 2p "$classes" | cut -d, -f1)" = star

# Watermark share per image, joined with the truth (path relative to the images folder).
wf=$(field watermark "$images") lf=$(field label "$images") kf=$(field cluster "$images")
awk -F, -v wf="$wf" -v lf="$lf" -v kf="$kf" -v root="$data/images/" '
  NR == FNR { if (FNR > 1) wm[$1] = $3; next }
  FNR == 1 { next }
  { p = $1; sub(".*" root, "", p); print p "," $lf "," wm[p] "," $wf "," $kf }' \
  "$data/truth.csv" "$images" > "$workdir/joined.csv"
read -r wm_mean clean_max n_wm <<<"$(awk -F, '
  $2 == "star" && $3 == 1 { s += $4; n++ }
  $3 == 0 && $4 > m { m = $4 }
  END { printf "%.4f %.4f %d\n", n ? s / n : 0, m, n }' "$workdir/joined.csv")"
echo "  watermark share: mean $wm_mean on $n_wm watermarked star images; at most $clean_max on clean images"
check "the watermark region carries most of the map on watermarked stars" awk "BEGIN { exit !($wm_mean > 0.5 && $n_wm >= 10) }"
check "clean images put little mass on the watermark region" awk "BEGIN { exit !($clean_max < 0.1) }"

# Adjusted Rand index of star's SpRAy clusters against the watermark truth.
ari=$(awk -F, '$2 == "star" { n++; t[$3]++; c[$5]++; j[$3 "," $5]++ }
  function C2(x) { return x * (x - 1) / 2 }
  END { for (k in j) s += C2(j[k]); for (k in t) a += C2(t[k]); for (k in c) b += C2(c[k])
        e = a * b / C2(n); m = (a + b) / 2
        printf "%.4f\n", (m == e) ? 0 : (s - e) / (m - e) }' "$workdir/joined.csv")
echo "  SpRAy clusters vs watermark truth on star: adjusted Rand index $ari"
check "SpRAy separates watermarked from clean star images (ARI >= 0.9)" awk "BEGIN { exit !($ari >= 0.9) }"

# The report: strict XML, no scripts or remote references, every picture present.
check "report.html is well-formed (xmllint)" xmllint --noout --nonet "$out/report.html"
check "report.html has no script and no remote reference" \
  bash -c "! grep -Eiq '<script|(src|href)=\"(https?:|//)' '$out/report.html'"
missing=0 pictures=0
while read -r ref; do
  pictures=$((pictures + 1))
  [ -f "$out/$ref" ] || { missing=$((missing + 1)); echo "  missing: $ref"; }
done < <(grep -oE 'src="[^"]+"' "$out/report.html" | sed -E 's/src="([^"]+)"/\1/')
echo "  report pictures: $pictures, missing $missing"
check "every picture the report names exists" test "$missing" -eq 0 -a "$pictures" -gt 20
for svg in "$out"/report/*.svg; do xmllint --noout --nonet "$svg" || missing=$((missing + 1)); done
check "every spectrum plot is well-formed SVG" test "$missing" -eq 0
check "audit.h5 is an HDF5 file" bash -c "head -c 8 '$out/audit.h5' | od -c | grep -q 'H   D   F'"

# Reproducible: same seed, same numbers and clusters.
check "a second run with --quiet and another batch size exits 0" "$GRADMAP" audit "$model" "$data/images" \
  --masks "$data/masks" --region "$region" --out "$workdir/again" --quiet --batch 7
expect 2 "already holds an audit" -- "$GRADMAP" audit "$model" "$data/images" --out "$workdir/again"
check "a second run (another batch size) gives identical classes.csv" cmp "$classes" "$workdir/again/classes.csv"
check "... and identical images.csv" cmp <(cut -d, -f2- "$images") <(cut -d, -f2- "$workdir/again/images.csv")

# Bad input, reported per item; the audit completes (exit 1: some images failed).
bad="$workdir/bad"
cp -r "$data/images" "$bad"
cp -r "$data/masks" "$workdir/badmasks"
printf 'not a png' > "$bad/star/broken.png"
mkdir -p "$bad/zebra" "$bad/empty"
cp "$data/images/circle/circle_000.png" "$bad/zebra/z.png"
rm "$workdir/badmasks/square/square_000.png"
expect 1 "skipped: .*broken.png" -- "$GRADMAP" audit "$model" "$bad" --masks "$workdir/badmasks" \
  --region "$region" --out "$workdir/badout"
bi="$workdir/badout/images.csv" bc="$workdir/badout/classes.csv"
ef=$(field error "$bi") nf=$(field note "$bi") sf=$(field status "$bi")
check "the undecodable image is an error row" \
  awk -F, -v s="$sf" '/broken.png/ && $s == "error" { f = 1 } END { exit !f }' "$bi"
check "the image of a class not in the model is an error row naming the label" \
  bash -c "grep 'zebra/z.png' '$bi' | grep -q \"label 'zebra' is not a class of the model\""
check "the image without a mask carries a note" bash -c "grep 'square/square_000.png' '$bi' | grep -q 'no mask at'"
check "the empty class is listed with an error" bash -c "grep -q '^empty,.*no images' '$bc'"
check "the zebra class is listed with an error" bash -c "grep -q '^zebra,.*not a class of the model' '$bc'"
check "star is still flagged" test "$(awk -F, -v f="$cf" 'NR > 1 && $f == 1 { print $1 }' "$bc")" = star
check "the report of the bad run is well-formed too" xmllint --noout --nonet "$workdir/badout/report.html"

# CSV datasets: boxes on several rows, a box outside its image, a malformed row, a label index.
cat > "$workdir/list.csv" <<EOF
path,label,x0,y0,x1,y1
$GM_SOURCE_DIR/$data/images/circle/circle_000.png,circle,0,0,32,32
$GM_SOURCE_DIR/$data/images/circle/circle_000.png,circle,32,32,64,64
$GM_SOURCE_DIR/$data/images/circle/circle_001.png,0,0,0,64,64
$GM_SOURCE_DIR/$data/images/ring/ring_000.png,ring,60,60,80,80
$GM_SOURCE_DIR/$data/images/ring/ring_001.png,ring,1,2,three,4
EOF
expect 1 "outside the 64x64 image" -- "$GRADMAP" audit "$model" "$workdir/list.csv" --out "$workdir/csvout"
ci="$workdir/csvout/images.csv"
check "rows naming the same image are one image" test "$(grep -c 'circle_000.png' "$ci")" -eq 1
check "a full-image box gives in-object mass 1" \
  awk -F, -v f="$(field inside "$ci")" '/circle_001.png/ && $f == 1 { ok = 1 } END { exit !ok }' "$ci"
check "the malformed box is an error row" bash -c "grep 'ring_001.png' '$ci' | grep -q 'not four integers'"

# --target pred explains the prediction; --boxes in folder mode (paths relative to DATA; two rows, one image).
printf 'path,x0,y0,x1,y1\nstar/star_000.png,0,0,64,32\nstar/star_000.png,0,32,64,64\ncircle/circle_000.png,0,0,1,1\nnope.png,0,0,1,1\n' \
  > "$workdir/boxes.csv"
expect 0 "not an image of the dataset; ignored" -- "$GRADMAP" audit "$model" "$data/images" --boxes "$workdir/boxes.csv" \
  --target pred --out "$workdir/pred"
pi="$workdir/pred/images.csv"
check "--target pred: every target is the prediction" \
  awk -F, -v t="$(field target "$pi")" -v p="$(field predicted "$pi")" 'NR > 1 && $t != $p { bad++ } END { exit bad }' "$pi"
check "two boxes covering star_000 give in-object mass 1" \
  awk -F, -v f="$(field inside "$pi")" '/star_000.png/ && $f == 1 { ok = 1 } END { exit !ok }' "$pi"
check "images without a box have no in-object mass" \
  awk -F, -v f="$(field inside "$pi")" '/ring_000.png/ && $f == "" { ok = 1 } END { exit !ok }' "$pi"

# Whole-run errors: clear message and non-zero exit, nothing half-written.
expect 3 "no such folder or file" -- "$GRADMAP" audit "$model" "$workdir/nothing" --out "$workdir/x1"
expect 2 "region 'w=1,2,3': 3 coordinates" -- "$GRADMAP" audit "$model" "$data/images" --region "w=1,2,3" --out "$workdir/x2"
expect 2 "exactly one method" -- "$GRADMAP" audit "$model" "$data/images" --method gradcam,cam --out "$workdir/x3"
expect 3 "--masks $workdir/nomasks: no such folder" -- "$GRADMAP" audit "$model" "$data/images" --masks "$workdir/nomasks" --out "$workdir/x4"
expect 2 "must be a folder of class folders or a .csv file" -- "$GRADMAP" audit "$model" "$model" --out "$workdir/x5"
mkdir -p "$workdir/noclasses" && printf 'path,label\n' > "$workdir/empty.csv"
expect 7 "no class folders" -- "$GRADMAP" audit "$model" "$workdir/noclasses" --out "$workdir/x6"
expect 7 "no class rows" -- "$GRADMAP" audit "$model" "$workdir/empty.csv" --out "$workdir/x7"
expect 2 "--target: 'both' \(label or pred\)" -- "$GRADMAP" audit "$model" "$data/images" --target both --out "$workdir/x8"
expect 2 "audit: --batch: .0. is not an integer in 1..65536" -- "$GRADMAP" audit "$model" "$data/images" --batch 0 --out "$workdir/x10"
expect 2 "unknown option: --frobnicate" -- "$GRADMAP" audit "$model" "$data/images" --frobnicate 1 --out "$workdir/x9"
expect 2 "audit needs --out DIR" -- "$GRADMAP" audit "$model" "$data/images"
check "no output folder was left by the refused runs" bash -c "! ls -d '$workdir'/x[1-9]* 2>/dev/null | grep -q ."
expect 0 "usage: gradmap audit" -- bash -c "'$GRADMAP' audit --help 1>&2"
finish
