#!/usr/bin/env bash
# test_cli_bad_models.sh — every bad model file gives its clear message (naming the file and, where
# there is one, the layer and both shapes) and its exit code, from `info` and `predict`, never a crash.
# Fixtures: tests/fixtures/conformance/bad/ (made by tests/fixtures/make_fixtures.py).
source "$(dirname "$0")/cli_lib.sh"
bad="$GM_SOURCE_DIR/tests/fixtures/conformance/bad"
img="$GM_SOURCE_DIR/tests/fixtures/images/rgb_37x23.png"

for cmd in info predict; do
  extra=()
  [ "$cmd" = predict ] && extra=("$img")
  expect 3 "missing\.h5: cannot open" -- "$GRADMAP" $cmd "$workdir/missing.h5" "${extra[@]}"
  expect 4 "not_hdf5\.h5: not an HDF5 file" -- "$GRADMAP" $cmd "$bad/not_hdf5.h5" "${extra[@]}"
  expect 4 "truncated\.h5: .*(truncated|corrupt)" -- "$GRADMAP" $cmd "$bad/truncated.h5" "${extra[@]}"
  expect 5 "unknown_layer\.h5: .*layer 'mystery_norm' has class [A-Za-z0-9]+, which gradmap does not support" -- \
    "$GRADMAP" $cmd "$bad/unknown_layer.h5" "${extra[@]}"
  expect 4 "missing_weight\.h5: layer '[a-z0-9_]+' \(Conv2D\): (missing kernel \([0-9,]+\)|weight '.*' is listed but its dataset is missing)" -- \
    "$GRADMAP" $cmd "$bad/missing_weight.h5" "${extra[@]}"
  expect 6 "shape_mismatch\.h5: layer '[a-z0-9_]+' \(Conv2D\): kernel shape \([0-9,]+\) in file, \([0-9,]+\) expected" -- \
    "$GRADMAP" $cmd "$bad/shape_mismatch.h5" "${extra[@]}"
  expect 4 "extra_weight\.h5: layer '[a-z0-9_]+' \(Conv2D\): unexpected weight" -- \
    "$GRADMAP" $cmd "$bad/extra_weight.h5" "${extra[@]}"
  expect 2 "no_config\.h5: weights-only file .*--arch" -- "$GRADMAP" $cmd "$bad/no_config.h5" "${extra[@]}"
  expect 4 "bad_json\.h5: model_config is not valid JSON" -- "$GRADMAP" $cmd "$bad/bad_json.h5" "${extra[@]}"
  expect 7 "unknown architecture|vgg16" -- "$GRADMAP" $cmd "$bad/no_config.h5" --arch alexnet "${extra[@]}"
  expect 6 "no_config\.h5: layer .block1_conv1. \(Conv2D\): kernel shape \(3,3,3,8\) in file, \(3,3,3,64\) expected" -- \
    "$GRADMAP" $cmd "$bad/no_config.h5" --arch vgg16 "${extra[@]}"
  expect 5 "dynamic_input\.h5: layer 'input_layer': input shape has unknown \(None\) dimensions" -- \
    "$GRADMAP" $cmd "$bad/dynamic_input.h5" "${extra[@]}"
done
expect 5 "grey_input\.h5: the model takes 1-channel input; gradmap feeds RGB images" -- \
  "$GRADMAP" predict "$bad/grey_input.h5" "$img"
finish
