#!/usr/bin/env bash
# Builds the module's host code and tests with AddressSanitizer, UndefinedBehaviorSanitizer and
# LeakSanitizer against the cached ITK 5.2.1 tree and runs the CPU tests (CI has no GPU; the GPU
# code is checked by compute-sanitizer on the GPU machine: scripts/gpu-sanitizers.sh).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
itk_dir=$("$repo/scripts/build-itk.sh" 5.2.1 | tail -1)
build="$repo/build-sanitizers"
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
"$repo/scripts/build-module.sh" "$itk_dir" "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$repo/test/sanitizers/ubsan.supp
export LSAN_OPTIONS=suppressions=$repo/test/sanitizers/lsan.supp:print_suppressions=0
cd "$build" && ctest -L cpu --output-on-failure
