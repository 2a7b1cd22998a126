#!/usr/bin/env bash
# Configures and builds the module against an ITK build tree.
#   scripts/build-module.sh ITK_BUILD_DIR BUILD_DIR [cmake options...]
# Binaries and libraries stay in BUILD_DIR/bin and BUILD_DIR/lib (not the ITK tree's), so several
# builds (release, sanitizers) can share one ITK tree, and a build tree can travel as a whole.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
itk_dir=${1:?ITK build tree}; build=${2:?build directory}; shift 2
jobs=${CUDAFFT_JOBS:-$(nproc)}
# A module build writes into the ITK tree (bin/, lib/cmake): one build at a time.
exec 9>"$itk_dir/.cudafft-lock"; flock 9
cmake -G Ninja -S "$repo" -B "$build" -DITK_DIR="$itk_dir" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON \
  -DITK_USE_KWSTYLE=OFF -DITK_USE_CLANG_FORMAT=OFF -DITK_FORBID_DOWNLOADS=ON \
  -DCMAKE_RUNTIME_OUTPUT_DIRECTORY="$build/bin" -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$build/lib" \
  -DCMAKE_ARCHIVE_OUTPUT_DIRECTORY="$build/lib" "$@" > "$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
ninja -C "$build" -j "$jobs"
