#!/usr/bin/env bash
# Sets up (ITK build tree, module, command-line tool) and runs the demo: the originating notebook's
# phantom (three spheres of radius 50 in 128x512x512) convolved with a widefield PSF (Gibson-Lanni,
# 128x256x256) in SAME, VALID and FULL, on the GPU where there is one, else on the CPU. The tool
# prints where the time went (generate, convolve with the device and tiles, write).
#   scripts/demo.sh [OUTDIR] [extra CudaFFTConvolution options, e.g. --demo-scale 4]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$repo/demo-output}; shift || true
start=$(date +%s%N)
itk_dir=$("$repo/scripts/build-itk.sh" 5.2.1 | tail -1)
# The demo needs the tool alone, not the tests.
"$repo/scripts/build-module.sh" "$itk_dir" "$repo/build-demo" -DBUILD_TESTING=OFF >/dev/null
echo "demo: set up (ITK tree, module build) in $(( ($(date +%s%N) - start) / 1000000 )) ms"
"$repo/build-demo/bin/CudaFFTConvolution" --demo "$out" "$@"
