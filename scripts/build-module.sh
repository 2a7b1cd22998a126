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
options=(-DITK_DIR="$itk_dir" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON
         -DITK_USE_KWSTYLE=OFF -DITK_USE_CLANG_FORMAT=OFF -DITK_FORBID_DOWNLOADS=ON)
if grep -q '^ITK_WRAP_PYTHON:BOOL=ON' "$itk_dir/CMakeCache.txt"; then
  # Wrapping: the module's Python files must land in the ITK tree's Python package, and the
  # external module's configure does not inherit the system swig/castxml choices.
  options+=(-DPython3_EXECUTABLE=/usr/bin/python3 -DITK_USE_PYTHON_LIMITED_API=OFF
            -DITK_USE_SYSTEM_SWIG=ON -DSWIG_EXECUTABLE=/usr/bin/swig
            -DITK_USE_SYSTEM_CASTXML=ON -DCASTXML_EXECUTABLE=/usr/bin/castxml)
else
  options+=(-DCMAKE_RUNTIME_OUTPUT_DIRECTORY="$build/bin" -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$build/lib"
            -DCMAKE_ARCHIVE_OUTPUT_DIRECTORY="$build/lib")
fi
cmake -G Ninja -S "$repo" -B "$build" "${options[@]}" "$@" > "$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
ninja -C "$build" -j "$jobs"
