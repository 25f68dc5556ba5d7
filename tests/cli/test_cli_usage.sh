#!/usr/bin/env bash
# test_cli_usage.sh — help texts, usage errors and flag validation of the gradmap CLI.
source "$(dirname "$0")/cli_lib.sh"
model="$GM_SOURCE_DIR/weights/demo/demo_cnn.h5"
img="$(ls "$GM_SOURCE_DIR"/weights/demo/images/*.png | head -1)"

check "gradmap --help exits 0 and lists commands" bash -c "'$GRADMAP' --help | grep -q 'predict MODEL INPUT'"
check "gradmap predict --help documents --top and exit status" bash -c "'$GRADMAP' predict --help | grep -q -- '--top K' && '$GRADMAP' predict --help | grep -q 'Exit status'"
check "gradmap info --help documents --arch" bash -c "'$GRADMAP' info --help | grep -q -- '--arch ARCH'"
check "gradmap --version" bash -c "'$GRADMAP' --version | grep -Eq '^gradmap [0-9]+\.[0-9]+'"
expect 2 "usage: gradmap" -- "$GRADMAP"
expect 2 "unknown command 'frobnicate'" -- "$GRADMAP" frobnicate
expect 2 "needs MODEL and at least one INPUT" -- "$GRADMAP" predict "$model"
expect 2 "unknown option or missing value: --bogus" -- "$GRADMAP" predict "$model" "$img" --bogus
expect 2 "--top: 'zero' is not an integer" -- "$GRADMAP" predict "$model" "$img" --top zero
expect 2 "--batch: '0' is not an integer in 1\.\." -- "$GRADMAP" predict "$model" "$img" --batch 0
expect 2 "preprocess|caffe" -- "$GRADMAP" predict "$model" "$img" --preprocess imagenet
expect 2 "resize|nearest" -- "$GRADMAP" predict "$model" "$img" --resize cubic
expect 10 "--device cuda: " -- "$GRADMAP" predict "$model" "$img" --device cuda
expect 2 "--device 'tpu'" -- "$GRADMAP" predict "$model" "$img" --device tpu
expect 3 "nope: no such file or folder" -- "$GRADMAP" predict "$model" "$workdir/nope"
mkdir -p "$workdir/empty"
expect 2 "no images found" -- "$GRADMAP" predict "$model" "$workdir/empty"
expect 2 "unknown option or missing value: --bogus" -- "$GRADMAP" info "$model" --bogus
finish
