#!/usr/bin/env bash
# test_cli_bad_images.sh — unreadable images never stop or lose the rest of the run: a truncated PNG,
# a text file named .jpg, an empty file and a missing path inside a list file are each reported with
# their path on stderr (and as an "error" record with --json) while every good image is classified;
# the exit status is 1. With --strict the run stops at the first bad image with its own exit code.
source "$(dirname "$0")/cli_lib.sh"
model="$GM_SOURCE_DIR/tests/fixtures/conformance/vgg_like_k3.h5"
imgs="$GM_SOURCE_DIR/tests/fixtures/images"
good1="$imgs/rgb_37x23.png" good2="$imgs/grey_L.png" good3="$imgs/photo_baseline.jpg"

expect 1 "skipped: .*truncated\.png" -- "$GRADMAP" predict "$model" "$good1" "$imgs/truncated.png" "$good2" --batch 2
check "the good images of a batch with a bad one are classified" \
  bash -c "[ \$(grep -c '^$imgs/\(rgb_37x23\|grey_L\)\.png  1\. ' '$workdir/out') -eq 2 ]"

expect 1 "not_an_image\.jpg: not a decodable image" -- "$GRADMAP" predict "$model" "$imgs/not_an_image.jpg" "$good1"
expect 1 "empty\.png" -- "$GRADMAP" predict "$model" "$imgs/empty.png" "$good3"

printf '%s\n' "$good1" "# a comment" "" "$workdir/does_not_exist.png" "$good2" > "$workdir/list.txt"
expect 1 "does_not_exist\.png: cannot open" -- "$GRADMAP" predict "$model" "$workdir/list.txt" --json
check "--json writes an error record for the missing image and results for the others" \
  bash -c "grep -q '\"path\":\"$workdir/does_not_exist.png\",\"error\":\"' '$workdir/out' && [ \$(grep -c '\"top\":\[' '$workdir/out') -eq 2 ]"

expect 4 "truncated\.png" -- "$GRADMAP" predict "$model" "$imgs/truncated.png" "$good1" --strict
check "--strict prints no result after the failure" bash -c "! grep -q rgb_37x23 '$workdir/out'"
finish
